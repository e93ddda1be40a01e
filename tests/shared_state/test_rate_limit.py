"""The rate limiter shared by replicas through a real Redis: one window for all, and a safe
fallback when Redis goes away."""

from __future__ import annotations

import logging
from contextvars import ContextVar

import anyio
import pytest

from cs_mcp.client import RateLimits
from cs_mcp.client._ratelimit import WINDOW_SECONDS
from cs_mcp.shared_state import SharedRateLimiter, connect
from tests.shared_state.conftest import RedisServer

pytestmark = pytest.mark.anyio


class FrozenTime:
    """A clock that stands still (until a test moves it with `at`) and a sleep that only
    records: each grant's time is then the moment the limiter asked the caller to wait until,
    whatever the network took."""

    def __init__(self) -> None:
        self.grants: list[float] = []
        self.at = 0.0
        self._waits: ContextVar[list[float]] = ContextVar("waits")

    def now(self) -> float:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self._waits.get().append(seconds)

    async def acquire(self, limiter: SharedRateLimiter, key: str) -> None:
        """One grant, recorded at the time the caller was told to wait until (each task has its
        own context, so concurrent grants do not mix their waits)."""
        waits: list[float] = []
        self._waits.set(waits)
        await limiter.acquire(key)
        self.grants.append(self.at + sum(waits))


def replica(server: RedisServer, time: FrozenTime, limits: RateLimits, replicas: int = 3) -> SharedRateLimiter:
    return SharedRateLimiter(
        connect(server.url),
        "org-1",
        limits,
        replicas=replicas,
        clock=time.now,
        sleep=time.sleep,
        shared_clock=time.now,
    )


def most_in_one_window(grants: list[float]) -> int:
    ordered = sorted(grants)
    return max(sum(1 for t in ordered if start <= t < start + WINDOW_SECONDS) for start in ordered)


async def test_two_replicas_sharing_a_window_never_exceed_the_limit_together(redis_server: RedisServer) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_write=5)
    first, second = replica(redis_server, time, limits), replica(redis_server, time, limits)
    async with anyio.create_task_group() as tg:
        for n in range(24):
            tg.start_soon(time.acquire, first if n % 2 else second, "cma.write")
    await first.redis.aclose()
    await second.redis.aclose()
    assert len(time.grants) == 24
    assert most_in_one_window(time.grants) == 5
    assert max(time.grants) >= 4 * WINDOW_SECONDS, "24 grants at 5 a second take more than four windows"


async def test_each_organization_and_family_has_its_own_window(redis_server: RedisServer) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_write=2, cma_read=2)
    mine = replica(redis_server, time, limits)
    other = SharedRateLimiter(
        connect(redis_server.url), "org-2", limits, clock=time.now, sleep=time.sleep, shared_clock=time.now
    )
    for limiter, key in [(mine, "cma.write"), (mine, "cma.write"), (mine, "cma.read"), (other, "cma.write")]:
        await time.acquire(limiter, key)
    await mine.redis.aclose()
    await other.redis.aclose()
    assert time.grants == [0.0, 0.0, 0.0, 0.0]


async def test_a_remaining_of_zero_seen_by_one_replica_throttles_the_other(redis_server: RedisServer) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_read=10)
    first, second = replica(redis_server, time, limits), replica(redis_server, time, limits)
    await time.acquire(first, "cma.read")
    first.window("cma.read").observe(0)
    await time.acquire(first, "cma.read")
    await time.acquire(second, "cma.read")
    await first.redis.aclose()
    await second.redis.aclose()
    assert time.grants[0] == 0.0
    assert time.grants[1] >= WINDOW_SECONDS
    assert time.grants[2] >= WINDOW_SECONDS, "the second replica waits out the window the first was told is full"


async def test_with_redis_gone_a_replica_limits_itself_to_its_share_and_warns_once(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    time = FrozenTime()
    limiter = replica(redis_server, time, RateLimits(cma_write=9), replicas=3)
    await time.acquire(limiter, "cma.write")
    redis_server.stop()
    time.grants.clear()
    with caplog.at_level(logging.WARNING, logger="cs_mcp.shared_state"):
        for _ in range(7):
            await time.acquire(limiter, "cma.write")
    await limiter.redis.aclose()
    assert len(time.grants) == 7
    assert most_in_one_window(time.grants) == 3, "a third of 9 a second, never unlimited"
    warnings = [r for r in caplog.records if r.name == "cs_mcp.shared_state" and r.levelno == logging.WARNING]
    assert len(warnings) == 1


async def test_a_burst_of_concurrent_calls_waits_for_connections_instead_of_falling_back(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    time = FrozenTime()
    limiter = replica(redis_server, time, RateLimits(cma_read=100_000))
    with caplog.at_level(logging.WARNING, logger="cs_mcp.shared_state"):
        async with anyio.create_task_group() as tg:
            for _ in range(2000):
                tg.start_soon(time.acquire, limiter, "cma.read")
    counted = await limiter.redis.zcard("cs-mcp:rl:org-1:cma.read")
    await limiter.redis.aclose()
    assert [r for r in caplog.records if r.name == "cs_mcp.shared_state"] == []
    assert counted == 2000, "every grant was reserved in Redis, none in the fallback"


async def test_when_redis_goes_down_mid_run_the_share_starts_after_the_places_already_granted(
    redis_server: RedisServer,
) -> None:
    time = FrozenTime()
    limiter = replica(redis_server, time, RateLimits(cma_write=9), replicas=3)
    for _ in range(18):  # two windows' worth: the last places are a window and its slack ahead
        await time.acquire(limiter, "cma.write")
    last_shared = max(time.grants)
    redis_server.stop()
    time.grants.clear()
    for _ in range(4):
        await time.acquire(limiter, "cma.write")
    await limiter.redis.aclose()
    assert last_shared >= WINDOW_SECONDS
    assert min(time.grants) >= last_shared + 2 * WINDOW_SECONDS, "no send of the share beside the shared places"
    assert most_in_one_window(time.grants) == 3


async def test_a_replica_back_from_an_outage_keeps_to_its_share_for_a_while_then_uses_the_whole_window(
    redis_server: RedisServer,
) -> None:
    time = FrozenTime()
    limiter = replica(redis_server, time, RateLimits(cma_write=9), replicas=3)
    redis_server.stop()
    await time.acquire(limiter, "cma.write")  # on the share from now on
    redis_server.start()
    time.at = 10.0  # past the retry delay and every window
    time.grants.clear()
    for _ in range(6):
        await time.acquire(limiter, "cma.write")
    settling = list(time.grants)
    time.at = 20.0
    time.grants.clear()
    for _ in range(9):
        await time.acquire(limiter, "cma.write")
    await limiter.redis.aclose()
    assert most_in_one_window(settling) == 3, "other replicas may still be on their shares, unseen"
    assert most_in_one_window(time.grants) == 9
