"""`cs-mcp config claude|cursor|vscode [--http URL]`: a client configuration snippet to paste.

The snippet starts `cs-mcp serve` over stdio with the Contentstack variables as placeholders, or,
with `--http`, points the client at a running cs-mcp over Streamable HTTP with a bearer-token
placeholder. Secret values are never printed, even when they are set in the environment: only
settings that are not secret (region, branch, environment, role) are filled in from it.

Client formats: Claude Desktop (`claude_desktop_config.json`) and Cursor (`.cursor/mcp.json`)
use `"mcpServers"`; Claude Desktop's file starts local processes only, so it reaches an HTTP
server through the `mcp-remote` bridge. VS Code (`.vscode/mcp.json`) uses `"servers"` with
`"type": "stdio" | "http"` and prompts for secrets through `"inputs"`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from cs_mcp.commands._common import Subcommands

Client = Literal["claude", "cursor", "vscode"]
CLIENTS: tuple[Client, ...] = ("claude", "cursor", "vscode")

SERVER_NAME = "cs-mcp"

# The secret variables, each with the placeholder printed in its place.
SECRET_PLACEHOLDERS: dict[str, str] = {
    "CONTENTSTACK_API_KEY": "<your stack API key>",
    "CONTENTSTACK_MANAGEMENT_TOKEN": "<your management token>",
    "CONTENTSTACK_DELIVERY_TOKEN": "<your delivery token>",
    "CONTENTSTACK_AUTHTOKEN": "<your authtoken (analytics and Automate)>",
}
# Settings that are not secret: filled in from the environment when set, else a placeholder.
PLAIN_DEFAULTS: dict[str, str] = {
    "CONTENTSTACK_REGION": "NA",
    "CONTENTSTACK_ENVIRONMENT": "<the delivery token's environment>",
    "CONTENTSTACK_ORGANIZATION_UID": "<your organization uid (analytics and Automate)>",
    "CS_MCP_ROLE": "viewer",
}
# VS Code asks for these when the server starts, so they never sit in the file.
VSCODE_INPUTS: dict[str, tuple[str, str]] = {
    "CONTENTSTACK_API_KEY": ("contentstack-api-key", "Contentstack stack API key"),
    "CONTENTSTACK_MANAGEMENT_TOKEN": ("contentstack-management-token", "Contentstack management token"),
    "CONTENTSTACK_DELIVERY_TOKEN": ("contentstack-delivery-token", "Contentstack delivery token"),
    "CONTENTSTACK_AUTHTOKEN": ("contentstack-authtoken", "Contentstack authtoken (analytics and Automate)"),
}
BEARER_PLACEHOLDER = "<your cs-mcp bearer token>"
VSCODE_BEARER_INPUT = "cs-mcp-bearer"

_NOTES = {
    "claude": "Paste into claude_desktop_config.json (Settings > Developer > Edit Config), then quit and reopen "
    "Claude Desktop.",
    "cursor": "Paste into .cursor/mcp.json in your project, or ~/.cursor/mcp.json for every project.",
    "vscode": "Paste into .vscode/mcp.json in your workspace; VS Code asks for each secret when the server starts.",
}


class SnippetError(ValueError):
    """The options cannot make a snippet (for example an --http URL that is not http(s))."""


def add_parser(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("config", help="print a configuration snippet for Claude Desktop, Cursor or VS Code")
    p.add_argument("client", choices=CLIENTS, help="the MCP client to configure")
    p.add_argument("--http", metavar="URL", help="point at a cs-mcp serving Streamable HTTP at URL (ending in /mcp)")
    p.add_argument("--sandbox", action="store_true", help="serve the local sandbox stack (no credentials needed)")
    p.add_argument(
        "--command",
        dest="client_command",  # `command` is the subcommand's name (cli.py)
        metavar="NAME",
        default=None,
        help="the command the client runs (default: the absolute path of this installed cs-mcp)",
    )


def _plain_value(name: str, env: Mapping[str, str]) -> str:
    value = env.get(name, "").strip()
    return value or PLAIN_DEFAULTS[name]


def stdio_env(env: Mapping[str, str]) -> dict[str, str]:
    """The `env` block of a stdio snippet: placeholders for secrets, plain settings from `env`."""
    block = dict(SECRET_PLACEHOLDERS)
    for name in PLAIN_DEFAULTS:
        block[name] = _plain_value(name, env)
    if branch := env.get("CONTENTSTACK_BRANCH", "").strip():
        block["CONTENTSTACK_BRANCH"] = branch
    return block


def check_url(url: str) -> str:
    """The URL, checked to be absolute http(s).

    Raises:
        SnippetError: it is not.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SnippetError(f"--http needs an absolute http(s) URL such as http://127.0.0.1:8765/mcp, not {url!r}")
    return url.strip()


