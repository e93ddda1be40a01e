"""Three replicas' clients, one Redis, one sandbox over loopback that counts per second: together
they stay under the organization's limit, where three local limiters would not."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest

from cs_mcp.client import Api, ContentstackClient, RateLimiter, RateLimits, RetryPolicy
from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxConfig
from cs_mcp.shared_state import SharedRateLimiter, connect, limit_scope
from tests.shared_state.conftest import RedisServer

pytestmark = pytest.mark.anyio

REPLICAS = 3
CALLS_EACH = 8
# One attempt: a 429 must show in the sandbox's count, not be ridden out.
ONCE = RetryPolicy(attempts=1)


async def reads_from_replicas(sandbox: RunningSandbox, limiters: list[RateLimiter]) -> dict[str, Any]:
    """Every replica reads CALLS_EACH times at once; answers the sandbox's stats."""
    settings = Settings.from_env(sandbox.env())
    guard = Guard(builtin_policy())

    async def read(client: ContentstackClient) -> None:
        try:
            await client.request(Api.CMA, "GET", ["locales"])
        except Exception:  # a 429 is the failure under test; the stats count it
            return

    clients = [
        ContentstackClient(settings.client_config(), permits=guard.permits, retry=ONCE, limiter=limiter)
        for limiter in limiters
    ]
    async with anyio.create_task_group() as tg:
        for client in clients:
            for _ in range(CALLS_EACH):
                tg.start_soon(read, client)
    for client in clients:
        await client.aclose()
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as http:
        return (await http.get("/_sandbox/stats")).json()


async def test_three_replicas_on_one_redis_send_no_request_over_the_limit(redis_server: RedisServer) -> None:
    async with running_sandbox(SandboxConfig()) as sandbox:
        settings = Settings.from_env(sandbox.env())
        limiters: list[RateLimiter] = [
            SharedRateLimiter(connect(redis_server.url), limit_scope(settings), RateLimits(), replicas=REPLICAS)
            for _ in range(REPLICAS)
        ]
        stats = await reads_from_replicas(sandbox, limiters)
        org = sandbox.credentials.organization_uid
    for limiter in limiters:
        assert isinstance(limiter, SharedRateLimiter)
        await limiter.redis.aclose()
    assert stats["requests"]["cma"]["GET"] == REPLICAS * CALLS_EACH
    assert stats["rate_limited"] == {org: {}}
    assert stats["peak_per_second"][org]["cma.read"] <= RateLimits().cma_read


async def test_three_replicas_with_their_own_limiters_draw_429s() -> None:
    async with running_sandbox(SandboxConfig()) as sandbox:
        stats = await reads_from_replicas(sandbox, [RateLimiter(RateLimits()) for _ in range(REPLICAS)])
        org = sandbox.credentials.organization_uid
    assert stats["rate_limited"][org]["cma.read"] > 0
