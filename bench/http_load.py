"""Streamable HTTP under load, beside the bare baseline: concurrent MCP clients calling
`query_entries` on `cs-mcp serve --transport http` and the same GET through the bare server's
one tool (`python -m bench.baseline --http PORT`), each server in its own process, both backed
by one sandbox process on loopback with the sandbox's and cs-mcp's rate limits lifted, so that
the servers themselves are measured. The two servers take turns in rounds (the load of the
machine falls on both); each gets `--seconds` in all. Throughput, p50 and p99 latency, errors,
the server's peak memory (VmHWM), and cs-mcp's ratios to the bare server.

    python -m bench.http_load [--clients 50] [--seconds 60] [--rounds 2]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp import Client

from bench._common import (
    ENTRIES,
    UNLIMITED,
    clean_env,
    command_line,
    machine,
    mcp_http_session,
    percentile_ms,
    proc_stat,
    sandbox_process,
    serving,
    status_mib,
)

TOKEN = "bench-load-token-0123456789abcdef"
# What cs-mcp's `query_entries` with limit 5 sends, so that both servers ask the sandbox the same.
BARE_PARAMS = {"limit": "5", "include_count": "true", "include_publish_details": "true"}

Call = Callable[[Client], Awaitable[Any]]


async def call_ours(client: Client) -> Any:
    return await client.call_tool("query_entries", {"content_type": "blog_post", "limit": 5})


async def call_bare(client: Client) -> Any:
    return await client.call_tool("get", {"path": ENTRIES, "params": BARE_PARAMS})


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list[float])
    errors: list[str] = field(default_factory=list[str])
    seconds: float = 0.0
    peak_mib: float = 0.0
    cpu_seconds: float = 0.0

    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def line(self, name: str) -> str:
        return (
            f"{name}: {len(self.latencies)} calls ({self.throughput():.0f}/s), "
            f"p50 {percentile_ms(self.latencies, 50):.1f} ms, p99 {percentile_ms(self.latencies, 99):.1f} ms, "
            f"errors {len(self.errors)}, server peak memory {self.peak_mib:.0f} MiB, "
            f"server CPU {self.cpu_seconds / max(1, len(self.latencies)) * 1000:.2f} ms a call"
        )


async def one_client(url: str, call: Call, deadline: float, figures: Figures) -> None:
    async with mcp_http_session(url, TOKEN) as client:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                result = await call(client)
            except Exception as exc:  # a benchmark counts every failure, whatever its kind
                figures.errors.append(type(exc).__name__)
                continue
            figures.latencies.append(time.perf_counter() - start)
            if result.is_error:
                figures.errors.append("tool error")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (/proc/<pid>/stat, after the name)."""
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    command: list[str], env: dict[str, str], call: Call, clients: int, seconds: float, into: Figures
) -> None:
    """Starts a server (`command`, `{port}` standing for a free port), waits until it answers
    /healthz, drives `clients` clients at it with `call` for `seconds`, adds to `into`, stops it."""
    async with serving(command, env) as (process, base):
        started = time.monotonic()
        cpu_before = cpu_seconds(process.pid)  # the start's imports are not the load's
        deadline = started + seconds
        async with anyio.create_task_group() as tg:
            for _ in range(clients):
                tg.start_soon(one_client, f"{base}/mcp", call, deadline, into)
        into.seconds += time.monotonic() - started
        into.peak_mib = max(into.peak_mib, status_mib(process.pid, "VmHWM"))
        into.cpu_seconds += cpu_seconds(process.pid) - cpu_before


def ratio_line(bare: Figures, ours: Figures) -> str:
    throughput = ours.throughput() / bare.throughput()
    p99 = percentile_ms(ours.latencies, 99) / percentile_ms(bare.latencies, 99)
    return (
        f"ratios cs-mcp / bare: throughput {throughput:.2f} (target >= 0.95), p99 {p99:.2f} (target <= 1.1), "
        f"p50 {percentile_ms(ours.latencies, 50) / percentile_ms(bare.latencies, 50):.2f}; "
        f"errors {len(ours.errors)} and {len(bare.errors)} (target 0)"
    )


async def measure(clients: int, seconds: float, rounds: int) -> str:
    bare, ours = Figures(), Figures()
    async with sandbox_process() as stack:
        with tempfile.TemporaryDirectory() as tmp:
            # cs-mcp's own pacing is lifted: the subject is the server, not Contentstack's limits.
            # CS_MCP_TOKEN: the bearer token the clients send (else serve makes a new one).
            env = clean_env(**stack, XDG_STATE_HOME=tmp, CS_MCP_RATE_LIMITS=UNLIMITED, CS_MCP_TOKEN=TOKEN)
            serve = [sys.executable, "-m", "cs_mcp", "serve", "--transport", "http", "--port", "{port}"]
            baseline = [sys.executable, "-m", "bench.baseline", "--http", "{port}"]
            for _ in range(rounds):
                await load(baseline, env, call_bare, clients, seconds / rounds, bare)
                await load(serve, env, call_ours, clients, seconds / rounds, ours)
    return "\n".join(
        [
            f"http load: {clients} clients, {seconds:.0f} s each server in {rounds} alternating rounds [{machine()}]",
            bare.line("  bare  "),
            ours.line("  cs-mcp"),
            "  " + ratio_line(bare, ours),
        ]
    )


def main() -> None:
    command_line(__doc__, measure, clients=50, seconds=60.0, rounds=2)


if __name__ == "__main__":
    main()
