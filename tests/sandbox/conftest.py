"""Fixtures shared by the sandbox tests: a sandbox over real loopback HTTP and clients for it."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import httpx2
import pytest

from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxClock, SandboxConfig, SandboxState
from tests.sandbox._delivery import CMA_HEADERS, Delivery

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


@pytest.fixture
def state(sandbox: RunningSandbox) -> SandboxState:
    """The running sandbox's state, for tests that arrange data in its store directly."""
    return sandbox.state


@pytest.fixture
async def cma(sandbox: RunningSandbox) -> AsyncGenerator[httpx2.AsyncClient]:
    """An HTTP client to the sandbox's CMA (`/cma/v3`) with the API key and management token."""
    async with httpx2.AsyncClient(base_url=f"{sandbox.base_url}/cma/v3", headers=CMA_HEADERS) as client:
        yield client


@pytest.fixture
async def cda(sandbox: RunningSandbox) -> AsyncGenerator[Delivery]:
    """What the sandbox's CDA serves, read with each environment's delivery token."""
    creds = sandbox.credentials
    async with httpx2.AsyncClient(base_url=f"{sandbox.base_url}/cdn/v3", headers={"api_key": creds.api_key}) as client:
        yield Delivery(client, dict(creds.delivery_tokens))
