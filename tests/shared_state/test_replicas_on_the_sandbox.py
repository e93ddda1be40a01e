"""Three replicas' clients, one Redis, one sandbox over loopback that counts per second: together
they stay under the organization's limit, where three local limiters would not."""

from __future__ import annotations

from collections.abc import Sequence
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


async def reads_from_replicas(sandbox: RunningSandbox, limiters: Sequence[RateLimiter]) -> dict[str, Any]:
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


def shared_limiters(redis_server: RedisServer, sandbox: RunningSandbox) -> list[SharedRateLimiter]:
    scope = limit_scope(Settings.from_env(sandbox.env()))
    return [
        SharedRateLimiter(connect(redis_server.url), scope, RateLimits(), replicas=REPLICAS) for _ in range(REPLICAS)
    ]


# With Redis down each replica falls back to 1/N of the limit: together still under it.
@pytest.mark.parametrize(
    ("redis_down", "most"), [(False, RateLimits().cma_read), (True, REPLICAS * (RateLimits().cma_read // REPLICAS))]
)
async def test_three_replicas_on_one_redis_send_no_request_over_the_limit_even_when_it_goes_down(
    redis_server: RedisServer, redis_down: bool, most: int
) -> None:
    async with running_sandbox(SandboxConfig()) as sandbox:
        limiters = shared_limiters(redis_server, sandbox)
        if redis_down:
            redis_server.stop()
        stats = await reads_from_replicas(sandbox, limiters)
        org = sandbox.credentials.organization_uid
    for limiter in limiters:
        await limiter.redis.aclose()
    assert stats["requests"]["cma"]["GET"] == REPLICAS * CALLS_EACH
    assert stats["rate_limited"] == {org: {}}
    assert stats["peak_per_second"][org]["cma.read"] <= most


async def test_three_replicas_with_their_own_limiters_draw_429s() -> None:
    async with running_sandbox(SandboxConfig()) as sandbox:
        stats = await reads_from_replicas(sandbox, [RateLimiter(RateLimits()) for _ in range(REPLICAS)])
        org = sandbox.credentials.organization_uid
    assert stats["rate_limited"][org]["cma.read"] > 0