def installed_command(argv0: str | None = None) -> list[str]:
    """How a client starts this cs-mcp: the absolute path of the installed `cs-mcp` script, else
    this Python with `-m cs_mcp` (a client does not see the shell's PATH or an activated venv)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    script = Path(argv0)
    if script.name in ("cs-mcp", "cs-mcp.exe") and script.exists():
        return [os.path.abspath(script)]
    found = shutil.which("cs-mcp", path=str(Path(sys.executable).parent)) or shutil.which("cs-mcp")
    if found:
        return [os.path.abspath(found)]
    # Not resolved: a venv's python is a symlink, and its target would leave the venv behind.
    return [os.path.abspath(sys.executable), "-m", "cs_mcp"]


def snippet(
    client: Client,
    *,
    http_url: str | None = None,
    sandbox: bool = False,
    env: Mapping[str, str] | None = None,
    command: list[str] | None = None,
    bearer: str | None = None,
) -> dict[str, Any]:
    """The configuration for `client` as a JSON-ready dict. `command` starts cs-mcp (default: the
    word `cs-mcp`); `bearer` is the HTTP token to write in, instead of a placeholder.

    Raises:
        SnippetError: an --http URL that is not absolute http(s).
    """
    env = os.environ if env is None else env
    if http_url is not None:
        return _http_snippet(client, check_url(http_url), bearer)
    program, *prefix = command or ["cs-mcp"]
    args = [*prefix, "serve", "--sandbox"] if sandbox else [*prefix, "serve"]
    if client == "vscode":
        entry: dict[str, Any] = {"type": "stdio", "command": program, "args": args}
        inputs: list[dict[str, Any]] = []
        if not sandbox:
            block = stdio_env(env)
            for name, (input_id, description) in VSCODE_INPUTS.items():
                block[name] = f"${{input:{input_id}}}"
                inputs.append({"type": "promptString", "id": input_id, "description": description, "password": True})
            entry["env"] = block
        config: dict[str, Any] = {"servers": {SERVER_NAME: entry}}
        if inputs:
            config["inputs"] = inputs
        return config
    entry = {"command": program, "args": args}
    if not sandbox:
        entry["env"] = stdio_env(env)
    return {"mcpServers": {SERVER_NAME: entry}}


def _http_snippet(client: Client, url: str, bearer: str | None = None) -> dict[str, Any]:
    header = f"Bearer {bearer or BEARER_PLACEHOLDER}"
    if client == "vscode" and bearer is not None:
        return {"servers": {SERVER_NAME: {"type": "http", "url": url, "headers": {"Authorization": header}}}}
    if client == "vscode":
        return {
            "servers": {
                SERVER_NAME: {
                    "type": "http",
                    "url": url,
                    "headers": {"Authorization": f"Bearer ${{input:{VSCODE_BEARER_INPUT}}}"},
                }
            },
            "inputs": [
                {
                    "type": "promptString",
                    "id": VSCODE_BEARER_INPUT,
                    "description": "cs-mcp bearer token",
                    "password": True,
                }
            ],
        }
    if client == "cursor":
        return {"mcpServers": {SERVER_NAME: {"url": url, "headers": {"Authorization": header}}}}
    # Claude Desktop's file starts local processes; mcp-remote bridges stdio to HTTP. The header
    # comes from an env variable because npx on Windows splits arguments at spaces.
    return {
        "mcpServers": {
            SERVER_NAME: {
                "command": "npx",
                "args": ["-y", "mcp-remote", url, "--header", "Authorization:${CS_MCP_AUTH_HEADER}"],
                "env": {"CS_MCP_AUTH_HEADER": header},
            }
        }
    }


def run(args: argparse.Namespace) -> int:
    try:
        command = [args.client_command] if args.client_command else installed_command()
        config = snippet(args.client, http_url=args.http, sandbox=bool(args.sandbox), command=command)
    except SnippetError as exc:
        print(f"cs-mcp: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(config, indent=2))
    note = _NOTES[args.client]
    if args.http is None and not args.sandbox:
        note += (
            " Replace each <...> placeholder and delete the variables you do not use; with no credentials "
            "cs-mcp serves its local sandbox stack."
        )
    print(note, file=sys.stderr)
    return 0
