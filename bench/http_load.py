"""Streamable HTTP under load: concurrent MCP clients calling `query_entries` against
`cs-mcp serve --transport http` (a separate process) backed by the sandbox, with the sandbox's
and the client's rate limits lifted so that the server itself is measured; p50 and p99 latency,
errors, and the server's peak memory (VmHWM).

    python -m bench.http_load [--clients 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench._common import UNLIMITED, clean_env, free_port, machine, percentile_ms, wait_answering
from cs_mcp.sandbox.runner import running_sandbox
from cs_mcp.sandbox.state import SandboxConfig

TOKEN = "bench-load-token-0123456789abcdef"


def peak_memory_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def one_client(url: str, deadline: float, latencies: list[float], errors: list[str]) -> None:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                result = await client.call_tool("query_entries", {"content_type": "blog_post", "limit": 5})
            except Exception as exc:  # a benchmark counts every failure, whatever its kind
                errors.append(type(exc).__name__)
                continue
            latencies.append(time.perf_counter() - start)
            if result.is_error:
                errors.append("tool error")


async def measure(clients: int, seconds: float) -> str:
    async with running_sandbox(SandboxConfig(rate_limits=False)) as sandbox:
        with tempfile.TemporaryDirectory() as tmp:
            policy = Path(tmp) / "policy.toml"
            digest = hashlib.sha256(TOKEN.encode()).hexdigest()
            policy.write_text(f'[[principals]]\nname = "load"\ntoken_sha256 = "{digest}"\nrole = "viewer"\n')
            port = free_port()
            # cs-mcp's own pacing is lifted: the subject is the server, not Contentstack's limits.
            env = clean_env(**sandbox.env(), XDG_STATE_HOME=tmp, CS_MCP_RATE_LIMITS=UNLIMITED)
            command = [sys.executable, "-m", "cs_mcp", "serve", "--transport", "http", "--port", str(port)]
            process = await anyio.open_process(
                [*command, "--policy", str(policy)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                await wait_answering(f"{base}/healthz")
                latencies: list[float] = []
                errors: list[str] = []
                deadline = time.monotonic() + seconds
                async with anyio.create_task_group() as tg:
                    for _ in range(clients):
                        tg.start_soon(one_client, f"{base}/mcp", deadline, latencies, errors)
                memory = peak_memory_mib(process.pid)
            finally:
                process.terminate()
                with anyio.fail_after(10):
                    await process.wait()
    return (
        f"http load: {clients} clients for {seconds:.0f} s: {len(latencies)} calls "
        f"({len(latencies) / seconds:.0f}/s), p50 {percentile_ms(latencies, 50):.1f} ms, "
        f"p99 {percentile_ms(latencies, 99):.1f} ms, errors {len(errors)} (target 0), "
        f"server peak memory {memory:.0f} MiB [{machine()}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    print(anyio.run(measure, args.clients, args.seconds))


if __name__ == "__main__":
    main()
