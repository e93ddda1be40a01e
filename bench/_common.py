"""What the benchmarks share: a sandbox in a thread, the settings that point at it, figures."""

from __future__ import annotations

import argparse
import compileall
import functools
import os
import platform
import socket
import statistics
import subprocess
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.abc
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.runner import sandbox_env

REPO = Path(__file__).resolve().parents[1]
ENTRIES = "/v3/content_types/blog_post/entries"  # the path the bare server's `get` reads entries at
# The arguments of `python` that start cs-mcp's stdio server and the bare baseline.
SERVE = ["-m", "cs_mcp", "serve"]
BARE = ["-m", "bench.baseline"]


def machine() -> str:
    """One line naming the machine the figures were taken on."""
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def percentile_ms(samples: Sequence[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))
    return ordered[index] * 1000


T = TypeVar("T")


async def in_turn(
    runs: int, bare: Callable[[], Awaitable[T]], ours: Callable[[], Awaitable[T]]
) -> tuple[list[T], list[T]]:
    """`runs` samples of the bare baseline and of cs-mcp, taken in turn so that whatever else
    loads the machine falls on both alike."""
    bare_samples: list[T] = []
    our_samples: list[T] = []
    for _ in range(runs):
        bare_samples.append(await bare())
        our_samples.append(await ours())
    return bare_samples, our_samples


def beside_bare(
    bare: float, ours: float, unit: str, target: str = "", *, digits: int = 1, ours_as: str = "cs-mcp"
) -> str:
    """A figure of cs-mcp beside the bare baseline's, with their ratio and the target it has
    (`bare 40.2 MiB, cs-mcp 43.0 MiB (ratio 1.07; target <= 1.1)`)."""
    aim = f"; target {target}" if target else ""
    return f"bare {bare:.{digits}f} {unit}, {ours_as} {ours:.{digits}f} {unit} (ratio {ours / bare:.2f}{aim})"


def command_line(description: str | None, measure: Callable[..., Awaitable[str]], **options: float) -> None:
    """Prints what `measure` answers, called with one keyword per option: `--name` on the
    command line, of the type of its default in `options`."""
    parser = argparse.ArgumentParser(description=description)
    for name, default in options.items():
        parser.add_argument(f"--{name}", type=type(default), default=default)
    print(anyio.run(functools.partial(measure, **vars(parser.parse_args()))))


def byte_compiled() -> None:
    """Writes the bytecode of cs-mcp's and the benchmarks' modules, as installing the package does
    (the SDK's is written at its install): a start that compiles cs-mcp's hundred modules from
    source, which PYTHONDONTWRITEBYTECODE=1 in the environment makes every start do, is not
    what a user starts. Bytecode already current is left as it is."""
    for package in ("cs_mcp", "bench"):
        compileall.compile_dir(REPO / package, quiet=1)


def start_command_line(description: str | None, measure: Callable[..., Awaitable[str]], **options: float) -> None:
    """`command_line` for a benchmark of the server's start: the bytecode is written first (`byte_compiled`)."""
    byte_compiled()
    command_line(description, measure, **options)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any Contentstack or cs-mcp variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTENTSTACK_", "CS_MCP_"))}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


# Client-side limits lifted, for benchmarks that measure cs-mcp rather than Contentstack's
# per-organization limits (the sandbox they run against has its limits off too).
UNLIMITED = "cma_read=100000,cma_write=100000,cma_bulk=100000,cda=100000,analytics=100000,automate=100000"


def status_mib(pid: int, field: str) -> float:
    """A memory figure (`VmRSS`, `VmHWM`, ...) of a running process from /proc/<pid>/status, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def proc_stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the name (which is in brackets and may hold spaces):
    [0] is the state, [1] the parent pid, [11] and [12] user and system CPU in clock ticks.

    Raises:
        OSError: the process is gone.
    """
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_answering(url: str, process: anyio.abc.Process | None = None, within: float = 60) -> None:
    """Waits (at most `within` seconds, a minute by default) until a process just started
    answers 200 at `url`.

    Raises:
        RuntimeError: `process` ended first.
        TimeoutError: nothing answered in time.
    """
    with anyio.fail_after(within):
        async with httpx2.AsyncClient() as http:
            while True:
                if process is not None and process.returncode is not None:
                    raise RuntimeError(f"the process serving {url} ended with status {process.returncode}")
                try:
                    if (await http.get(url)).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                await anyio.sleep(0.05)


@asynccontextmanager
async def serving(
    command: Sequence[str], env: Mapping[str, str], within: float = 60
) -> AsyncGenerator[tuple[anyio.abc.Process, str]]:
    """Starts a server (`command`, `{port}` standing for a free port), waits until it answers
    200 at /healthz, answers the process and its base URL, and stops it (SIGTERM) at the end.
    `within` bounds, in seconds, the wait for its start and the wait for its end.

    Raises:
        RuntimeError: the server ended before it answered.
        TimeoutError: it did not answer, or did not end, in time.
    """
    port = free_port()
    process = await anyio.open_process(
        [part.replace("{port}", str(port)) for part in command],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_answering(f"{base}/healthz", process, within)
        yield process, base
    finally:
        process.terminate()
        with anyio.fail_after(within):
            await process.wait()


@asynccontextmanager
async def mcp_http_session(url: str, token: str, read_timeout: float = 60) -> AsyncGenerator[Client]:
    """An MCP client session over Streamable HTTP to `url`, sending `token` as its bearer token;
    a request waits at most `read_timeout` seconds for its answer."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=read_timeout)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        yield client


@asynccontextmanager
async def sandbox_process() -> AsyncGenerator[dict[str, str]]:
    """`cs-mcp sandbox` in its own process (in-memory database, no rate limits); answers the
    environment variables that point cs-mcp at it."""
    port = free_port()
    process = await anyio.open_process(
        [sys.executable, "-m", "cs_mcp", "sandbox", "--port", str(port), "--db", ":memory:", "--no-rate-limits"],
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_answering(f"{base}/_sandbox/clock")
        yield sandbox_env(base, DEMO_CREDENTIALS)
    finally:
        process.terminate()
        with anyio.fail_after(10):
            await process.wait()
