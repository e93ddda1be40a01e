"""Resident memory after start, beside the bare baseline: each server is started over stdio
(cs-mcp configured with credentials pointing at a sandbox this script runs in a thread, and
the bare server `python -m bench.baseline` against the same), and once it has answered its
first `tools/list` its VmRSS is read from /proc/<pid>/status; then again after one call of the
same read (`query_entries` / the bare `get`). The two run in turn; medians of several runs.

    python -m bench.rss [--runs 5]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from bench._common import (
    BARE,
    ENTRIES,
    SERVE,
    beside_bare,
    clean_env,
    in_turn,
    machine,
    proc_stat,
    start_command_line,
    status_mib,
)
from cs_mcp.sandbox.runner import running_sandbox
from cs_mcp.sandbox.state import SandboxConfig


def only_child() -> int:
    """The pid of this process's one child (the stdio server; the sandbox runs in a thread)."""
    me = str(os.getpid())
    children: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = proc_stat(int(entry.name))[1]
        except OSError:  # the process ended between the listing and the read
            continue
        if parent == me:
            children.append(int(entry.name))
    if len(children) != 1:
        raise SystemExit(f"expected one server process, found {len(children)}")
    return children[0]


async def once(args: Sequence[str], env: dict[str, str], tool: str, arguments: dict[str, Any]) -> tuple[float, float]:
    """VmRSS in MiB after the first `tools/list`, and after one call of `tool`."""
    params = StdioServerParameters(command=sys.executable, args=list(args), env=env)
    async with Client(params) as client:
        await client.list_tools()
        pid = only_child()
        started = status_mib(pid, "VmRSS")
        result = await client.call_tool(tool, arguments)
        if result.is_error:
            raise SystemExit(f"{tool} failed: {result.content}")
        called = status_mib(pid, "VmRSS")
    return started, called


async def measure(runs: int) -> str:
    with tempfile.TemporaryDirectory() as home:
        async with running_sandbox(SandboxConfig(rate_limits=False)) as sandbox:
            env = clean_env(**sandbox.env(), XDG_STATE_HOME=home, XDG_DATA_HOME=home)
            bare, ours = await in_turn(
                runs,
                lambda: once(BARE, env, "get", {"path": ENTRIES, "params": {"limit": "5"}}),
                lambda: once(SERVE, env, "query_entries", {"content_type": "blog_post", "limit": 5}),
            )
    b_start, b_call = (statistics.median(x) for x in zip(*bare, strict=True))
    o_start, o_call = (statistics.median(x) for x in zip(*ours, strict=True))
    started = beside_bare(b_start, o_start, "MiB", "<= 1.1")
    called = beside_bare(b_call, o_call, "MiB")
    return (
        f"RSS after first tools/list over stdio: {started}; after one call: {called} (medians of {runs}) [{machine()}]"
    )


def main() -> None:
    start_command_line(__doc__, measure, runs=5)


if __name__ == "__main__":
    main()
