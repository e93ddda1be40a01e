"""A cs-mcp server in memory on a sandbox over real loopback, for the reliability tests."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from mcp import Client

from cs_mcp.client import RetryPolicy
from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy, guard_from_settings
from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxClock, SandboxConfig
from tests.helpers import sandbox_server

START = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)

# The client's own backoff would only make these tests slow: faults are the subject.
NO_WAIT = RetryPolicy(base_delay=0, max_delay=0, rate_limited_min_delay=0, total_seconds=10)


@dataclass
class Stack:
    sandbox: RunningSandbox
    client: Client

    def writes(self, path_part: str, method: str = "POST") -> int:
        """How many `method` requests whose path contains `path_part` reached the sandbox."""
        return sum(1 for _api, m, path in self.sandbox.state.request_log if m == method and path_part in path)


@asynccontextmanager
async def stack(role: str = "admin", guard: Guard | None = None, **env: str) -> AsyncGenerator[Stack]:
    async with running_sandbox(SandboxConfig(rate_limits=False), SandboxClock(START)) as sandbox:
        settings = Settings.from_env({**sandbox.env(), **env})
        if guard is None:
            # With an audit log asked for, the guard the CLI builds; else one that audits nothing.
            guard = guard_from_settings(settings) if "CS_MCP_AUDIT_LOG" in env else Guard(builtin_policy())
        async with Client(sandbox_server(settings, guard, role, retry=NO_WAIT)) as client:
            yield Stack(sandbox, client)
