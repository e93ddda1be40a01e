"""`cs-mcp call TOOL --args JSON`: one tool call from the shell, as the local principal.

It reaches the same stack as `serve`: the live one when credentials are set, else the sandbox
on the same state file (`--fresh` for a throwaway). A write that needs a human's yes answers a
preview and a confirmation token; `--confirm` (or "y" at the terminal's question) passes the
token back at once, and a later `call` with the token in its arguments works too, because
`call` and `serve` share their confirmation key.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from typing import Any, TextIO, cast

import anyio
from mcp import Client
from mcp_types import CallToolResult

from cs_mcp.commands._common import (
    CommandError,
    SharedConfirmations,
    Subcommands,
    add_policy_arguments,
    add_sandbox_arguments,
    build_guard,
    command_parser,
    fail,
    load_settings,
)
from cs_mcp.guard import Guard, Principal, Role
from cs_mcp.prompts import PromptFileError, load_prompts
from cs_mcp.server import build_server
from cs_mcp.toolkit.registry import registered_tools


def add_parser(subparsers: Subcommands) -> None:
    p = command_parser(
        subparsers,
        "call",
        help="call one tool and print its answer",
        description="Calls one tool as the local principal and prints its structured answer as JSON.",
    )
    p.add_argument("tool", help="the tool's name (see `cs-mcp tools`)")
    p.add_argument(
        "--args", default="{}", help='the arguments as a JSON object, e.g. \'{"content_type": "blog_post"}\''
    )
    p.add_argument(
        "--confirm",
        action="store_true",
        help="when the write needs confirmation, confirm it at once (without it, the terminal asks)",
    )
    add_sandbox_arguments(p)
    add_policy_arguments(p)


def _suggestion(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown_tool_message(name: str, listed: set[str], guard: Guard, role: str) -> str:
    """Why `name` is not callable here: a typo (with the nearest name), a tool this role does not
    see (with the roles that do), or a tool whose credentials are not configured."""
    specs = {spec.name: spec for spec in registered_tools()}
    if name not in specs:
        return f"there is no tool {name!r}{_suggestion(name, sorted(specs))} (`cs-mcp tools` lists them)"
    if not guard.may_use(Principal(name="local", role=role), specs[name].scopes):
        able = [r for r in guard.policy.roles.values() if guard.may_use(Principal("local", r.name), specs[name].scopes)]
        roles = [r.name for r in sorted(able, key=lambda r: (len(r.scopes), r.name))]  # the narrowest first
        hint = f"; try --role {roles[0]}" if roles else "; no role of the policy may use it"
        others = f" (roles that may: {', '.join(roles)})" if len(roles) > 1 else ""
        return f"role {role!r} may not use {name}{hint}{others}"
    return f"{name} is not available: its toolset's credentials are not configured (`cs-mcp doctor` says what to set)"


def _text(result: CallToolResult) -> str:
    return " ".join(c.text for c in result.content if c.type == "text")


def _confirmation(result: CallToolResult) -> dict[str, Any] | None:
    content: dict[str, Any] = result.structured_content or {}
    request: Any = content.get("confirmation")
    return cast(dict[str, Any], request) if isinstance(request, dict) else None


def _ask(preview: str, stdin: TextIO) -> bool:
    print(preview, file=sys.stderr)
    print("cs-mcp: carry out this change? [y/N] ", end="", file=sys.stderr, flush=True)
    return stdin.readline().strip().lower() in ("y", "yes")


def _print_result(result: CallToolResult) -> None:
    if result.structured_content is not None:
        print(json.dumps(result.structured_content, indent=2, ensure_ascii=False))
    else:
        print("\n".join(c.text for c in result.content if c.type == "text"))


def _role_hint(role: Role, guard: Guard) -> str:
    others = sorted(r for r in guard.policy.roles if r != role.name)
    return (
        f"cs-mcp: called as role {role.name!r}; --role NAME calls as another role of the policy ({', '.join(others)})"
    )


def run(args: argparse.Namespace, stdin: TextIO | None = None) -> int:
    answers: TextIO = stdin or sys.stdin
    try:
        arguments = json.loads(args.args)
    except json.JSONDecodeError as exc:
        return fail(f"--args is not valid JSON ({exc.msg} at position {exc.pos}); pass a JSON object")
    if not isinstance(arguments, dict):
        return fail('--args must be a JSON object such as \'{"content_type": "blog_post"}\'')
    try:
        settings = load_settings(args)
        guard = build_guard(settings, confirmations=SharedConfirmations())
        prompts = load_prompts()  # a malformed prompt file stops the start with its name, not a traceback
    except (CommandError, PromptFileError) as exc:
        return fail(str(exc))
    role = settings.role or guard.policy.default_role

    async def main() -> int:
        from cs_mcp.commands.serve import backend

        async with backend(args, settings, announce=False) as (current, kind):
            # The shell names the tool itself, so CS_MCP_TOOLSETS (chosen for what a model lists)
            # does not hide it; the role still decides.
            every = current.model_copy(update={"toolsets": "all"})
            server = build_server(every, backend=kind, guard=guard, prompts=prompts)
            async with Client(server) as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                if args.tool not in tools:
                    return fail(unknown_tool_message(args.tool, tools, guard, role))
                call_args = cast(dict[str, Any], arguments)
                result = await client.call_tool(args.tool, call_args)
                request = None if result.is_error else _confirmation(result)
                if request is not None:
                    interactive = answers.isatty() and sys.stderr.isatty()
                    if args.confirm or (interactive and _ask(str(request.get("preview", "")), answers)):
                        token = str(request["confirmation_token"])
                        result = await client.call_tool(args.tool, {**call_args, "confirmation_token": token})
                    elif not interactive:
                        print(
                            "cs-mcp: nothing was written: this change needs confirmation. Run the same call with "
                            "--confirm, or pass the confirmation_token below in --args within 5 minutes.",
                            file=sys.stderr,
                        )
                    else:
                        print("cs-mcp: not confirmed; nothing was written.", file=sys.stderr)
                        return 1
        if result.is_error:
            print(f"cs-mcp: {args.tool} failed: {_text(result)}", file=sys.stderr)
            print(_role_hint(guard.role_of(Principal("local", role)), guard), file=sys.stderr)
            return 1
        _print_result(result)
        return 0

    return anyio.run(main)
