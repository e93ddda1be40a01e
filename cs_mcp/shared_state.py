"""State shared by every replica through Redis, when `CS_MCP_REDIS_URL` is set.

Three things must hold across replicas behind one load balancer:

- the rate limit: Contentstack counts per organization, so all replicas draw from one sliding
  window per organization and API family. Each grant is reserved by one Lua script (atomic in
  Redis: no two replicas can read the same free place), and an `X-RateLimit-Remaining` of 0
  seen by any replica makes every replica wait out the window. When Redis cannot be reached the
  replica falls back to a local window at 1/N of the limit (N = `CS_MCP_REPLICAS`), so N
  replicas together still stay under it; the outage is logged once. Two moments need care so
  that the switch itself draws no 429: going down, places already granted in the shared window
  may still go out from other replicas, so the 1/N share starts only once they are past (two
  windows after the last place this replica was granted); coming back, the other replicas may
  still be on their share, which the shared window does not see, so for one retry delay and two
  windows each request must fit in both. A request is counted in the shared window when it is
  sent (a second script moves its place to that moment), not when it was granted: a replica
  that wakes late in a busy process cannot put one more into Contentstack's window.
- the confirmation ledger: a token is spent with `SET NX` on its nonce, so it confirms one call
  whichever replica redeems it (see `cs_mcp.guard.confirm`).
- the audit trail: each replica's file stays the record of truth; lines are also added to one
  stream, read back merged in time order (see `cs_mcp.guard.audit`).

Times in Redis are seconds on Redis's own clock (`TIME`), so replicas' clocks need not agree.
Tests inject a clock instead.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import cast

import anyio
import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from cs_mcp.client import (
    WINDOW_SECONDS,
    Clock,
    RateLimiter,
    RateLimits,
    Sleep,
    Window,
)
from cs_mcp.config import Settings
from cs_mcp.guard.audit import AuditRecord, merge_stream_lines

logger = logging.getLogger("cs_mcp.shared_state")

DEFAULT_REPLICAS = 3
KEY_PREFIX = "cs-mcp"
# After Redis failed, the replica uses its local fallback this long before trying Redis again,
# so an outage does not add a connection attempt to every request.
RETRY_AFTER_SECONDS = 1.0
# Errors that mean "Redis is not answering", as opposed to a bug in the script.
UNREACHABLE: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)

# The scripts' first lines: `now` is ARGV[1], or Redis's own clock when that is negative.
_NOW = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

# KEYS[1]: the window's sorted set of granted times; KEYS[2]: the "not before" time.
# ARGV: now (negative: use Redis TIME), rate, window + slack, a unique member, a pause from
# now that every replica must wait (0: none; set after an `X-RateLimit-Remaining` of 0).
# Answers {slot, now} as strings (Lua numbers would be truncated to integers).
_RESERVE = (
    _NOW
    + """local rate = tonumber(ARGV[2])
local span = tonumber(ARGV[3])
local pause = tonumber(ARGV[5])
local not_before = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause > 0 and now + pause > not_before then
  not_before = now + pause
  redis.call('SET', KEYS[2], tostring(not_before), 'PX', math.ceil(pause * 1000) + 1)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. tostring(now - span))
local slot = now
if not_before > slot then slot = not_before end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #last > 0 and tonumber(last[2]) > slot then slot = tonumber(last[2]) end
local count = redis.call('ZCARD', KEYS[1])
if count >= rate then
  local oldest = redis.call('ZRANGE', KEYS[1], count - rate, count - rate, 'WITHSCORES')
  local free = tonumber(oldest[2]) + span
  if free > slot then slot = free end
end
redis.call('ZADD', KEYS[1], slot, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil((slot - now + span) * 1000) + 1000)
return {tostring(slot), tostring(now)}
"""
)


# Just before a granted request goes out: KEYS as for _RESERVE; ARGV: now (negative: Redis
# TIME), rate, window + slack, the member _RESERVE added, the time it was granted (now is never
# taken as earlier). The window that ends now must hold fewer than `rate` others (a pause
# after `X-RateLimit-Remaining: 0` holds back new reservations, not granted ones): then the
# member's time becomes now, the moment it is really sent, and the answer is {'ok', now}.
# Otherwise it is moved to when there will be room and the answer is {'wait', then, now}. A
# request that woke late, in a busy process, is thus counted when it is sent, not when it was
# meant to be, and one granted a window after it cannot overtake it into Contentstack's window.
_COMMIT = (
    _NOW
    + """local floor = tonumber(ARGV[5])
if floor > now then now = floor end
local rate = tonumber(ARGV[2])
local span = tonumber(ARGV[3])
local member = ARGV[4]
local seen = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. tostring(now - span), tostring(now), 'WITHSCORES')
local others = {}
for i = 1, #seen, 2 do
  if seen[i] ~= member then table.insert(others, tonumber(seen[i + 1])) end
