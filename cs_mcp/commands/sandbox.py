"""`cs-mcp sandbox`: the local sandbox stack alone, for any Contentstack client."""

from __future__ import annotations

import argparse

from cs_mcp.commands._common import (
    CommandError,
    Subcommands,
    command_parser,
    default_sandbox_db,
    fail,
)


def add_parser(subparsers: Subcommands) -> None:
    p = command_parser(
        subparsers,
        "sandbox",
        help="run the local sandbox stack (CMA, CDA, Analytics, Automate)",
        description="Serves a local Contentstack with demo data on one loopback port and prints its credentials.",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address")
    p.add_argument("--port", type=int, default=8766, help="port")
    p.add_argument(
        "--db",
        default=str(default_sandbox_db()),
        metavar="FILE",
        help="SQLite file holding the sandbox's state, the one `serve` and `call` use (':memory:' for a throwaway)",
    )
    p.add_argument("--reset", action="store_true", help="start over from the seed data")
    p.add_argument("--no-rate-limits", action="store_true", help="answer without Contentstack's rate limits")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cs_mcp.commands.serve import bind_socket
    from cs_mcp.sandbox.runner import serve_sandbox
    from cs_mcp.sandbox.state import SandboxConfig

    try:
        # A busy port is named at once, before the database is opened; uvicorn binds again below.
        bind_socket(args.host, args.port).close()
    except CommandError as exc:
        return fail(str(exc))
    if args.db != ":memory:":
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    config = SandboxConfig(db_path=args.db, reset=bool(args.reset), rate_limits=not args.no_rate_limits)
    serve_sandbox(config, args.host, args.port)
    return 0
