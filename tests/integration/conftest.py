"""The sandbox every end-to-end flow runs on, over real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxConfig


# The sandbox's rate limits are off (and the client's wide, see mcp_client): no flow here is about pacing.
@pytest.fixture
async def sandbox() -> AsyncGenerator[RunningSandbox]:
    async with running_sandbox(SandboxConfig(rate_limits=False)) as running:
        yield running
