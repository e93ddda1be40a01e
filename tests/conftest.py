"""Fixtures every test may use: the anyio backend, and the sandbox in process (`on_sandbox`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from mcp import Client

from cs_mcp.config import Settings
from cs_mcp.guard import Guard
from cs_mcp.sandbox.app import create_app
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.runner import sandbox_env
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState
from cs_mcp.server import build_server
from tests.helpers import UNPACED, CountingTransport

SANDBOX_START = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class SandboxStack:
    """A freshly seeded sandbox app, reached in process through a `CountingTransport`: the tool
    tests call the real server on it, so a wrong parameter meets Contentstack's documented
    answer, not a fake that answers the same whatever it is sent."""

    state: SandboxState
    transport: CountingTransport
    settings: Settings

    def client(self, role: str = "admin", *, guard: Guard | None = None, **env: str) -> Client:
        """An in-memory MCP client of a server for `role` on this sandbox (`env` adds settings)."""
        settings = (
            Settings.from_env({**sandbox_env("http://sandbox.test", DEMO_CREDENTIALS), **env}) if env else self.settings
        )
        return Client(
            build_server(
                settings, backend="sandbox", guard=guard, stdio_role=role, transport=self.transport, rate_limits=UNPACED
            )
        )

    def writes(self) -> list[tuple[str, str]]:
        """(method, path) of every request that was not a read."""
        return self.transport.writes()

    def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows of the sandbox's database, as dicts."""
        with self.state.db.read() as conn:
            return [dict(row) for row in conn.execute(sql, params)]


@pytest.fixture
def on_sandbox() -> SandboxStack:
    config = SandboxConfig(rate_limits=False)
    state = SandboxState(config=config, db=Database(config.db_path), clock=SandboxClock(SANDBOX_START))
    transport = CountingTransport(httpx2.ASGITransport(create_app(state)))
    return SandboxStack(state, transport, Settings.from_env(sandbox_env("http://sandbox.test", DEMO_CREDENTIALS)))