end
local function keep(last)
  local want = math.ceil((last - now + span) * 1000) + 1000
  if redis.call('PTTL', KEYS[1]) < want then redis.call('PEXPIRE', KEYS[1], want) end
end
if #others < rate then
  redis.call('ZADD', KEYS[1], now, member)
  keep(now)
  return {'ok', tostring(now)}
end
local retry = others[#others - rate + 1] + span
redis.call('ZADD', KEYS[1], retry, member)
keep(retry)
return {'wait', tostring(retry), tostring(now)}
"""
)


AUDIT_STREAM = f"{KEY_PREFIX}:audit"
# The stream keeps about this many lines (each replica's file keeps them all).
AUDIT_STREAM_MAXLEN = 1_000_000
_TIMEOUT_SECONDS = 1.0
# Reservations in flight at once per replica: a burst of calls queues here instead of opening
# so many connections that the pool refuses one, which would look like an outage.
_MAX_IN_FLIGHT = 32
# The shared window's slack beyond one second. Granted places go out from different processes,
# each through its own event loop: on a busy machine one request leaves tens of milliseconds
# after its place while the one granted a window later leaves on time, and both arrive inside
# one of Contentstack's windows. The single process's 30 ms is too thin for that.
SHARED_SLACK_SECONDS = 0.1
SHARED_SPAN_SECONDS = WINDOW_SECONDS + SHARED_SLACK_SECONDS


def connect(url: str) -> aioredis.Redis:
    """An asyncio Redis client for `url` with short timeouts: a replica must notice an outage
    quickly. A connection that broke while it sat in the pool (Redis restarted) is replaced and
    the command sent once more, at once: without that, each stale connection would count as one
    more outage after Redis came back, and send its replica back to its 1/N share."""
    # redis-py leaves `**kwargs` of from_url untyped.
    return aioredis.Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
        url,
        socket_connect_timeout=_TIMEOUT_SECONDS,
        socket_timeout=_TIMEOUT_SECONDS,
        retry=AsyncRetry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError],
    )


def connect_sync(url: str) -> redis.Redis:
    """A blocking Redis client for `url`, for the audit stream, whose append runs in a worker
    thread after the file's fsync, and for `cs-mcp audit --redis`."""
    return redis.Redis.from_url(  # pyright: ignore[reportUnknownMemberType] - untyped **kwargs in redis-py
        url, socket_connect_timeout=_TIMEOUT_SECONDS, socket_timeout=_TIMEOUT_SECONDS
    )


class RedisLedger:
    """Spent confirmation tokens in Redis: `SET NX` on the nonce, expiring with the token. The
    asyncio client: a token check never blocks the event loop that serves the other requests."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def spend(self, nonce: str, ttl_seconds: float) -> bool:
        """True when `nonce` was not spent before (and now is).

        Raises:
            redis.exceptions.RedisError: Redis cannot be reached.
        """
        key = f"{KEY_PREFIX}:spent:{nonce}"
        return bool(await self._redis.set(key, b"1", nx=True, px=max(1, math.ceil(ttl_seconds * 1000))))

    async def aclose(self) -> None:
        await self._redis.aclose()


class RedisAuditStream:
    """The merged audit trail: one Redis stream every replica's audit log adds its lines to."""

    def __init__(self, client: redis.Redis, key: str = AUDIT_STREAM) -> None:
        self._redis = client
        self.key = key

    def add(self, lines: list[bytes]) -> None:
        """Appends `lines` in order, in one round trip.

        Raises:
            redis.exceptions.RedisError: Redis cannot be reached.
        """
        pipe = self._redis.pipeline(transaction=False)  # pyright: ignore[reportUnknownMemberType] - untyped shard_hint
        for line in lines:
            pipe.xadd(self.key, {"line": line.rstrip(b"\n")}, maxlen=AUDIT_STREAM_MAXLEN, approximate=True)
        pipe.execute()

    def lines(self) -> list[bytes]:
        """Every line in the stream, in the order it was added.

        Raises:
            redis.exceptions.RedisError: Redis cannot be reached.
        """
        lines: list[bytes] = []
        start = "-"
        while True:
            # redis-py types replies loosely; without decode_responses they are bytes.
            batch = cast(list[tuple[bytes, dict[bytes, bytes]]], self._redis.xrange(self.key, start, "+", count=1000))
            if not batch:
                return lines
            lines.extend(fields[b"line"] for _id, fields in batch)
            start = "(" + batch[-1][0].decode()


class LocalShare:
    """The fallback while Redis is unreachable: at most `rate` requests in any `span`, each
    counted at the moment it is let go, after its wait, so one that woke late in a busy process
    is counted late, not early. Waiters go one at a time, in order."""

    def __init__(self, rate: int, clock: Clock, sleep: Sleep, span: float = SHARED_SPAN_SECONDS) -> None:
        self.rate = max(1, rate)
        self._clock = clock
        self._sleep = sleep
        self._span = span
        self._sent: deque[float] = deque(maxlen=self.rate)
        self._not_before = 0.0
        self._lock = anyio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            now = self._clock()
            free = self._sent[0] + self._span if len(self._sent) == self.rate else now
            until = max(free, self._not_before, now)
            if until > now:
                await self._sleep(until - now)
            # Late if the process was busy: then counted from when it really goes.
            self._sent.append(max(self._clock(), until))

    def hold_until(self, moment: float) -> None:
        """Lets nothing go before `moment`."""
        self._not_before = max(self._not_before, moment)

    def observe(self, remaining: int | None) -> None:
        """At an `X-RateLimit-Remaining` of 0, waits out the window."""
        if remaining is not None and remaining <= 0:
            self.hold_until(self._clock() + WINDOW_SECONDS)


class SharedWindow:
    """One organization's window for one API family, in Redis; the same interface as
    `SlidingWindowLimiter` (`acquire()`, `observe(remaining)`)."""

    def __init__(self, owner: SharedRateLimiter, key: str, rate: int) -> None:
        self.rate = rate
        self._owner = owner
        self._redis_key = f"{KEY_PREFIX}:rl:{owner.scope}:{key}"
        self._fallback = LocalShare(rate // owner.replicas, owner.clock, owner.sleep)
        self._pause = 0.0  # seconds every replica must wait, sent with the next reservation
        # The local time of the latest place this replica was granted in the shared window.
        self._horizon = 0.0
        self._on_fallback = False
        self._settle_until = 0.0  # back from an outage: until then requests fit both windows

    async def acquire(self) -> None:
        """Waits until one more request fits in the shared window (or, with Redis down, in the
        local fallback window), then counts it."""
        owner = self._owner
        counted_locally = False
        if owner.using_fallback():
            await self._acquire_locally()
            if owner.using_fallback():
                return
            # It waited in the local queue past the retry delay: Redis may be back, and this
            # replica must not go on sending unseen by the others. Counted there too.
            counted_locally = True
        member = secrets.token_hex(8)
        keys = [self._redis_key, f"{self._redis_key}:nb"]
        try:
            args = [owner.shared_now(), self.rate, SHARED_SPAN_SECONDS, member, self._pause]
            reply = await owner.run(owner.reserve_script, keys, args)
            self._pause = 0.0
            if self._on_fallback:
                self._on_fallback = False
                # Another replica learns that Redis is back at its next try, within a retry
                # delay; its last sends on its share then leave the window one span later. A
                # second span covers a busy process being late with either.
                self._settle_until = owner.clock() + RETRY_AFTER_SECONDS + 2 * SHARED_SPAN_SECONDS
            slot, now = (float(value) for value in reply)
            while True:
                # Counted from the script's `now`, not from when it was asked: the time spent
                # reaching Redis came before that moment, and only the reply's way back (a
                # little) is waited on top, which errs late, never early.
                delay = slot - now
                self._horizon = max(self._horizon, owner.clock() + max(0.0, delay))
                if delay > 0:
                    await owner.sleep(delay)
                if not counted_locally and owner.clock() < self._settle_until:
                    # Just back: other replicas may still be on their share, unseen here.
                    await self._fallback.acquire()
                    counted_locally = True
                args = [owner.shared_now(), self.rate, SHARED_SPAN_SECONDS, member, slot]
                reply = await owner.run(owner.commit_script, keys, args)
                if reply[0] == b"ok":
                    return
                slot, now = float(reply[1]), float(reply[2])
        except UNREACHABLE as exc:
            owner.redis_failed(exc)
            if not counted_locally:
                await self._acquire_locally()

    async def _acquire_locally(self) -> None:
        """A place in the local 1/N window; on the switch, not before the shared window's grants
        are certainly past."""
        if not self._on_fallback:
            self._on_fallback = True
            self._fallback.hold_until(self._horizon + 2 * SHARED_SPAN_SECONDS)
        await self._fallback.acquire()

    def observe(self, remaining: int | None) -> None:
        """Reads `X-RateLimit-Remaining`: at zero every replica waits out the current window
        (published with this replica's next reservation; this replica waits at once)."""
        if remaining is not None and remaining <= 0:
            self._fallback.observe(remaining)
            # Relative, so the script adds it to the shared "now", whichever clock that is.
            self._pause = WINDOW_SECONDS


class SharedRateLimiter(RateLimiter):
    """`RateLimiter` whose windows live in Redis, one per organization (`scope`) and family.

    Args:
        redis: the client (`connect(url)`).
        scope: the organization the limits count for (organization uid, else stack API key).
        replicas: N, for the fallback at 1/N of each limit while Redis is unreachable.
        clock, sleep: local time (the fallback, the retry delay); `shared_clock` replaces
            Redis's `TIME` (tests share one virtual clock between limiters).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        scope: str,
        limits: RateLimits | None = None,
        *,
        replicas: int = DEFAULT_REPLICAS,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        shared_clock: Clock | None = None,
    ) -> None:
        super().__init__(limits, clock=clock, sleep=sleep)
        self.redis = redis
        self.scope = scope
        self.replicas = max(1, replicas)
        self.clock: Clock = self._clock
        self.sleep: Callable[[float], Awaitable[None]] = self._sleep
        self._shared_clock = shared_clock
        self.reserve_script = redis.register_script(_RESERVE)
        self.commit_script = redis.register_script(_COMMIT)
        self._in_flight = anyio.CapacityLimiter(_MAX_IN_FLIGHT)
        self._down_until: float | None = None
        self._warned = False

    def new_window(self, key: str) -> Window:
        return SharedWindow(self, key, self.limits.for_key(key))

    def shared_now(self) -> float:
        """The time to reserve at: the injected shared clock, else -1 (the script reads TIME)."""
        return self._shared_clock() if self._shared_clock else -1.0

    async def run(self, script: AsyncScript, keys: list[str], args: list[float | int | str]) -> list[bytes]:
        """Runs one of the window's scripts (a bounded number at once per replica).

        Raises:
            redis.exceptions.RedisError, OSError, TimeoutError: Redis cannot be reached.
        """
        async with self._in_flight:
            # redis-py types a script's reply as "Awaitable or not"; the asyncio client awaits it.
            reply = cast(list[bytes], await script(keys=keys, args=args))
        if self._down_until is not None:
            logger.warning("Redis answers again: the shared rate limit is back in use")
            self._down_until = None
            self._warned = False
        return reply

    def using_fallback(self) -> bool:
        return self._down_until is not None and self.clock() < self._down_until

    def redis_failed(self, exc: BaseException) -> None:
        self._down_until = self.clock() + RETRY_AFTER_SECONDS
        if not self._warned:
            self._warned = True
            logger.warning(
                "Redis is unreachable (%s): limiting locally at 1/%d of each rate limit until it answers",
                type(exc).__name__,
                self.replicas,
            )


class RedisToolsets:
    """The toolsets enabled in dynamic mode, shared by the replicas of one organization (a set)."""

    def __init__(self, client: aioredis.Redis, scope: str) -> None:
        self.redis = client
        self.key = f"{KEY_PREFIX}:toolsets:{scope}"

    async def load(self) -> set[str]:
        members = cast(set[bytes], await self.redis.smembers(self.key))  # pyright: ignore[reportUnknownMemberType] - redis-py types replies loosely
        return {m.decode() for m in members}

    async def add(self, toolset: str) -> None:
        await self.redis.sadd(self.key, toolset)  # pyright: ignore[reportUnknownMemberType] - redis-py types replies loosely


def shared_toolsets(settings: Settings) -> RedisToolsets | None:
    """The shared store of enabled toolsets when `CS_MCP_REDIS_URL` is set; None otherwise."""
    if settings.redis_url is None:
        return None
    return RedisToolsets(connect(settings.redis_url.get_secret_value()), limit_scope(settings))


def limit_scope(settings: Settings) -> str:
    """Whose limits a window counts: the organization when known, else the stack (hashed, to
    keep keys short and uniform)."""
    owner = settings.organization_uid or (settings.api_key.get_secret_value() if settings.api_key else "sandbox")
    return hashlib.sha256(owner.encode()).hexdigest()[:16]


def shared_limiter(settings: Settings, limits: RateLimits) -> SharedRateLimiter | None:
    """The Redis-backed limiter when `CS_MCP_REDIS_URL` is set; None (the process's own
    limiter) otherwise."""
    if settings.redis_url is None:
        return None
    return SharedRateLimiter(
        connect(settings.redis_url.get_secret_value()), limit_scope(settings), limits, replicas=settings.replicas
    )


@asynccontextmanager
async def shared_limiter_closed(limiter: SharedRateLimiter | None) -> AsyncGenerator[None]:
    """Closes the limiter's Redis connections on leaving."""
    try:
        yield
    finally:
        if limiter is not None:
            await limiter.redis.aclose()


def read_merged_trail(url: str, tail: int | None = None, principal: str | None = None) -> list[AuditRecord]:
    """Every replica's audit records from the shared stream, in time order.

    Raises:
        redis.exceptions.RedisError: Redis cannot be reached.
    """
    client = connect_sync(url)
    try:
        return merge_stream_lines(RedisAuditStream(client).lines(), tail=tail, principal=principal)
    finally:
        client.close()
