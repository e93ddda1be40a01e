"""The rate limiter shared by replicas through a real Redis: one window for all, and a safe
fallback when Redis goes away."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextvars import ContextVar
from typing import TypeVar, cast

import anyio
import pytest
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError

from cs_mcp.client import Places, RateLimits
from cs_mcp.client._ratelimit import WINDOW_SECONDS
from cs_mcp.config import Settings
from cs_mcp.shared_state import (
    FLIGHT_HOLD_SECONDS,
    RATE_KEY_PREFIX,
    SETTLE_CAP_SECONDS,
    SHARED_SPAN_SECONDS,
    SharedRateLimiter,
    connect,
    shared_limiter,
    shared_limiter_closed,
)
from tests.shared_state.conftest import RedisServer

pytestmark = pytest.mark.anyio

L = TypeVar("L", bound=SharedRateLimiter)


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

    async def acquire(self, limiter: SharedRateLimiter, key: str, times: int = 1) -> None:
        """`times` grants one after the other, each recorded at the time the caller was told to
        wait until (each task has its own context, so concurrent grants do not mix their waits),
        whose answer comes at once."""
        for _ in range(times):
            await (await self.hold(limiter, key)).release()

    async def hold(self, limiter: SharedRateLimiter, key: str) -> Places:
        """One grant, recorded as `acquire` does, whose request stays in flight until the
        caller releases it."""
        waits: list[float] = []
        self._waits.set(waits)
        places = await limiter.acquire(key)
        self.grants.append(self.at + sum(waits))
        return places


class Replicas:
    """Makes the replicas' limiters of one test, all on one Redis, and closes them when it ends."""

    def __init__(self, server: RedisServer) -> None:
        self._server = server
        self._made: list[SharedRateLimiter] = []

    def __call__(
        self,
        time: FrozenTime,
        limits: RateLimits,
        replicas: int = 3,
        kind: type[L] = SharedRateLimiter,
        scope: str = "org-1",
        name: str | None = None,
    ) -> L:
        """One replica's limiter on `time`'s clock; `kind` is a subclass that fakes a fault;
        `name` is its `CS_MCP_REPLICA_NAME`."""
        limiter = kind(
            connect(self._server.url),
            scope,
            limits,
            replicas=replicas,
            replica_name=name,
            clock=time.now,
            sleep=time.sleep,
            shared_clock=time.now,
        )
        self._made.append(limiter)
        return limiter

    async def close(self) -> None:
        for limiter in self._made:
            await limiter.redis.aclose()


@pytest.fixture
async def replica(redis_server: RedisServer) -> AsyncGenerator[Replicas]:
    made = Replicas(redis_server)
    try:
        yield made
    finally:
        await made.close()


async def through_an_outage(server: RedisServer, time: FrozenTime, *limiters: SharedRateLimiter) -> None:
    """Redis goes away while each of `limiters` sends one write (on its share), and comes back,
    empty, at 5.0: past the retry delay and every window."""
    server.stop()
    for limiter in limiters:
        await time.acquire(limiter, "cma.write")
    server.start()
    time.at = 5.0


def most_in_one_window(grants: list[float]) -> int:
    ordered = sorted(grants)
    return max(sum(1 for t in ordered if start <= t < start + WINDOW_SECONDS) for start in ordered)


async def most_granted_in_one_window(time: FrozenTime, limiter: SharedRateLimiter, writes: int) -> int:
    """Of `writes` writes granted to `limiter` one after the other from now, the most in one window."""
    time.grants.clear()
    await time.acquire(limiter, "cma.write", times=writes)
    return most_in_one_window(time.grants)


async def test_two_replicas_sharing_a_window_never_exceed_the_limit_together(replica: Replicas) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_write=5)
    first, second = replica(time, limits), replica(time, limits)
    async with anyio.create_task_group() as tg:
        for n in range(24):
            tg.start_soon(time.acquire, first if n % 2 else second, "cma.write")
    assert len(time.grants) == 24
    # At most: on the frozen clock a request is in flight for as long as the other tasks' round
    # trips to Redis take, which holds places longer in virtual time than it would in real time.
    assert most_in_one_window(time.grants) <= 5
    assert max(time.grants) >= 4 * WINDOW_SECONDS, "24 grants at 5 a second take more than four windows"


