"""Fixtures shared by the sandbox tests: a sandbox over real loopback HTTP and clients for it."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import httpx2
import pytest

from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxClock, SandboxConfig

# The moment every sandbox test starts at, so the seeded stack is the same in every run.
SANDBOX_START = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
async def sandbox() -> AsyncGenerator[RunningSandbox]:
    """A seeded sandbox with an in-memory database and rate limits on, at `SANDBOX_START`."""
    async with running_sandbox(SandboxConfig(rate_limits=True), SandboxClock(SANDBOX_START)) as running:
        yield running


@pytest.fixture
async def sandbox_http(sandbox: RunningSandbox) -> AsyncGenerator[httpx2.AsyncClient]:
    """An HTTP client to `sandbox` that sends the CMA headers (API key and management token)."""
    creds = sandbox.credentials
    headers = {"api_key": creds.api_key, "authorization": creds.management_token}
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=headers) as client:
        yield client
