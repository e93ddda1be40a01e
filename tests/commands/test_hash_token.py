"""`cs-mcp hash-token`: sha256 of the token on stdin; an empty token is refused."""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
from pathlib import Path

import pytest

from cs_mcp.cli import build_parser
from cs_mcp.commands import hash_token
from cs_mcp.guard import parse_policy
from tests.commands._process import DEADLINE_SECONDS, REPO, clean_env, cs_mcp, read_until, stop


def run_with(stdin: str) -> int:
    args = build_parser().parse_args(["hash-token"])
    return hash_token.run(args, stdin=io.StringIO(stdin))


def test_it_prints_the_sha256_hex_of_the_token_without_its_trailing_newline(capsys: pytest.CaptureFixture[str]) -> None:
    status = run_with("s3cret-token\n")
    out, err = capsys.readouterr()
    assert status == 0
    assert out.strip() == hashlib.sha256(b"s3cret-token").hexdigest()
    assert "s3cret-token" not in out + err


def test_the_printed_hash_is_accepted_by_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    run_with("s3cret-token")
    digest = capsys.readouterr().out.strip()
    policy = parse_policy(f'[[principals]]\nname = "bot"\ntoken_sha256 = "{digest}"\nrole = "viewer"\n')
    assert policy.principals[0].token_sha256 == digest


@pytest.mark.parametrize("stdin", ["", "\n", "   \n\t"])
def test_an_empty_token_is_refused(stdin: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = run_with(stdin)
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert "empty" in err


def test_the_command_is_registered_as_hash_token() -> None:
    args = build_parser().parse_args(["hash-token"])
    assert isinstance(args, argparse.Namespace)
    assert args.command == "hash-token"


def test_generate_prints_a_new_token_and_its_hash(capsys: pytest.CaptureFixture[str]) -> None:
    status = hash_token.run(build_parser().parse_args(["hash-token", "--generate"]), stdin=io.StringIO(""))
    lines = dict(line.split(maxsplit=1) for line in capsys.readouterr().out.splitlines())
    assert status == 0
    assert len(lines["token"]) >= 32
    assert lines["sha256"] == hashlib.sha256(lines["token"].encode()).hexdigest()


@pytest.mark.subprocess
def test_at_a_terminal_the_token_typed_is_not_echoed(tmp_path: Path) -> None:
    token = "a-token-typed-at-the-terminal"
    main, child = os.openpty()
    process = subprocess.Popen(
        cs_mcp("hash-token"), stdin=child, stdout=child, stderr=child, env=clean_env(tmp_path), cwd=REPO
    )
    os.close(child)
    seen = bytearray()
    try:
        read_until(main, "paste the token", seen)
        os.write(main, token.encode() + b"\n")
        text = read_until(main, hashlib.sha256(token.encode()).hexdigest(), seen)
        status = process.wait(timeout=DEADLINE_SECONDS)
    finally:
        stop(process)
        os.close(main)
    assert status == 0
    assert token not in text
