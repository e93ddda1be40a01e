"""`cs-mcp serve`: the MCP server over stdio (default) or Streamable HTTP.

With no Contentstack credentials, or with --sandbox, it starts the embedded sandbox stack on a
free loopback port and serves that, saying so on stderr and in describe_stack.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import uvicorn

from cs_mcp.commands._common import CommandError, add_policy_arguments, build_guard, fail, load_settings
from cs_mcp.config import Settings, default_data_dir
from cs_mcp.guard import Guard
from cs_mcp.prompts import PromptFileError, PromptTemplate, load_prompts
from cs_mcp.server import build_server


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    p = subparsers.add_parser("serve", help="run the MCP server (stdio by default)")
    p.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    p.add_argument("--sandbox", action="store_true", help="serve the local sandbox stack even if credentials are set")
    p.add_argument(
        "--sandbox-db",
        default=None,
        help="the sandbox's SQLite file (default: under the user's data directory; ':memory:' for a throwaway)",
    )
    add_policy_arguments(p)


def sandbox_settings(settings: Settings, env: dict[str, str]) -> Settings:
    """Settings pointing at a sandbox, keeping the operator's policy, role and audit log."""
    sandboxed = Settings.from_env(env)
    return sandboxed.model_copy(
        update={"policy_path": settings.policy_path, "role": settings.role, "audit_log": settings.audit_log}
    )


async def serve(
    args: argparse.Namespace, settings: Settings, guard: Guard, prompts: list[PromptTemplate] | None = None
) -> None:
    from cs_mcp.sandbox.runner import running_sandbox
    from cs_mcp.sandbox.state import SandboxConfig

    use_sandbox = bool(args.sandbox) or not settings.has_credentials
    async with AsyncExitStack() as stack:
        if use_sandbox:
            db = args.sandbox_db or str(default_data_dir() / "sandbox.sqlite3")
            if db != ":memory:":
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            running = await stack.enter_async_context(running_sandbox(SandboxConfig(db_path=db)))
            settings = sandbox_settings(settings, running.env())
            why = "--sandbox was given" if args.sandbox else "no Contentstack credentials are configured"
            print(
                f"cs-mcp: {why}; serving the local sandbox stack at {running.base_url} (demo data, not Contentstack)",
                file=sys.stderr,
            )
        server = build_server(settings, backend="sandbox" if use_sandbox else "live", guard=guard, prompts=prompts)
        if args.transport == "stdio":
            await server.run_stdio_async()
            return
        from cs_mcp.http import create_http_app

        app = create_http_app(server, guard.policy, host=args.host, port=args.port)
        config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", lifespan="on")
        http_server = uvicorn.Server(config)
        print(f"cs-mcp: serving MCP at http://{args.host}:{args.port}/mcp", file=sys.stderr)
        await http_server.serve()


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args)
        guard = build_guard(settings)
        prompts = load_prompts()  # a malformed prompt file stops the start with its name, not a traceback
    except (CommandError, PromptFileError) as exc:
        return fail(str(exc))

    async def main() -> None:
        await serve(args, settings, guard, prompts)

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        return 0
    return 0


__all__: list[Any] = ["add_parser", "run", "serve"]
