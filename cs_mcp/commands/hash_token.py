"""`cs-mcp hash-token`: the SHA-256 of a bearer token, for a principal's `token_sha256`.

The token is read from stdin (never from the command line, where it would land in the shell's
history and the process list) and is not printed; only its hash is.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from typing import TextIO

from cs_mcp.commands._common import fail


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    subparsers.add_parser(
        "hash-token",
        help="read a bearer token on stdin and print its sha256 for the policy file",
        description="Reads a bearer token on stdin and prints the sha256 hex digest to put in "
        'a [[principals]] entry\'s token_sha256. Example: printf %%s "$TOKEN" | cs-mcp hash-token',
    )


def hash_token(token: str) -> str:
    """The hex SHA-256 of `token` with surrounding whitespace (the newline of `echo`) removed.

    Raises:
        ValueError: the token is empty.
    """
    token = token.strip()
    if not token:
        raise ValueError('the token is empty; pipe the token in, e.g. printf %s "$TOKEN" | cs-mcp hash-token')
    return hashlib.sha256(token.encode()).hexdigest()


def run(args: argparse.Namespace, stdin: TextIO | None = None) -> int:
    source = stdin or sys.stdin
    if source.isatty():
        print("cs-mcp: paste the token, then press Enter and Ctrl-D", file=sys.stderr)
    try:
        print(hash_token(source.read()))
    except ValueError as exc:
        return fail(str(exc))
    return 0
