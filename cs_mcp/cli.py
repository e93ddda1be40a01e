"""The `cs-mcp` command: one subcommand per module in `cs_mcp/commands/`."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from cs_mcp import __version__

# Each module has add_parser(subparsers) and run(args) -> int.
COMMANDS = ("serve", "sandbox", "doctor", "tools", "call", "config", "hash_token", "audit")

# The shell's convention for a command ended by Ctrl-C (128 + SIGINT).
INTERRUPTED = 130


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with `only` (a command's module name) of that one alone:
    running a command imports its module only, not every other command's."""
    parser = argparse.ArgumentParser(
        prog="cs-mcp",
        description="A guarded MCP server for Contentstack. With no credentials it serves a local sandbox stack.",
    )
    parser.add_argument("--version", action="version", version=f"cs-mcp {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        module = importlib.import_module(f"cs_mcp.commands.{name}")
        module.add_parser(subparsers)
    return parser


def _quiet_stdout() -> None:
    """After the reader of stdout went away (`cs-mcp tools | head`), points stdout at the null
    device so that the interpreter's final flush does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command; answers its exit status (130 when interrupted with Ctrl-C)."""
    # Every HTTP request at INFO would drown stderr, which MCP clients show as the server's log.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    words = list(sys.argv[1:] if argv is None else argv)
    named = words[0].replace("-", "_") if words else None
    parser = build_parser(named if named in COMMANDS else None)
    args = parser.parse_args(words)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    module = importlib.import_module(f"cs_mcp.commands.{args.command.replace('-', '_')}")
    try:
        status: int = module.run(args)
    except KeyboardInterrupt:
        print("cs-mcp: stopped", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return 1
    return status
