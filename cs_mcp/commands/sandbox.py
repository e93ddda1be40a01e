"""`cs-mcp sandbox`: the local sandbox stack alone, for any Contentstack client."""

from __future__ import annotations

import argparse

from cs_mcp.config import default_data_dir


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    p = subparsers.add_parser("sandbox", help="run the local sandbox stack (CMA, CDA, Analytics, Automate)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8766)
    p.add_argument("--db", default=None, help="SQLite file (default: under the user's data directory)")
    p.add_argument("--reset", action="store_true", help="start over from the seed data")
    p.add_argument("--no-rate-limits", action="store_true", help="answer without Contentstack's rate limits")


def run(args: argparse.Namespace) -> int:
    from cs_mcp.sandbox.runner import serve_sandbox
    from cs_mcp.sandbox.state import SandboxConfig

    db = args.db or str(default_data_dir() / "sandbox.sqlite3")
    config = SandboxConfig(db_path=db, reset=bool(args.reset), rate_limits=not args.no_rate_limits)
    try:
        serve_sandbox(config, args.host, args.port)
    except KeyboardInterrupt:
        return 0
    return 0