async def test_each_organization_and_family_has_its_own_window(replica: Replicas) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_write=2, cma_read=2)
    mine = replica(time, limits)
    other = replica(time, limits, scope="org-2")
    for limiter, key in [(mine, "cma.write"), (mine, "cma.write"), (mine, "cma.read"), (other, "cma.write")]:
        await time.acquire(limiter, key)
    assert time.grants == [0.0, 0.0, 0.0, 0.0]


async def test_a_remaining_of_zero_seen_by_one_replica_throttles_the_other(replica: Replicas) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_read=10)
    first, second = replica(time, limits), replica(time, limits)
    await time.acquire(first, "cma.read")
    first.window("cma.read").observe(0)
    await time.acquire(first, "cma.read")
    await time.acquire(second, "cma.read")
    assert time.grants[0] == 0.0
    assert time.grants[1] >= WINDOW_SECONDS
    assert time.grants[2] >= WINDOW_SECONDS, "the second replica waits out the window the first was told is full"


async def test_with_redis_gone_a_replica_limits_itself_to_its_share_and_warns_once(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture, replica: Replicas
) -> None:
    time = FrozenTime()
    limiter = replica(time, RateLimits(cma_write=9), replicas=3)
    await time.acquire(limiter, "cma.write")
    redis_server.stop()
    time.grants.clear()
    with caplog.at_level(logging.WARNING, logger="cs_mcp.shared_state"):
        await time.acquire(limiter, "cma.write", times=7)
    assert len(time.grants) == 7
    assert most_in_one_window(time.grants) == 3, "a third of 9 a second, never unlimited"
    warnings = [r for r in caplog.records if r.name == "cs_mcp.shared_state" and r.levelno == logging.WARNING]
    assert len(warnings) == 1


async def test_a_burst_of_concurrent_calls_waits_for_connections_instead_of_falling_back(
    caplog: pytest.LogCaptureFixture, replica: Replicas
) -> None:
    time = FrozenTime()
    limiter = replica(time, RateLimits(cma_read=100_000))
    with caplog.at_level(logging.WARNING, logger="cs_mcp.shared_state"):
        async with anyio.create_task_group() as tg:
            for _ in range(2000):
                tg.start_soon(time.acquire, limiter, "cma.read")
    counted = await limiter.redis.zcard(f"{RATE_KEY_PREFIX}:org-1:cma.read")
    assert [r for r in caplog.records if r.name == "cs_mcp.shared_state"] == []
    assert counted == 2000, "every grant was reserved in Redis, none in the fallback"


