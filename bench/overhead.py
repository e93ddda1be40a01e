"""Per-call overhead: `query_entries` through MCP (in memory, and over stdio) vs the same request
sent directly with httpx2 to the sandbox. Medians over many calls; the sandbox runs without rate
limits so that the limiter does not dominate.

    python bench/overhead.py [--calls 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters

from bench._common import UNLIMITED, clean_env, machine, median_ms, sandbox_process
from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.server import build_server

ARGS: dict[str, Any] = {"content_type": "blog_post", "limit": 10}


async def direct(env: dict[str, str], calls: int) -> list[float]:
    headers = {
        "api_key": env["CONTENTSTACK_API_KEY"],
        "authorization": env["CONTENTSTACK_MANAGEMENT_TOKEN"],
        "branch": env["CONTENTSTACK_BRANCH"],
    }
    url = f"{env['CONTENTSTACK_CMA_BASE_URL']}/v3/content_types/blog_post/entries"
    params = {"limit": "10", "include_count": "true", "include_publish_details": "true"}
    samples: list[float] = []
    async with httpx2.AsyncClient(headers=headers) as http:
        for _ in range(calls):
            start = time.perf_counter()
            response = await http.get(url, params=params)
            response.raise_for_status()
            response.json()  # any client reads the answer; so does cs-mcp
            samples.append(time.perf_counter() - start)
    return samples


async def through(client: Client, calls: int) -> list[float]:
    samples: list[float] = []
    for _ in range(calls):
        start = time.perf_counter()
        result = await client.call_tool("query_entries", ARGS)
        if result.is_error:
            raise SystemExit(f"query_entries failed: {result.content}")
        samples.append(time.perf_counter() - start)
    return samples


async def measure(calls: int) -> str:
    # The sandbox answers from its own process, as a remote stack would: its work shares
    # neither the event loop nor the interpreter lock with either side.
    async with sandbox_process() as env:
        warm = max(10, calls // 10)
        await direct(env, warm)
        base = median_ms(await direct(env, calls))
        # The sandbox runs unlimited here; so does the client, or its pacing would be measured.
        env = {**env, "CS_MCP_RATE_LIMITS": UNLIMITED}
        server = build_server(Settings.from_env(env), backend="sandbox", guard=Guard(builtin_policy()))
        async with Client(server) as client:
            await through(client, warm)
            memory = median_ms(await through(client, calls))
        params = StdioServerParameters(command=sys.executable, args=["-m", "cs_mcp", "serve"], env=clean_env(**env))
        async with Client(params) as client:
            await through(client, warm)
            stdio = median_ms(await through(client, calls))
    return (
        f"overhead: direct httpx2 {base:.2f} ms, in memory {memory:.2f} ms (+{memory - base:.2f} ms, "
        f"ratio {memory / base:.2f}), stdio {stdio:.2f} ms (+{stdio - base:.2f} ms, ratio {stdio / base:.2f}); "
        f"median of {calls} calls; target overhead <= 1 ms, ratio <= 1.5 [{machine()}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    print(anyio.run(measure, args.calls))


if __name__ == "__main__":
    main()
