"""`cs-mcp call TOOL --args JSON`: one tool call from the shell, as the local principal."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, cast

import anyio
from mcp import Client

from cs_mcp.commands._common import CommandError, add_policy_arguments, build_guard, fail, load_settings
from cs_mcp.prompts import PromptFileError, load_prompts
from cs_mcp.server import build_server


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    p = subparsers.add_parser("call", help="call one tool and print its answer")
    p.add_argument("tool", help="the tool's name (see `cs-mcp tools`)")
    p.add_argument(
        "--args", default="{}", help='the arguments as a JSON object, e.g. \'{"content_type": "blog_post"}\''
    )
    p.add_argument("--sandbox", action="store_true", help="call against the local sandbox stack")
    add_policy_arguments(p)


def run(args: argparse.Namespace) -> int:
    try:
        arguments = json.loads(args.args)
    except json.JSONDecodeError as exc:
        return fail(f"--args is not valid JSON ({exc.msg} at position {exc.pos}); pass a JSON object")
    if not isinstance(arguments, dict):
        return fail('--args must be a JSON object such as \'{"content_type": "blog_post"}\'')
    try:
        settings = load_settings(args)
        guard = build_guard(settings)
        prompts = load_prompts()  # a malformed prompt file stops the start with its name, not a traceback
    except (CommandError, PromptFileError) as exc:
        return fail(str(exc))

    async def main() -> int:
        from contextlib import AsyncExitStack

        from cs_mcp.commands.serve import sandbox_settings
        from cs_mcp.sandbox.runner import running_sandbox
        from cs_mcp.sandbox.state import SandboxConfig

        current = settings
        use_sandbox = bool(args.sandbox) or not settings.has_credentials
        async with AsyncExitStack() as stack:
            if use_sandbox:
                running = await stack.enter_async_context(running_sandbox(SandboxConfig()))
                current = sandbox_settings(settings, running.env())
            server = build_server(current, backend="sandbox" if use_sandbox else "live", guard=guard, prompts=prompts)
            async with Client(server) as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                if args.tool not in tools:
                    print(
                        f"cs-mcp: no tool {args.tool!r} for this role; tools: {', '.join(sorted(tools))}",
                        file=sys.stderr,
                    )
                    return 2
                result = await client.call_tool(args.tool, cast(dict[str, Any], arguments))
        if result.is_error:
            text = " ".join(c.text for c in result.content if c.type == "text")
            print(text, file=sys.stderr)
            return 1
        if result.structured_content is not None:
            print(json.dumps(result.structured_content, indent=2, ensure_ascii=False))
        else:
            print("\n".join(c.text for c in result.content if c.type == "text"))
        return 0

    return anyio.run(main)
