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
from cs_mcp.server import build_server
from tests.helpers import UNPACED

BASE_URL = "http://sandbox.test"


class CountingTransport(httpx2.AsyncBaseTransport):
    """The sandbox app in process, counting every request and every write sent to it."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent = 0
        self.writes = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent += 1
        self.writes += request.method != "GET"
        return await self.inner.handle_async_request(request)


@dataclass
class OnSandbox:
    client: Client
    transport: CountingTransport
    state: SandboxState


@asynccontextmanager
async def on_sandbox(
    *, role: str = "admin", policy: str | None = None, toolsets: str = "all", audit: Path | None = None
) -> AsyncGenerator[OnSandbox]:
    """A client of a server with `toolsets` as `role`, under `policy` (TOML; None: the
    built-in policy), on a fresh seeded sandbox; with `audit`, the guard's audit log there."""
    config = SandboxConfig(rate_limits=False)
    state = SandboxState(config=config, db=Database(config.db_path), clock=SandboxClock())
    transport = CountingTransport(httpx2.ASGITransport(create_app(state)))
    env = sandbox_env(BASE_URL, DEMO_CREDENTIALS) | {"CS_MCP_TOOLSETS": toolsets}
    guard = Guard(
        parse_policy(policy) if policy is not None else builtin_policy(),
        audit=AuditLog(audit) if audit is not None else None,
    )
    server = build_server(
        Settings.from_env(env),
        backend="sandbox",
        guard=guard,
        stdio_role=role,
        transport=transport,
        rate_limits=UNPACED,
    )
    async with Client(server) as client:
        yield OnSandbox(client, transport, state)
