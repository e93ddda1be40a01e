"""A server on the sandbox in process, for the toolsets' tests: the sandbox app behind an
`httpx2.ASGITransport` that counts what the client sends, and the MCP client in memory."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from mcp import Client

from cs_mcp.config import Settings
from cs_mcp.guard import AuditLog, Guard, builtin_policy, parse_policy
from cs_mcp.sandbox.app import create_app
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.runner import sandbox_env
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState
from tests.helpers import CountingTransport, sandbox_server

BASE_URL = "http://sandbox.test"


@dataclass
class OnSandbox:
    client: Client
    transport: CountingTransport
    state: SandboxState


@dataclass
class InProcessSandbox:
    """A fresh seeded sandbox served in process, the transport to it that counts what is sent,
    and the settings that reach it."""

    state: SandboxState
    transport: CountingTransport
    settings: Settings

    @classmethod
    def start(cls, toolsets: str = "all") -> InProcessSandbox:
        """The sandbox (rate limits off) with `toolsets` on."""
        config = SandboxConfig(rate_limits=False)
        state = SandboxState(config=config, db=Database(config.db_path), clock=SandboxClock())
        transport = CountingTransport(httpx2.ASGITransport(create_app(state)))
        env = sandbox_env(BASE_URL, DEMO_CREDENTIALS) | {"CS_MCP_TOOLSETS": toolsets}
        return cls(state, transport, Settings.from_env(env))

    def client(self, guard: Guard, role: str) -> Client:
        """An MCP client, in memory, of a server on this sandbox for `role` under `guard`."""
        return Client(sandbox_server(self.settings, guard, role, transport=self.transport))


@asynccontextmanager
async def on_sandbox(
    *, role: str = "admin", policy: str | None = None, toolsets: str = "all", audit: Path | None = None
) -> AsyncGenerator[OnSandbox]:
    """A client of a server with `toolsets` as `role`, under `policy` (TOML; None: the
    built-in policy), on a fresh seeded sandbox; with `audit`, the guard's audit log there."""
    sandbox = InProcessSandbox.start(toolsets)
    guard = Guard(
        parse_policy(policy) if policy is not None else builtin_policy(),
        audit=AuditLog(audit) if audit is not None else None,
    )
    async with sandbox.client(guard, role) as client:
        yield OnSandbox(client, sandbox.transport, sandbox.state)
