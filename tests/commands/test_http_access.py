"""Who may use `serve --transport http` without principals in the policy: the local token."""

from __future__ import annotations

from pathlib import Path

import pytest

from cs_mcp.commands._common import CommandError
from cs_mcp.commands._http_access import check_host, is_loopback, local_token, with_local_principal
from cs_mcp.guard import builtin_policy
from cs_mcp.http_auth import principal_for_token


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 - a name to classify, not a bind
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts_are_recognised(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_public_host_is_refused_only_without_principals() -> None:
    with pytest.raises(CommandError):
        check_host(builtin_policy(), "0.0.0.0")  # noqa: S104 - refused, never bound
    check_host(builtin_policy(), "127.0.0.1")


def test_the_token_comes_from_the_file_then_the_variable_then_is_generated(tmp_path: Path) -> None:
    file = tmp_path / "token"
    file.write_text("from-the-file-0123456789\n")
    assert local_token(file, {"CS_MCP_TOKEN": "from-the-variable-0123"}).token == "from-the-file-0123456789"
    assert local_token(None, {"CS_MCP_TOKEN": "from-the-variable-0123"}).source == "environment"
    generated = [local_token(None, {}) for _ in range(2)]
    assert generated[0].source == "generated"
    assert generated[0].token != generated[1].token


@pytest.mark.parametrize("text", ["", "short", "two words but long enough"])
def test_an_empty_short_or_spaced_token_is_refused(tmp_path: Path, text: str) -> None:
    file = tmp_path / "token"
    file.write_text(text)
    with pytest.raises(CommandError):
        local_token(file, {})


def test_a_missing_token_file_is_a_plain_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        local_token(tmp_path / "absent", {})


def test_the_local_token_opens_as_the_local_principal_with_the_role_and_nothing_else_does() -> None:
    token = local_token(None, {})
    policy = with_local_principal(builtin_policy(), token, "editor")
    principal = principal_for_token(policy, token.token)
    assert principal is not None
    assert (principal.name, principal.role) == ("local", "editor")
    assert principal_for_token(policy, token.token + "x") is None
    assert principal_for_token(policy, None) is None
