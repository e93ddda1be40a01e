"""Starting cs-mcp as a subprocess and reading what it prints, with deadlines instead of sleeps."""

from __future__ import annotations

import hashlib
import os
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 60.0


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment without any Contentstack credential, with state under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTENTSTACK_", "CS_MCP_"))}
    env.update(
        {
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "PYTHONPATH": str(REPO),
        }
    )
    env.update(extra)
    return env


def cs_mcp(*args: str) -> list[str]:
    return [sys.executable, "-m", "cs_mcp", *args]


def run_cs_mcp(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs `cs-mcp ARGS` to its end with a clean environment (plus `env`) and no stdin."""
    return subprocess.run(
        cs_mcp(*args),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(tmp_path, **env),
        cwd=REPO,
        timeout=DEADLINE_SECONDS,
    )


def read_until(fd: int, marker: str, seen: bytearray, timeout: float = DEADLINE_SECONDS) -> str:
    """Reads `fd` into `seen` until its text contains `marker` or the stream ends; answers the text.

    Raises:
        TimeoutError: the marker did not come within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while marker not in seen.decode(errors="replace"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {marker!r} within {timeout}s; got: {seen.decode(errors='replace')}")
            if not selector.select(left):
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # a pty's master reads EIO once the child closed its side
                chunk = b""
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def read_rest(fd: int, seen: bytearray, timeout: float = DEADLINE_SECONDS) -> str:
    """Reads `fd` into `seen` to its end; answers the whole text."""
    return read_until(fd, "\x00never\x00", seen, timeout)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kills the process if it still runs, and closes its pipes."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=DEADLINE_SECONDS)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def publisher_policy(path: Path, anonymous: str, principal: str, token: str) -> Path:
    """Writes to `path` a policy under which `principal`, holding `token`, publishes; `anonymous`
    is its line for callers without a token (`default_role = ...` or `anonymous_role = ...`)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    principals = f'[[principals]]\nname = "{principal}"\ntoken_sha256 = "{digest}"\nrole = "publisher"\n'
    path.write_text(f"{anonymous}\n\n{principals}")
    return path


@contextmanager
def serving_http(policy: Path, env: Mapping[str, str]) -> Generator[tuple[str, subprocess.Popen[bytes]]]:
    """`cs-mcp serve` on an in-memory sandbox over Streamable HTTP on a free port, under `policy`:
    its base URL and its process, stopped on the way out."""
    port = free_port()
    process = subprocess.Popen(
        cs_mcp(
            "serve", "--sandbox-db", ":memory:", "--transport", "http", "--port", str(port), "--policy", str(policy)
        ),
        env=dict(env),
        cwd=str(REPO),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
