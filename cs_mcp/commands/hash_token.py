"""`cs-mcp hash-token [--generate]`: the SHA-256 of a bearer token, for a principal's `token_sha256`.

The token is read from stdin (never from the command line, where it would land in the shell's
history and the process list); at a terminal it is read without echo. Only its hash is printed.
`--generate` makes a new random token and prints it with its hash.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TextIO

from cs_mcp.commands._common import Subcommands, fail
from cs_mcp.http_auth import generate_token, token_sha256


def add_parser(subparsers: Subcommands) -> None:
    p = subparsers.add_parser(
        "hash-token",
        help="print the sha256 of a bearer token (read from stdin) for the policy file, or --generate one",
        description="Reads a bearer token on stdin (without echo at a terminal) and prints the sha256 hex "
        'digest to put in a [[principals]] entry\'s token_sha256. Example: printf %%s "$TOKEN" | cs-mcp '
        "hash-token. With --generate, makes a new token and prints it and its hash.",
    )
    p.add_argument(
        "--generate", action="store_true", help="make a new random token; print it (for the client) and its hash"
    )


def hash_token(token: str) -> str:
    """The hex SHA-256 of `token` with surrounding whitespace (the newline of `echo`) removed.

    Raises:
        ValueError: the token is empty.
    """
    token = token.strip()
    if not token:
        raise ValueError('the token is empty; pipe the token in, e.g. printf %s "$TOKEN" | cs-mcp hash-token')
    return token_sha256(token)


def run(args: argparse.Namespace, stdin: TextIO | None = None) -> int:
    if getattr(args, "generate", False):
        token = generate_token()
        print(f"token   {token}")
        print(f"sha256  {token_sha256(token)}")
        print(
            "cs-mcp: give the token to the client (Authorization: Bearer <token>); put the sha256 in a "
            "[[principals]] entry's token_sha256. The token is not stored anywhere.",
            file=sys.stderr,
        )
        return 0
    source = stdin or sys.stdin
    try:
        if source.isatty():
            # getpass reads from the terminal without echoing the token on the screen.
            text = getpass.getpass("cs-mcp: paste the token (it is not shown), then press Enter: ", stream=sys.stderr)
        else:
            text = source.read()
        print(hash_token(text))
    except (ValueError, EOFError) as exc:
        return fail(str(exc) or "no token was given")
    return 0
