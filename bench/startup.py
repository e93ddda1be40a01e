"""Start-up: process start to the first `tools/list` answer over stdio, beside the bare baseline
(`bench/baseline.py`, run in turn with cs-mcp). Medians of several runs, in two configurations:

- configured: credentials set (here pointing at a sandbox this script runs), the usual case;
- embedded sandbox: no credentials, so `cs-mcp serve` starts its own sandbox on a database
  file that an earlier run seeded, as on every start after the first.

    python -m bench.startup [--runs 7]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Sequence

from mcp import Client, StdioServerParameters

from bench._common import BARE, SERVE, beside_bare, clean_env, in_turn, machine, start_command_line
from cs_mcp.sandbox.runner import running_sandbox
from cs_mcp.sandbox.state import SandboxConfig


async def once(args: Sequence[str], env: dict[str, str]) -> float:
    params = StdioServerParameters(command=sys.executable, args=list(args), env=env)
    start = time.perf_counter()
    async with Client(params) as client:
        tools = await client.list_tools()
        elapsed = time.perf_counter() - start
    if not tools.tools:
        raise SystemExit("the server listed no tools")
    return elapsed


async def median_of(runs: int, args: Sequence[str], env: dict[str, str]) -> float:
    await once(args, env)  # warm the file system cache and, for the embedded sandbox, seed its file
    return statistics.median([await once(args, env) for _ in range(runs)])


async def alternating(runs: int, env: dict[str, str]) -> tuple[float, float]:
    """Medians of the bare server's and cs-mcp's start, run in turn so that load falls on both."""
    await once(BARE, env)
    await once(SERVE, env)
    bare, ours = await in_turn(runs, lambda: once(BARE, env), lambda: once(SERVE, env))
    return statistics.median(bare), statistics.median(ours)


async def measure(runs: int) -> str:
    with tempfile.TemporaryDirectory() as home:
        dirs = {"XDG_STATE_HOME": home, "XDG_DATA_HOME": home}
        async with running_sandbox(SandboxConfig(rate_limits=False)) as sandbox:
            bare, configured = await alternating(runs, clean_env(**sandbox.env(), **dirs))
        embedded = await median_of(runs, SERVE, clean_env(**dirs))
    started = beside_bare(bare * 1000, configured * 1000, "ms", "<= 1.15", digits=0, ours_as="cs-mcp configured")
    return (
        f"start-up to first tools/list over stdio: {started}, embedded sandbox {embedded * 1000:.0f} ms "
        f"(medians of {runs}) [{machine()}]"
    )


def main() -> None:
    start_command_line(__doc__, measure, runs=7)


if __name__ == "__main__":
    main()
