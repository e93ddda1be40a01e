"""`cs-mcp call`: the same persistent sandbox as `serve`, a confirmation round trip, plain errors."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cs_mcp.cli import build_parser, main
from cs_mcp.commands import call
from tests.commands._process import DEADLINE_SECONDS, REPO, clean_env, cs_mcp, read_rest, read_until, stop

AUTHOR = {"content_type": "author", "fields": {"title": "A short-lived author of cs-mcp call"}, "locale": "en-us"}


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No credentials (so the sandbox), state and data under tmp_path."""
    for name in list(os.environ):
        if name.startswith(("CONTENTSTACK_", "CS_MCP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def cs_call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any] | None, str]:
    """Runs `cs-mcp call ARGV` in this process; answers the status, the printed JSON and stderr."""
    status = call.run(build_parser().parse_args(["call", *argv]), stdin=io.StringIO(""))
    out, err = capsys.readouterr()
    return status, (json.loads(out) if out.strip() else None), err


def test_an_entry_created_by_one_call_is_there_for_the_next(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    status, created, _ = cs_call(capsys, "create_entry", "--role", "editor", "--args", json.dumps(AUTHOR))
    assert status == 0
    assert created is not None
    uid = created["entry"]["uid"]
    status, found, _ = cs_call(capsys, "get_entry", "--args", json.dumps({"content_type": "author", "uid": uid}))
    assert status == 0
    assert found is not None
    assert found["entry"]["uid"] == uid
    assert (home / "data" / "cs-mcp" / "sandbox.sqlite3").exists()


def test_fresh_uses_a_throwaway_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    status, created, _ = cs_call(capsys, "create_entry", "--fresh", "--role", "editor", "--args", json.dumps(AUTHOR))
    assert status == 0
    assert created is not None
    status, _, _ = cs_call(
        capsys, "get_entry", "--args", json.dumps({"content_type": "author", "uid": created["entry"]["uid"]})
    )
    assert status == 1


def test_a_confirmation_token_printed_by_one_call_confirms_the_next_once(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    _, created, _ = cs_call(capsys, "create_entry", "--role", "editor", "--args", json.dumps(AUTHOR))
    assert created is not None
    target = {"content_type": "author", "uid": created["entry"]["uid"]}

    status, asked, err = cs_call(capsys, "delete_entry", "--role", "editor", "--args", json.dumps(target))
    assert status == 0
    assert asked is not None
    assert asked["written"] is False
    assert "--confirm" in err
    confirmed = {**target, "confirmation_token": asked["confirmation"]["confirmation_token"]}

    status, deleted, _ = cs_call(capsys, "delete_entry", "--role", "editor", "--args", json.dumps(confirmed))
    assert status == 0
    assert deleted is not None
    assert deleted["written"] is True

    status, _, err = cs_call(capsys, "delete_entry", "--role", "editor", "--args", json.dumps(confirmed))
    assert status == 1
    key = home / "state" / "cs-mcp" / "confirmation.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_confirm_carries_out_a_confirmed_write_in_one_call(capsys: pytest.CaptureFixture[str]) -> None:
    _, created, _ = cs_call(capsys, "create_entry", "--role", "editor", "--args", json.dumps(AUTHOR))
    assert created is not None
    target = {"content_type": "author", "uid": created["entry"]["uid"]}
    status, deleted, _ = cs_call(capsys, "delete_entry", "--role", "editor", "--confirm", "--args", json.dumps(target))
    assert status == 0
    assert deleted is not None
    assert deleted["written"] is True


def test_a_tool_typo_gets_the_nearest_name(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cs_call(capsys, "descrbe_stack")
    assert status == 2
    assert "'describe_stack'" in err


def test_a_tool_the_role_cannot_use_names_the_role_and_suggests_one(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cs_call(capsys, "delete_entry", "--args", "{}")
    assert status == 2
    assert "'viewer'" in err
    assert "--role editor" in err


def test_a_failed_call_names_the_role_and_role_option(capsys: pytest.CaptureFixture[str]) -> None:
    missing = {"content_type": "author", "uid": "blt_no_such_entry"}
    status, _, err = cs_call(capsys, "get_entry", "--args", json.dumps(missing))
    assert status == 1
    assert "'viewer'" in err
    assert "--role" in err


def test_a_closed_stdout_ends_quietly(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def closed_pipe(*_args: object, **_kwargs: object) -> None:
        raise BrokenPipeError

    monkeypatch.setattr(call, "_print_result", closed_pipe)
    status = main(["call", "describe_stack", "--fresh"])
    assert status == 1
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.subprocess
def test_at_a_terminal_call_asks_and_a_yes_carries_out_the_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, created, _ = cs_call(capsys, "create_entry", "--role", "editor", "--args", json.dumps(AUTHOR))
    assert created is not None
    target = json.dumps({"content_type": "author", "uid": created["entry"]["uid"]})
    main_fd, child = os.openpty()
    process = subprocess.Popen(
        cs_mcp("call", "delete_entry", "--role", "editor", "--args", target),
        stdin=child,
        stdout=child,
        stderr=child,
        env=clean_env(tmp_path),
        cwd=REPO,
    )
    os.close(child)
    seen = bytearray()
    try:
        read_until(main_fd, "[y/N]", seen)
        os.write(main_fd, b"y\n")
        status = process.wait(timeout=DEADLINE_SECONDS)
        text = read_rest(main_fd, seen)
    finally:
        stop(process)
        os.close(main_fd)
    assert status == 0
    assert '"written": true' in text


def test_a_call_reaches_its_tool_whatever_toolsets_the_server_would_list(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CS_MCP_TOOLSETS", "dynamic")
    status, described, _ = cs_call(capsys, "describe_stack", "--fresh")
    assert status == 0
    assert described is not None
