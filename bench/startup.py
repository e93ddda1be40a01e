"""Start-up: process start to the first `tools/list` answer over stdio. Medians of several runs,
in two configurations:

- configured: credentials set (here pointing at a sandbox this script runs), the usual case;
- embedded sandbox: no credentials, so `cs-mcp serve` starts its own sandbox on a database
  file that an earlier run seeded, as on every start after the first.

    python -m bench.startup [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence

import anyio
from mcp import Client, StdioServerParameters

from bench._common import clean_env, machine
from cs_mcp.sandbox.runner import running_sandbox
from cs_mcp.sandbox.state import SandboxConfig


async def once(args: Sequence[str], env: dict[str, str]) -> float:
    params = StdioServerParameters(command=sys.executable, args=["-m", "cs_mcp", "serve", *args], env=env)
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


async def measure(runs: int) -> str:
    with tempfile.TemporaryDirectory() as home:
        dirs = {"XDG_STATE_HOME": home, "XDG_DATA_HOME": home}
        async with running_sandbox(SandboxConfig(rate_limits=False)) as sandbox:
            configured = await median_of(runs, [], clean_env(**sandbox.env(), **dirs))
        embedded = await median_of(runs, [], clean_env(**dirs))
    return (
        f"start-up to first tools/list over stdio: configured {configured * 1000:.0f} ms, "
        f"embedded sandbox {embedded * 1000:.0f} ms (medians of {runs}); target < 1000 ms, "
        f"ratio {configured:.2f} of target [{machine()}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    print(anyio.run(measure, parser.parse_args().runs))


if __name__ == "__main__":
    main()
