"""`cs-mcp config`: each client's snippet has its real shape and never carries a secret."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from cs_mcp.cli import build_parser, main
from cs_mcp.commands import config as config_command
from cs_mcp.commands.config import CLIENTS, Client, SnippetError, installed_command, snippet

SECRETS = {
    "CONTENTSTACK_API_KEY": "blt_api_key_secret_1",
    "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_management_secret_2",
    "CONTENTSTACK_DELIVERY_TOKEN": "cs_delivery_secret_3",
    "CONTENTSTACK_AUTHTOKEN": "blt_authtoken_secret_4",
    "CONTENTSTACK_OAUTH_TOKEN": "oauth_secret_5",
    "CS_MCP_DELIVERY_TOKENS": "production=cs_delivery_secret_6",
}
ENV = {**SECRETS, "CONTENTSTACK_REGION": "EU", "CONTENTSTACK_BRANCH": "develop", "CS_MCP_ROLE": "editor"}


def server_entry(config: dict[str, Any], client: str) -> dict[str, Any]:
    key = "servers" if client == "vscode" else "mcpServers"
    assert list(config) == [key] or (client == "vscode" and set(config) == {"servers", "inputs"})
    return config[key]["cs-mcp"]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("http_url", [None, "https://cs-mcp.example.com/mcp"])
def test_no_snippet_contains_a_secret_value_set_in_the_environment(client: Client, http_url: str | None) -> None:
    text = json.dumps(snippet(client, http_url=http_url, env=ENV))
    for value in SECRETS.values():
        assert value not in text
    assert "secret" not in text


@pytest.mark.parametrize("client", ["claude", "cursor"])
def test_claude_and_cursor_stdio_snippets_start_cs_mcp_serve_with_placeholders(client: Client) -> None:
    entry = server_entry(snippet(client, env=ENV), client)
    assert entry["command"] == "cs-mcp"
    assert entry["args"] == ["serve"]
    env = entry["env"]
    assert env["CONTENTSTACK_API_KEY"] == "<your stack API key>"
    assert env["CONTENTSTACK_MANAGEMENT_TOKEN"].startswith("<")
    # Settings that are not secret come from the environment.
    assert env["CONTENTSTACK_REGION"] == "EU"
    assert env["CONTENTSTACK_BRANCH"] == "develop"
    assert env["CS_MCP_ROLE"] == "editor"


def test_vscode_stdio_snippet_asks_for_each_secret_through_inputs() -> None:
    config = snippet("vscode", env={})
    entry = server_entry(config, "vscode")
    assert entry["type"] == "stdio"
    assert entry["command"] == "cs-mcp"
    input_ids = {i["id"] for i in config["inputs"]}
    assert all(i["type"] == "promptString" and i["password"] is True for i in config["inputs"])
    assert entry["env"]["CONTENTSTACK_API_KEY"] == "${input:contentstack-api-key}"
    referenced = {v[len("${input:") : -1] for v in entry["env"].values() if v.startswith("${input:")}
    assert referenced == input_ids
    assert entry["env"]["CONTENTSTACK_REGION"] == "NA"


def test_http_snippets_point_at_the_url_with_a_bearer_placeholder() -> None:
    url = "http://127.0.0.1:8765/mcp"
    cursor = server_entry(snippet("cursor", http_url=url, env=ENV), "cursor")
    assert cursor == {"url": url, "headers": {"Authorization": "Bearer <your cs-mcp bearer token>"}}
    vscode_config = snippet("vscode", http_url=url, env=ENV)
    vscode = server_entry(vscode_config, "vscode")
    assert vscode["type"] == "http"
    assert vscode["url"] == url
    assert vscode["headers"]["Authorization"] == "Bearer ${input:cs-mcp-bearer}"
    assert [i["id"] for i in vscode_config["inputs"]] == ["cs-mcp-bearer"]
    claude = server_entry(snippet("claude", http_url=url, env=ENV), "claude")
    assert claude["command"] == "npx"
    assert url in claude["args"]
    assert claude["env"]["CS_MCP_AUTH_HEADER"] == "Bearer <your cs-mcp bearer token>"


def test_the_sandbox_snippet_needs_no_credentials() -> None:
    entry = server_entry(snippet("cursor", sandbox=True, env=ENV), "cursor")
    assert entry == {"command": "cs-mcp", "args": ["serve", "--sandbox"]}


@pytest.mark.parametrize("url", ["ftp://host/mcp", "127.0.0.1:8765/mcp", "not a url"])
def test_an_http_url_that_is_not_absolute_http_is_refused(url: str) -> None:
    with pytest.raises(SnippetError):
        snippet("cursor", http_url=url, env={})


def test_the_command_prints_json_to_stdout_and_the_note_to_stderr(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    status = config_command.run(build_parser().parse_args(["config", "claude"]))
    captured = capsys.readouterr()
    assert status == 0
    printed = json.loads(captured.out)
    assert "cs-mcp" in printed["mcpServers"]
    assert "claude_desktop_config.json" in captured.err
    for value in SECRETS.values():
        assert value not in captured.out + captured.err


def test_the_command_exits_two_on_a_bad_url(capsys: pytest.CaptureFixture[str]) -> None:
    status = config_command.run(build_parser().parse_args(["config", "vscode", "--http", "nope"]))
    assert status == 2
    assert capsys.readouterr().out == ""


def test_the_snippet_starts_the_installed_command_by_its_absolute_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "bin" / "cs-mcp"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["bin/cs-mcp", "config", "cursor", "--sandbox"])
    status = main(["config", "cursor", "--sandbox"])
    entry = json.loads(capsys.readouterr().out)["mcpServers"]["cs-mcp"]
    assert status == 0
    assert entry == {"command": str(script), "args": ["serve", "--sandbox"]}


def test_run_as_a_module_the_snippet_starts_this_python_with_dash_m(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(sys, "executable", "/nowhere/bin/python")
    assert installed_command("/src/cs_mcp/__main__.py") == ["/nowhere/bin/python", "-m", "cs_mcp"]


def test_command_names_what_the_client_runs(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["config", "vscode", "--sandbox", "--command", "cs-mcp"])
    entry = json.loads(capsys.readouterr().out)["servers"]["cs-mcp"]
    assert status == 0
    assert entry["command"] == "cs-mcp"
