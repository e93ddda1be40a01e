"""`--help` of the long-running commands shows the defaults a newcomer needs."""

from __future__ import annotations

import pytest

from cs_mcp.cli import build_parser
from cs_mcp.commands._common import default_sandbox_db


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """No wrapping: argparse would break a long path at its hyphens."""
    monkeypatch.setenv("COLUMNS", "1000")


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_serve_help_shows_transport_host_port_and_sandbox_file(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of("serve", capsys)
    for default in ("(default: stdio)", "(default: 127.0.0.1)", "(default: 8765)", str(default_sandbox_db())):
        assert default in text


def test_sandbox_help_shows_host_port_and_file(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of("sandbox", capsys)
    for default in ("(default: 127.0.0.1)", "(default: 8766)", str(default_sandbox_db())):
        assert default in text
