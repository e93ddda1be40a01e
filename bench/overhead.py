"""Per-call overhead, in memory, beside the bare baseline (`bench/baseline.py`) in the same run:
the same MCP client calls cs-mcp's tool and the bare server's one tool, which makes the same
single httpx2 GET to the same sandbox. Batches alternate between the two servers so that a
change of load on the machine falls on both; figures are medians.

- `query_entries`, 10 entries of about 1 KB (the sandbox's blog posts) and of 100 KB;
- `get_entry`, one entry of about 1 KB and one of 100 KB;
- connect + initialize (the server's lifespan included);
- `tools/list`.

    python -m bench.overhead [--calls 300]
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import httpx2
from mcp import Client

from bench._common import ENTRIES, UNLIMITED, command_line, in_turn, machine, median_ms, sandbox_process
from bench.baseline import build_baseline
from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.server import build_server

LARGE_QUERY = {"title": {"$regex": "^Bench large "}}
Call = Callable[[], Awaitable[Any]]


async def seed_large(env: dict[str, str]) -> None:
    """Ten blog posts of about 100 KB each."""
    headers = {"api_key": env["CONTENTSTACK_API_KEY"], "authorization": env["CONTENTSTACK_MANAGEMENT_TOKEN"]}
    async with httpx2.AsyncClient(base_url=env["CONTENTSTACK_CMA_BASE_URL"], headers=headers) as http:
        for i in range(10):
            entry = {"title": f"Bench large {i}", "publish_date": "2026-01-15", "summary": "Long read. " * 9_310}
            (await http.post(f"{ENTRIES}", json={"entry": entry})).raise_for_status()


def checked(call: Callable[[], Awaitable[Any]]) -> Call:
    async def run() -> Any:
        result = await call()
        if getattr(result, "is_error", False):
            raise SystemExit(f"a call failed: {result.content}")
        return result

    return run


async def alternate(bare: Call, ours: Call, calls: int, rounds: int = 6) -> tuple[float, float, float, float]:
    """Medians (ms) of `calls` calls of each, in alternating batches after a warm-up; then the
    median of each batch's CPU time a call in this process (client and server, the sandbox runs
    in its own), which the machine's other load moves far less than the time a call takes."""
    for _ in range(max(5, calls // 20)):
        await bare()
        await ours()
    samples: dict[str, list[float]] = {"bare": [], "ours": []}
    cpu: dict[str, list[float]] = {"bare": [], "ours": []}
    batch = max(1, calls // rounds)
    for _ in range(rounds):
        for key, call in (("bare", bare), ("ours", ours)):
            used = time.process_time()
            for _ in range(batch):
                start = time.perf_counter()
                await call()
                samples[key].append(time.perf_counter() - start)
            cpu[key].append((time.process_time() - used) / batch)
    return median_ms(samples["bare"]), median_ms(samples["ours"]), median_ms(cpu["bare"]), median_ms(cpu["ours"])


def line(figure: str, bare: float, ours: float, target: str, cpu: tuple[float, float] | None = None) -> str:
    text = f"{figure}: bare {bare:.2f} ms, cs-mcp {ours:.2f} ms (+{ours - bare:.2f} ms, ratio {ours / bare:.2f})"
    text += f"; {target}"
    if cpu is not None:
        text += f"; CPU a call in process: bare {cpu[0]:.2f} ms, cs-mcp {cpu[1]:.2f} ms (+{cpu[1] - cpu[0]:.2f} ms)"
    return text


def get_entry_case(bare: Client, ours: Client, figure: str, uid: str, target: str) -> tuple[str, Call, Call, str]:
    """One entry read through each server: the bare GET and cs-mcp's `get_entry`."""
    params = {"include_publish_details": "true"}
    return (
        figure,
        checked(lambda: bare.call_tool("get", {"path": f"{ENTRIES}/{uid}", "params": params})),
        checked(lambda: ours.call_tool("get_entry", {"content_type": "blog_post", "uid": uid})),
        target,
    )


async def run_cases(cases: list[tuple[str, Call, Call, str]], calls: int) -> list[str]:
    """One line per case: its medians and CPU a call, from alternating batches of `calls`."""
    lines: list[str] = []
    for figure, bare_call, ours_call, target in cases:
        b, o, b_cpu, o_cpu = await alternate(bare_call, ours_call, calls)
        lines.append(line(figure, b, o, target, (b_cpu, o_cpu)))
    return lines


async def connect_once(make: Callable[[], Any]) -> float:
    """Connect + initialize (the server's lifespan included) of a server built beforehand."""
    server = make()
    start = time.perf_counter()
    async with Client(server):
        elapsed = time.perf_counter() - start
    return elapsed


async def measure(calls: int) -> str:
    out: list[str] = []
    async with sandbox_process() as env:
        ours_env = {**env, "CS_MCP_RATE_LIMITS": UNLIMITED}

        def ours_server() -> Any:
            return build_server(Settings.from_env(ours_env), backend="sandbox", guard=Guard(builtin_policy()))

        def bare_server() -> Any:
            return build_baseline(env)

        async def listed(bare: Client) -> list[dict[str, Any]]:
            some = await bare.call_tool("get", {"path": ENTRIES, "params": {"limit": "30"}})
            return cast(list[dict[str, Any]], (some.structured_content or {})["entries"])

        async with Client(bare_server()) as bare, Client(ours_server()) as ours:
            plain = {"limit": "10", "include_count": "true", "include_publish_details": "true"}
            # The 1 KB cases run before the 100 KB entries are seeded: the newest entries come
            # first, so afterwards the first ten would be the large ones.
            uid = str((await listed(bare))[0]["uid"])  # a blog post of the sandbox's, about 1 KB
            small: list[tuple[str, Call, Call, str]] = [
                (
                    "query_entries 10 x 1 KB",
                    checked(lambda: bare.call_tool("get", {"path": ENTRIES, "params": plain})),
                    checked(lambda: ours.call_tool("query_entries", {"content_type": "blog_post", "limit": 10})),
                    "target <= +0.5 ms, ratio <= 1.10",
                ),
                get_entry_case(bare, ours, "get_entry", uid, "target <= +0.5 ms, ratio <= 1.10"),
                ("tools/list in memory", bare.list_tools, ours.list_tools, "no target of its own"),
            ]
            out += await run_cases(small, calls)
            await seed_large(env)
            large_uid = next(str(e["uid"]) for e in await listed(bare) if str(e["title"]).startswith("Bench large"))
            large = {**plain, "query": json.dumps(LARGE_QUERY)}
            big: list[tuple[str, Call, Call, str]] = [
                (
                    "query_entries 10 x 100 KB",
                    checked(lambda: bare.call_tool("get", {"path": ENTRIES, "params": large})),
                    checked(
                        lambda: ours.call_tool(
                            "query_entries", {"content_type": "blog_post", "limit": 10, "query": LARGE_QUERY}
                        )
                    ),
                    "target <= +1 ms, ratio <= 1.15",
                ),
                get_entry_case(bare, ours, "get_entry 100 KB", large_uid, "target <= +1 ms, ratio <= 1.15"),
            ]
            out += await run_cases(big, max(30, calls // 5))
        connects = max(10, calls // 10)
        b_samples, o_samples = await in_turn(
            connects, lambda: connect_once(bare_server), lambda: connect_once(ours_server)
        )
        out.append(
            line("connect + initialize in memory", median_ms(b_samples), median_ms(o_samples), "no target of its own")
        )
    out.append(f"medians of alternating batches, {calls} calls each [{machine()}]")
    return "\n".join(out)


def main() -> None:
    command_line(__doc__, measure, calls=300)


if __name__ == "__main__":
    main()