async def test_when_redis_goes_down_mid_run_the_share_starts_after_the_places_already_granted(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    limiter = replica(time, RateLimits(cma_write=9), replicas=3)
    await time.acquire(
        limiter, "cma.write", times=18
    )  # two windows' worth: the last places are a window and its slack ahead
    last_shared = max(time.grants)
    redis_server.stop()
    time.grants.clear()
    await time.acquire(limiter, "cma.write", times=4)
    assert last_shared >= WINDOW_SECONDS
    assert min(time.grants) >= last_shared + 2 * WINDOW_SECONDS, "no send of the share beside the shared places"
    assert most_in_one_window(time.grants) == 3


async def test_a_replica_back_from_an_outage_keeps_to_its_share_until_every_replica_is_back_then_uses_the_whole_window(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    limiter, second, third = (replica(time, RateLimits(cma_write=9), replicas=3) for _ in range(3))
    await through_an_outage(redis_server, time, limiter)
    settling = await most_granted_in_one_window(time, limiter, 6)
    time.at = 15.0
    await time.acquire(second, "cma.write")
    await time.acquire(third, "cma.write")  # every replica has reported back
    time.at = 25.0
    assert settling == 3, "other replicas may still be on their shares, unseen"
    assert await most_granted_in_one_window(time, limiter, 9) == 9


async def test_a_request_holds_its_place_until_its_answer_and_a_window_after_it(replica: Replicas) -> None:
    time = FrozenTime()
    limiter = replica(time, RateLimits(cma_write=1))
    slow = await time.hold(limiter, "cma.write")  # sent at 0, its answer comes at 5
    time.at = 5.0
    await slow.release()
    time.at = 5.5
    await time.acquire(limiter, "cma.write")
    # The server counted the slow request at some moment up to 5: 5.5 could share its window.
    assert time.grants == [0.0, pytest.approx(5.0 + SHARED_SPAN_SECONDS)]


async def test_the_shared_window_is_a_little_longer_than_the_servers(replica: Replicas) -> None:
    time = FrozenTime()
    limiter = replica(time, RateLimits(cma_read=1))
    await time.acquire(limiter, "cma.read")
    await time.acquire(limiter, "cma.read")
    assert time.grants[1] - time.grants[0] >= WINDOW_SECONDS + 0.04, "the margin for clock slew and early timers"


async def test_a_request_whose_answer_never_comes_holds_its_place_only_until_its_hold_lapses(replica: Replicas) -> None:
    time = FrozenTime()
    limiter = replica(time, RateLimits(cma_write=1))
    await time.hold(limiter, "cma.write")  # its replica died mid-request: never released
    time.at = 0.5
    await time.acquire(limiter, "cma.write")
    assert FLIGHT_HOLD_SECONDS <= time.grants[1] <= FLIGHT_HOLD_SECONDS + 2 * SHARED_SPAN_SECONDS


async def test_an_answer_that_came_while_redis_was_down_counts_in_the_window_when_it_is_back(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    limiter = replica(time, RateLimits(cma_write=1), replicas=1)
    in_flight = await time.hold(limiter, "cma.write")
    redis_server.stop()
    await time.acquire(limiter, "cma.read")  # finds Redis gone: tries again a retry delay later
    time.at = 0.5
    await in_flight.release()  # kept until Redis answers
    redis_server.start()  # empty: it kept nothing of the window
    time.at = 1.2  # past the retry delay, inside the answer's window
    await time.acquire(limiter, "cma.write")
    assert time.grants[-1] >= 0.5 + WINDOW_SECONDS


async def test_a_replica_back_from_an_outage_adds_its_answers_of_the_last_window_to_the_shared_one(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    back, other = (replica(time, RateLimits(cma_write=3), replicas=1) for _ in range(2))
    redis_server.stop()
    await time.acquire(back, "cma.write", times=3)  # on its share (the whole limit: one replica)
    answered = max(time.grants)
    redis_server.start()
    time.at = answered + 0.4  # past the retry delay, inside those answers' window
    await time.acquire(back, "cma.write")
    time.grants.clear()
    await time.acquire(other, "cma.write")
    assert time.grants[0] >= answered + WINDOW_SECONDS, "the other replica saw what the first sent on its share"


async def test_a_request_let_go_on_the_share_and_still_in_flight_when_redis_is_back_holds_a_shared_place(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    back, other = (replica(time, RateLimits(cma_write=6), replicas=2) for _ in range(2))
    redis_server.stop()
    slow = await time.hold(back, "cma.write")  # on the share; its answer is slow to come
    redis_server.start()
    time.at = 5.0
    await time.acquire(back, "cma.write")  # back on Redis
    time.at = 20.0  # past every window: only the slow request still counts
    time.grants.clear()
    await time.acquire(other, "cma.write", times=6)  # both replicas back: no more settling
    await slow.release()
    assert time.grants[:5] == [20.0] * 5
    assert time.grants[5] >= 20.0 + WINDOW_SECONDS, "five places and the slow request's fill the window"


async def test_a_replica_that_never_saw_the_outage_keeps_to_its_share_while_another_comes_back(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    back, unaware = (replica(time, RateLimits(cma_write=9), replicas=3) for _ in range(2))
    await through_an_outage(redis_server, time, back)
    await time.acquire(back, "cma.write")  # back on Redis: others may still be on their shares
    assert await most_granted_in_one_window(time, unaware, 6) == 3, "a third of 9, like the replicas on their shares"


async def test_with_redis_down_a_request_in_flight_holds_its_place_in_the_share_until_its_answer(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    limiter = replica(time, RateLimits(cma_write=3), replicas=3)
    redis_server.stop()
    slow = await time.hold(limiter, "cma.write")  # the share is 1 a window
    async with anyio.create_task_group() as tg:
        tg.start_soon(time.acquire, limiter, "cma.write")
        await anyio.wait_all_tasks_blocked()
        time.at = 5.0
        await slow.release()
    assert time.grants[1] >= 5.0 + WINDOW_SECONDS


async def test_a_shared_request_answered_while_redis_is_down_holds_a_place_in_the_share(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    limiter = replica(time, RateLimits(cma_write=3), replicas=3)
    slow = await time.hold(limiter, "cma.write")  # in the shared window; its answer is slow
    redis_server.stop()
    await time.acquire(limiter, "cma.write")  # on the share (1 a window) from now on
    time.at = 5.0
    await slow.release()  # the server may have counted it as late as now
    time.at = 5.5
    await time.acquire(limiter, "cma.write")
    assert time.grants[-1] >= 5.0 + WINDOW_SECONDS


class ReplyLost(SharedRateLimiter):
    """Runs the first commit in Redis, then fails as if the connection broke before its reply."""

    lost = False

    async def run(self, script: AsyncScript, keys: list[str], args: list[int | str]) -> list[bytes]:
        reply = await super().run(script, keys, args)
        if script is self.commit_script and not self.lost:
            self.lost = True
            raise RedisConnectionError("connection lost before the reply")
        return reply


async def test_a_request_whose_commit_lost_its_reply_does_not_hold_a_shared_place_until_its_hold_lapses(
    replica: Replicas,
) -> None:
    time = FrozenTime()
    limiter = replica(time, RateLimits(cma_write=1), replicas=1, kind=ReplyLost)
    await time.acquire(limiter, "cma.write")  # in flight in Redis, then sent on the share
    time.at = 5.0
    await time.acquire(limiter, "cma.write")
    assert time.grants[-1] == 5.0


async def test_concurrent_requests_back_from_an_outage_send_each_missed_release_once(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    limiter = replica(time, RateLimits(cma_write=10), replicas=1)
    in_flight = [await time.hold(limiter, "cma.write") for _ in range(2)]
    redis_server.stop()
    await time.acquire(limiter, "cma.read")  # finds Redis gone
    for places in in_flight:
        await places.release()  # kept until Redis answers
    redis_server.start()
    time.at = 5.0
    time.grants.clear()
    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(time.acquire, limiter, "cma.write")
    answered = await limiter.redis.zcount(f"{RATE_KEY_PREFIX}:org-1:cma.write", 0, 1_000_000)  # microseconds
    flying = await limiter.redis.zcard(f"{RATE_KEY_PREFIX}:org-1:cma.write:flight")
    assert time.grants == [5.0] * 6
    assert answered == 2, "both answers count from when they came"
    assert flying == 0


class MovingTime(FrozenTime):
    """A clock that a sleep moves forward: the limiter's waits pass as they would."""

    async def sleep(self, seconds: float) -> None:
        self.at += seconds  # the grant is then the clock's reading, `at`, with no wait to add


class AnswerBeforeCommit(SharedRateLimiter):
    """Releases `answer` (once) just before its next commit script runs: another request's answer
    lands between this request's reservation and its commit, as two back to back do."""

    answer: Places | None = None

    async def run(self, script: AsyncScript, keys: list[str], args: list[int | str]) -> list[bytes]:
        if script is self.commit_script and self.answer is not None:
            answer, self.answer = self.answer, None
            await answer.release()
        return await super().run(script, keys, args)


# A reading of today's clock that Lua's `tostring` (14 significant digits) writes 1796625331.4848.
ANSWERED = 1796625331.48483


async def test_an_answer_that_fills_the_window_counts_for_a_request_committed_at_the_same_reading_of_the_clock(
    replica: Replicas,
) -> None:
    time = FrozenTime()
    time.at = ANSWERED - 0.5
    limiter = replica(time, RateLimits(cma_read=10), kind=AnswerBeforeCommit)
    await time.acquire(limiter, "cma.read", times=9)
    limiter.answer = await time.hold(limiter, "cma.read")  # the tenth, in flight
    time.at = ANSWERED
    time.grants.clear()
    await time.acquire(limiter, "cma.read")  # reserved beside nine; the tenth is answered, then it commits
    assert time.grants[0] >= ANSWERED - 0.5 + WINDOW_SECONDS, "ten answers in the window: the eleventh waits"


@pytest.mark.parametrize("clock", [FrozenTime, MovingTime])
async def test_a_request_waiting_for_the_edge_of_a_full_window_is_granted_there_on_a_frozen_or_stepped_clock(
    replica: Replicas, clock: type[FrozenTime]
) -> None:
    time = clock()
    time.at = 0.62  # in doubles, 0.62 + 1.05 - 1.05 is one ulp short of 0.62
    limiter = replica(time, RateLimits(cma_write=2))
    await time.acquire(limiter, "cma.write", times=2)
    with anyio.fail_after(10):  # a retry that never reached the edge would ask Redis again for good
        await time.acquire(limiter, "cma.write")
    assert time.grants[-1] == pytest.approx(0.62 + SHARED_SPAN_SECONDS)


class Flaky(SharedRateLimiter):
    """Redis fails the first `failures` reservations (and `settle_failures` publishings of a
    settling round) as if it could not be reached, or, with `bug`, every reservation with an error
    that is not about reaching it; `reports` counts the reports back without a request."""

    failures = 0
    settle_failures = 0
    bug = False
    reports = 0

    async def run(self, script: AsyncScript, keys: list[str], args: list[int | str]) -> list[bytes]:
        if script is self.report_script:
            self.reports += 1
        if script is self.settle_script and self.settle_failures > 0:
            self.settle_failures -= 1
            raise RedisConnectionError("lost on the way")
        if script is self.reserve_script and self.bug:
            raise RuntimeError("a bug")
        if script is self.reserve_script and self.failures > 0:
            self.failures -= 1
            raise RedisConnectionError("a moment without Redis")
        return await super().run(script, keys, args)


async def test_a_replica_that_loses_redis_for_a_moment_tries_it_again_before_sending_on_its_share(
    replica: Replicas,
) -> None:
    time = MovingTime()
    blinked = replica(time, RateLimits(cma_write=1), replicas=1, kind=Flaky)
    other = replica(time, RateLimits(cma_write=1), replicas=1)
    blinked.failures = 1
    await time.acquire(blinked, "cma.write")  # waits out the switch's hold, then finds Redis back
    sent = time.grants[0]
    await time.acquire(other, "cma.write")
    assert time.grants[1] >= sent + WINDOW_SECONDS, "the other replica saw it: it went through Redis"


async def test_a_request_that_fails_on_its_way_back_to_redis_gives_back_its_place_in_the_share(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = MovingTime()
    limiter = replica(time, RateLimits(cma_write=3), replicas=3, kind=Flaky)  # a share of 1
    redis_server.stop()
    await time.acquire(limiter, "cma.write")  # on the share
    limiter.bug = True
    redis_server.start()
    with pytest.raises(RuntimeError):
        await time.acquire(limiter, "cma.write")  # a place on the share, then the bug in Redis's way
    redis_server.stop()
    limiter.bug = False
    with anyio.fail_after(10):  # a place never given back would leave the share full for good
        await time.acquire(limiter, "cma.write")
    assert len(time.grants) == 2


class GatedTime(FrozenTime):
    """A frozen clock whose next sleep, in a task that set `gate`, also waits for that event:
    the task stays asleep while the test changes the world around it."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: ContextVar[anyio.Event | None] = ContextVar("gate", default=None)

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        gate = self.gate.get()
        if gate is not None:
            self.gate.set(None)
            await gate.wait()
            self._waits.get().clear()  # woken at the clock's reading; only later waits add


async def test_a_place_reserved_before_an_outage_that_goes_out_after_it_keeps_to_the_share_meanwhile(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = GatedTime()
    limiter = replica(time, RateLimits(cma_write=9), replicas=3)
    await time.acquire(limiter, "cma.write", times=9)  # the window is full until one span from now
    opened = anyio.Event()

    async def waits_for_its_place() -> None:
        time.gate.set(opened)
        await time.acquire(limiter, "cma.write")

    on_share = 0.0
    async with anyio.create_task_group() as tg:
        tg.start_soon(waits_for_its_place)
        await anyio.wait_all_tasks_blocked()  # its place reserved, asleep until it comes
        redis_server.stop()
        time.grants.clear()
        await time.acquire(limiter, "cma.write", times=3)  # on the share, unseen in Redis
        on_share = max(time.grants)
        redis_server.start()
        time.at = on_share + 0.05
        opened.set()
    assert time.grants[-1] >= on_share + WINDOW_SECONDS, "four in a window where the share is three"


async def test_a_replica_still_on_its_share_when_another_stops_settling_is_not_sent_beside_a_full_window(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_write=9)
    back = replica(time, limits, replicas=3)
    late = replica(time, limits, replicas=3, kind=Flaky)
    await through_an_outage(redis_server, time, back, late)
    await time.acquire(back, "cma.write")  # back: every replica keeps to its share as well
    late.failures = 5  # Redis answers the others, but this replica's tries time out
    time.at = 7.9
    time.grants.clear()
    unseen = await time.hold(late, "cma.write")  # on its share, in flight
    time.at = 8.2  # past the settling's floor, with `late` not back yet
    await time.acquire(back, "cma.write", times=9)
    await unseen.release()
    assert most_in_one_window(time.grants) <= 9, "nine shared places beside the one on the share"


async def test_a_place_reserved_before_another_replica_came_back_takes_a_place_in_the_share_before_it_goes_out(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = GatedTime()
    limits = RateLimits(cma_write=3)  # a share of 1
    waiting, back = replica(time, limits, replicas=3), replica(time, limits, replicas=3)
    await time.acquire(waiting, "cma.write", times=3)  # the window is full until one span from now
    opened = anyio.Event()

    async def waits_for_its_place() -> None:
        time.gate.set(opened)
        await time.acquire(waiting, "cma.write")

    async with anyio.create_task_group() as tg:
        tg.start_soon(waits_for_its_place)
        await anyio.wait_all_tasks_blocked()  # reserved before any settling, asleep until its time
        redis_server.stop()
        await time.acquire(back, "cma.write")  # on its share
        redis_server.start()
        time.at = 5.0
        await time.acquire(back, "cma.write")  # back: the replicas settle
        opened.set()
    time.grants.clear()
    await time.acquire(waiting, "cma.write")
    assert time.grants[0] >= 5.0 + WINDOW_SECONDS, "the place that woke took the share's one place of the window"


async def two_of_three_back(server: RedisServer, time: FrozenTime, replica: Replicas) -> SharedRateLimiter:
    """Three replicas (N = 3, 9 writes a second) through an outage, after which the third dies and
    the other two come back at 5.0; the first."""
    first, second, third = (replica(time, RateLimits(cma_write=9), replicas=3) for _ in range(3))
    await through_an_outage(server, time, first, second, third)
    await time.acquire(first, "cma.write")
    await time.acquire(second, "cma.write")  # the last come-back: a cap counts from here
    return first


async def test_a_replica_that_never_comes_back_holds_the_others_to_their_shares_only_until_the_cap(
    redis_server: RedisServer, replica: Replicas, caplog: pytest.LogCaptureFixture
) -> None:
    time = FrozenTime()
    first = await two_of_three_back(redis_server, time, replica)
    time.at = 5.0 + SETTLE_CAP_SECONDS - 5.0
    assert await most_granted_in_one_window(time, first, 6) == 3, "two of three back: `gone` may be on its share"
    time.at = 5.0 + SETTLE_CAP_SECONDS
    with caplog.at_level(logging.WARNING, logger="cs_mcp.shared_state"):
        assert await most_granted_in_one_window(time, first, 9) == 9
    assert any("2 of 3 reported back" in record.getMessage() for record in caplog.records)


async def test_with_n_above_the_replicas_running_the_settling_lasts_until_the_cap_and_says_why(
    redis_server: RedisServer, replica: Replicas, caplog: pytest.LogCaptureFixture
) -> None:
    time = FrozenTime()
    alone = replica(time, RateLimits(cma_write=9), replicas=2)  # CS_MCP_REPLICAS=2, one running
    await through_an_outage(redis_server, time, alone)
    await time.acquire(alone, "cma.write")
    time.at = 5.0 + SETTLE_CAP_SECONDS
    with caplog.at_level(logging.WARNING, logger="cs_mcp.shared_state"):
        await time.acquire(alone, "cma.write")
    [message] = [r.getMessage() for r in caplog.records if "reported back" in r.getMessage()]
    assert "1 of 2 reported back" in message
    assert "CS_MCP_REPLICAS is more than run" in message


async def test_with_n_below_the_replicas_running_more_replicas_reported_back_than_n_is_logged(
    redis_server: RedisServer, replica: Replicas, caplog: pytest.LogCaptureFixture
) -> None:
    time = FrozenTime()
    limiters = [replica(time, RateLimits(cma_write=9), replicas=2) for _ in range(3)]  # three running
    await through_an_outage(redis_server, time, *limiters)
    for limiter in limiters:
        await time.acquire(limiter, "cma.write")  # each comes back, and starts a new round
    with caplog.at_level(logging.WARNING, logger="cs_mcp.shared_state"):
        for limiter in limiters:
            await time.acquire(limiter, "cma.write", times=2)  # each reported since the last come-back
    said = [record for record in caplog.records if "more than CS_MCP_REPLICAS" in record.getMessage()]
    assert "3 replicas reported back to Redis after an outage, more than CS_MCP_REPLICAS (2)" in caplog.text
    assert len(said) == 2, "the second and third replicas saw three back: each says it once, not at each request"


async def test_a_replica_restarted_with_a_new_id_ends_the_settling_once_it_reaches_redis(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    first = await two_of_three_back(redis_server, time, replica)
    restarted = replica(time, RateLimits(cma_write=9), replicas=3)  # the third, started again
    time.at = 6.0
    await time.acquire(restarted, "cma.write")
    time.at = 10.0  # past the settling's floor
    assert await most_granted_in_one_window(time, first, 9) == 9, "three replicas back, the restarted one included"


async def test_a_named_replica_that_restarts_after_reporting_back_is_counted_once_so_the_others_still_settle(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_write=9)
    first, second, third = (replica(time, limits, replicas=3, name=f"cs-mcp-{n}") for n in (1, 2, 3))
    await through_an_outage(redis_server, time, first, second, third)
    await time.acquire(first, "cma.write")
    await time.acquire(second, "cma.write")  # the last come-back so far
    restarted = replica(time, limits, replicas=3, name="cs-mcp-2")  # `second`, started again
    time.at = 6.0
    await time.acquire(restarted, "cma.write")
    time.at = 10.0  # past the settling's floor
    assert await most_granted_in_one_window(time, first, 6) == 3, "`third` may still be on its share, unseen"
    await time.acquire(third, "cma.write")  # back from its share: a new round
    await time.acquire(restarted, "cma.write")
    time.at = 20.0
    assert await most_granted_in_one_window(time, first, 9) == 9


async def test_without_a_name_a_replica_that_restarts_after_reporting_back_counts_as_another_one(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    first = await two_of_three_back(redis_server, time, replica)
    restarted = replica(time, RateLimits(cma_write=9), replicas=3)  # `first` or `second`, started again
    time.at = 6.0
    await time.acquire(restarted, "cma.write")
    time.at = 10.0
    assert await most_granted_in_one_window(time, first, 9) == 9, "three ids back: the round ends before `third`"


async def test_the_replica_name_setting_is_the_limiters_id_in_the_settling_rounds(redis_server: RedisServer) -> None:
    env = {"CS_MCP_REDIS_URL": redis_server.url, "CS_MCP_SECRET_KEY": "k" * 32}
    ids: list[str] = []
    for name in ({"CS_MCP_REPLICA_NAME": "cs-mcp-2"}, {}, {}):
        limiter = shared_limiter(Settings.from_env({**env, **name}), RateLimits())
        assert limiter is not None
        async with shared_limiter_closed(limiter):
            ids.append(limiter.replica_id)
    assert ids[0] == "cs-mcp-2"
    assert ids[1] != ids[2], "without a name, each process is a replica of its own"


async def test_a_replica_that_comes_back_again_starts_the_settling_over_for_every_replica(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_write=9)
    first, third = replica(time, limits, replicas=3), replica(time, limits, replicas=3)
    second = replica(time, limits, replicas=3, kind=Flaky)
    await through_an_outage(redis_server, time, first, second, third)
    for limiter in (first, second, third, first, second):
        await time.acquire(limiter, "cma.write")  # all back, and reported since the last come-back
    second.failures = 1
    time.at = 20.0
    await time.acquire(second, "cma.write")  # Redis fails it alone: on its share again
    time.at = 25.0
    await time.acquire(second, "cma.write")  # back again
    time.at = 40.0
    assert await most_granted_in_one_window(time, first, 6) == 3, "`third` has not reported since `second` came back"
    await time.acquire(third, "cma.write")
    time.at = 50.0
    assert await most_granted_in_one_window(time, first, 9) == 9


async def test_replicas_busy_with_another_family_report_back_in_one_they_never_sent_in(
    redis_server: RedisServer, replica: Replicas, caplog: pytest.LogCaptureFixture
) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_write=9, cma_read=9)
    writer, reader, other = (replica(time, limits, replicas=3) for _ in range(3))
    await through_an_outage(redis_server, time, writer)  # only `writer` sent writes on its share
    await time.acquire(writer, "cma.write")  # back: the writes settle
    await time.acquire(reader, "cma.read")
    await time.acquire(other, "cma.read")  # both busy with reads, neither on its share in writes
    time.at = 10.0  # past the settling's floor, far from its cap
    with caplog.at_level(logging.WARNING, logger="cs_mcp.shared_state"):
        assert await most_granted_in_one_window(time, writer, 9) == 9, "no replica can be sending writes unseen"
    assert not [r for r in caplog.records if "reported back" in r.getMessage()]


async def test_a_replica_on_its_share_in_a_family_it_no_longer_uses_comes_back_in_it_when_that_family_settles(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_write=9, cma_read=9)
    writer, switched, other = (replica(time, limits, replicas=3) for _ in range(3))
    await through_an_outage(redis_server, time, writer, switched)  # both sent writes on their shares
    await time.acquire(writer, "cma.write")  # back: the writes settle
    await time.acquire(switched, "cma.read")  # reads only from now on
    await time.acquire(other, "cma.read")
    time.at = 10.0
    assert await most_granted_in_one_window(time, writer, 9) == 9, "`switched` added its writes and reported back"


async def test_a_replica_that_reaches_redis_but_cannot_come_back_yet_is_not_counted_back(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    first, stuck = (replica(time, RateLimits(cma_write=9), replicas=2, kind=Flaky) for _ in range(2))
    stuck.settle_failures = 1  # reaches Redis, but its publishing of the settling is lost on the way
    await through_an_outage(redis_server, time, first, stuck)
    await time.acquire(first, "cma.write")  # back: the writes settle
    await time.acquire(stuck, "cma.write")  # reserved, then could not come back: sent on its share
    time.at = 10.0
    assert await most_granted_in_one_window(time, first, 9) == 4, "`stuck` may still be sending on its share"


async def test_every_key_of_a_settling_round_expires(redis_server: RedisServer, replica: Replicas) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_write=9, cma_read=9)
    first, second = replica(time, limits, replicas=3), replica(time, limits, replicas=3)
    await through_an_outage(redis_server, time, first)
    await time.acquire(first, "cma.write")
    await time.acquire(second, "cma.read")  # reports back in the writes' round too
    keys = cast(list[bytes], await first.redis.keys(f"{RATE_KEY_PREFIX}:*"))  # pyright: ignore[reportUnknownMemberType] - redis-py types replies loosely
    assert {key.rsplit(b":", 1)[-1] for key in keys} >= {b"settle", b"back", b"settling"}
    assert [key for key in keys if await first.redis.pttl(key) <= 0] == []


async def test_a_replica_reports_back_once_a_round_in_a_family_it_does_not_use(
    redis_server: RedisServer, replica: Replicas
) -> None:
    time = FrozenTime()
    limits = RateLimits(cma_write=9, cma_read=9)
    writer, reader = replica(time, limits), replica(time, limits, kind=Flaky)
    await through_an_outage(redis_server, time, writer)
    await time.acquire(writer, "cma.write")  # back: the writes settle
    await time.acquire(reader, "cma.read", times=5)
    assert reader.reports == 1
