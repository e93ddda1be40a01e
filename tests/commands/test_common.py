"""What the commands share: the confirmation key of `serve` and `call`, placeholders left in the environment."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

import pytest

from cs_mcp.commands._common import CommandError, SharedConfirmations, load_settings
from cs_mcp.guard import ConfirmationError

ARGS = {"content_type": "author", "uid": "blt1"}


def test_a_token_issued_in_one_process_confirms_once_in_another(tmp_path: Path) -> None:
    issued = SharedConfirmations(tmp_path).issue("local", "delete_entry", ARGS)
    SharedConfirmations(tmp_path).verify(issued.token, "local", "delete_entry", ARGS)
    with pytest.raises(ConfirmationError) as refused:
        SharedConfirmations(tmp_path).verify(issued.token, "local", "delete_entry", ARGS)
    assert refused.value.reason == "replayed"


def test_a_spent_token_respelled_is_not_confirmed_again_by_another_process(tmp_path: Path) -> None:
    issued = SharedConfirmations(tmp_path).issue("local", "delete_entry", ARGS)
    SharedConfirmations(tmp_path).verify(issued.token, "local", "delete_entry", ARGS)
    payload, mac = issued.token.split(".")
    for respelled in (f"{payload}.{mac}!!!!", f"!!!!{payload}.{mac}"):
        with pytest.raises(ConfirmationError) as refused:
            SharedConfirmations(tmp_path).verify(respelled, "local", "delete_entry", ARGS)
        assert refused.value.reason in ("malformed", "replayed")


def test_the_key_file_is_private_and_a_readable_one_is_refused(tmp_path: Path) -> None:
    SharedConfirmations(tmp_path)
    key = tmp_path / SharedConfirmations.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    key.chmod(0o644)
    with pytest.raises(CommandError):
        SharedConfirmations(tmp_path)


def test_a_token_of_another_key_is_refused(tmp_path: Path) -> None:
    issued = SharedConfirmations(tmp_path / "a").issue("local", "delete_entry", ARGS)
    with pytest.raises(ConfirmationError) as refused:
        SharedConfirmations(tmp_path / "b").verify(issued.token, "local", "delete_entry", ARGS)
    assert refused.value.reason == "forged"


def test_a_placeholder_left_from_the_snippet_is_refused_with_its_variable() -> None:
    env = {"CONTENTSTACK_API_KEY": "<your stack API key>", "CONTENTSTACK_MANAGEMENT_TOKEN": "cs123"}
    with pytest.raises(CommandError) as refused:
        load_settings(argparse.Namespace(), env)
    assert "CONTENTSTACK_API_KEY" in str(refused.value)


def test_doctor_may_read_placeholders_as_unset() -> None:
    env = {"CONTENTSTACK_API_KEY": "<your stack API key>", "CONTENTSTACK_MANAGEMENT_TOKEN": "<your management token>"}
    settings = load_settings(argparse.Namespace(), env, allow_placeholders=True)
    assert not settings.has_credentials


def test_an_unwritable_state_directory_falls_back_to_a_key_of_this_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    authority = SharedConfirmations(blocked / "state")
    issued = authority.issue("local", "delete_entry", ARGS)
    authority.verify(issued.token, "local", "delete_entry", ARGS)
    with pytest.raises(ConfirmationError):
        authority.verify(issued.token, "local", "delete_entry", ARGS)
    assert "confirmation key" in capsys.readouterr().err


def test_an_unknown_toolset_in_the_option_or_the_variable_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(CommandError) as option:
        load_settings(argparse.Namespace(toolsets="entries,widgets"), {})
    with pytest.raises(CommandError) as variable:
        load_settings(argparse.Namespace(), {"CS_MCP_TOOLSETS": "widgets"})
    assert "--toolsets" in str(option.value)
    assert "CS_MCP_TOOLSETS" in str(variable.value)


def test_the_toolsets_option_wins_over_the_variable() -> None:
    settings = load_settings(argparse.Namespace(toolsets="releases"), {"CS_MCP_TOOLSETS": "entries"})
    assert settings.toolsets == "releases"
