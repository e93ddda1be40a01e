"""State shared by every replica through Redis, when `CS_MCP_REDIS_URL` is set.

Three things must hold across replicas behind one load balancer:

- the rate limit: Contentstack counts per organization, so all replicas draw from one sliding
  window per organization and API family. Each grant is reserved by one Lua script (atomic in
  Redis: no two replicas can read the same free place), and an `X-RateLimit-Remaining` of 0
  seen by any replica makes every replica wait out the window. A request takes its place when
  it is sent (a second script checks the window at that moment: a replica that woke late in a
  busy process cannot put one more into Contentstack's window) and holds it until its answer
  comes, and a window after that (a third script): the server counted it at some moment in
  between, so however late it reached the server, a request sent a window after its answer
  cannot share the server's window with it. The window is a little longer than the server's
  (`SHARED_MARGIN_SECONDS`) for clock slew. When Redis cannot be reached the replica falls back
  to a local window at 1/N of the limit (N = `CS_MCP_REPLICAS`), so N replicas together still
  stay under it; the outage is logged once. The switches draw no 429: going down, places
  already granted in the shared window may still go out from other replicas, so the 1/N share
  starts only once they are past (two windows after the last place this replica was granted or
  answered, and after the failure: Redis is tried again before, so a moment without it sends
  nothing unseen), and shared requests answered during the outage count in the share; coming
  back, before a request goes out through the shared window alone, the replica publishes that
  every replica, including one that never saw the outage, keeps to its share as well (the
  others may still be on their shares, unseen) until all N replicas have reported back to Redis
  since, and a retry delay and two windows at least, a minute at most (a replica that died in
  the outage); and it adds to the shared window what it let go on its share and still counts
  (answers of the last window, requests still in flight) and the releases Redis missed, before
  it reports back itself. The script that lets a request go checks the settling again at that
  moment.
- the confirmation ledger: a token is spent with `SET NX` on its nonce, so it confirms one call
  whichever replica redeems it (see `cs_mcp.guard.confirm`).
- the audit trail: each replica's file stays the record of truth; lines are also added to one
  stream, read back merged in time order (see `cs_mcp.guard.audit`). A script adds them, and
  skips a line at or before the last place it added from the same file, so a line sent again
  (its reply was lost, the catch-up sends it once more) is in the stream once.

Times in Redis are whole microseconds on Redis's own clock (`TIME`), so replicas' clocks need not
agree. Tests inject a clock instead.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
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
    Place,
    Places,
    RateLimiter,
    RateLimits,
    Sleep,
    Window,
)
from cs_mcp.config import Settings
from cs_mcp.guard.audit import AuditRecord, PlacedLine, merge_stream_lines

logger = logging.getLogger("cs_mcp.shared_state")

DEFAULT_REPLICAS = 3
KEY_PREFIX = "cs-mcp"
# After Redis failed, the replica uses its local fallback this long before trying Redis again,
# so an outage does not add a connection attempt to every request.
RETRY_AFTER_SECONDS = 1.0
# Errors that mean "Redis is not answering", as opposed to a bug in the script.
UNREACHABLE: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)

# Every time and duration in the scripts is a whole number of microseconds, the unit of Redis's
# `TIME`: today's epoch in microseconds (about 1.8e15) is far below 2^53, so a double holds such
# an integer, and their sums and differences, exactly. No time is rounded on either side, and
# `(oldest + span) - span` is `oldest`: a request told to wait for a window's edge finds the place
# free there. (Seconds written with `%.17g` would travel exactly, but their sums would not.) Lua's
# `tostring` keeps 14 significant digits and writes exponent form above 1e14, so the scripts
# write numbers with `us` (`%d`) alone. The scripts' first lines: `us`, and `now`: ARGV[1], or
# Redis's own clock when that is negative.
_NOW = """
local function us(x) return string.format('%d', x) end
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
"""
_MICROSECONDS = 1_000_000


def _us(seconds: float) -> int:
    """`seconds` as the scripts count time: whole microseconds (nearest)."""
    return round(seconds * _MICROSECONDS)


def _seconds(us: bytes | int) -> float:
    """A script's time or duration (whole microseconds) in seconds."""
    return int(us) / _MICROSECONDS


# Whether every replica keeps to its 1/N share as well, after a replica came back from an outage
# (see _SETTLE): KEYS[4] the time until which they do in any case; KEYS[5] the current settle
# round's cap (absent: no round); KEYS[6] the replicas that reported since that round began. A
# replica that asks with its `id` ('' while its window is on its share, unseen) reports that it
# is back; the round ends when `replicas` have, or at its cap. Answers the microseconds left to
# keep to the share (0: none) and the replicas back in the round (-1: no round). KEYS[7], the
# organization's families that settle (family -> the round's cap), lets a replica busy with
# other families learn of a round in one it does not use, and report back in it (_REPORT).
_SETTLING = """
local function settling(now, id, replicas)
  local left = tonumber(redis.call('GET', KEYS[4]) or '0') - now
  local back = -1
  local cap = redis.call('GET', KEYS[5])
  if cap then
    if id ~= '' and redis.call('SADD', KEYS[6], id) == 1 then
      redis.call('PEXPIRE', KEYS[6], math.max(1, redis.call('PTTL', KEYS[5])))
    end
    back = redis.call('SCARD', KEYS[6])
    if back < replicas and tonumber(cap) - now > left then left = tonumber(cap) - now end
  end
  if left < 0 then left = 0 end
  return left, back
end
"""

# KEYS[1]: the window's sorted set of granted times (and answered ones: see _RELEASE);
# KEYS[2]: the "not before" time; KEYS[3]: the requests in flight (see _COMMIT); KEYS[4] to
# KEYS[6]: the settling after an outage (see _SETTLING). ARGV: now (negative: use Redis TIME),
# rate, window + margin, a unique member, a pause from now that every replica must wait (0:
# none; set after an `X-RateLimit-Remaining` of 0), the replica's id to report as back ('' for
# none), N. Answers {slot, now, time left to keep to the share, replicas back} as strings, then
# the families that settle (KEYS[7], as HGETALL gives it: empty but for a minute or two after an
# outage).
_RESERVE = (
    _NOW
    + _SETTLING
    + """local rate = tonumber(ARGV[2])
local span = tonumber(ARGV[3])
local pause = tonumber(ARGV[5])
local not_before = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause > 0 and now + pause > not_before then
  not_before = now + pause
  redis.call('SET', KEYS[2], us(not_before), 'PX', math.ceil(pause / 1000) + 1)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. us(now - span))
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
redis.call('ZADD', KEYS[1], us(slot), ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil((slot - now + span) / 1000) + 1000)
local left, back = settling(now, ARGV[6], tonumber(ARGV[7]))
return {us(slot), us(now), us(left), us(back), redis.call('HGETALL', KEYS[7])}
"""
)


# Just before a granted request goes out: KEYS as for _RESERVE, KEYS[3] the requests in flight
# (member -> the time their hold lapses); ARGV: now (negative: Redis TIME), rate, window +
# margin, the member _RESERVE added, the time it was granted (now is never taken as earlier),
# how long a request may stay in flight at most, the replica's id and N (as for _RESERVE),
# whether the request holds a place in its replica's share too (1) or not (0). While the
# replicas settle after an outage (_SETTLING), a request without a place in its share is not
# sent: the answer is {'share', now, ...}, and the replica takes one and asks again. Otherwise
# the window that ends now and the requests still in flight must hold fewer than `rate` others
# (a pause after `X-RateLimit-Remaining: 0` holds back new reservations, not granted ones): then
# the member moves to the requests in flight and the answer is {'ok', now, ...}. Otherwise it
# is moved to when there may be room (while requests in flight fill the window, not before one
# window from now: one answered now still counts that long) and the answer is {'wait', then,
# now, ...}. A request that woke late, in a busy process, is thus counted when it is sent, not
# when it was meant to be. Every answer ends with the settling's two figures, as _RESERVE's.
_COMMIT = (
    _NOW
    + _SETTLING
    + """local left, back = settling(now, ARGV[7], tonumber(ARGV[8]))
local sharing = left > 0
left, back = us(left), us(back)
local floor = tonumber(ARGV[5])
if floor > now then now = floor end
if sharing and ARGV[9] == '0' then return {'share', us(now), left, back} end
local rate = tonumber(ARGV[2])
local span = tonumber(ARGV[3])
local member = ARGV[4]
local hold = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. us(now))
local flying = redis.call('ZCARD', KEYS[3])
local seen = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. us(now - span), us(now), 'WITHSCORES')
local others = {}
for i = 1, #seen, 2 do
  if seen[i] ~= member then table.insert(others, tonumber(seen[i + 1])) end
end
local function keep(key, last)
  local want = math.ceil((last - now + span) / 1000) + 1000
  if redis.call('PTTL', key) < want then redis.call('PEXPIRE', key, want) end
end
if #others + flying < rate then
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZADD', KEYS[3], us(now + hold), member)
  keep(KEYS[3], now + hold)
  return {'ok', us(now), left, back}
end
local free = rate - flying
local retry = now + span
if free > 0 then retry = others[#others - free + 1] + span end
redis.call('ZADD', KEYS[1], us(retry), member)
keep(KEYS[1], retry)
return {'wait', us(retry), us(now), left, back}
"""
)

# A replica came back from an outage: the others may still be on their shares, unseen in the
# shared window, so every replica keeps to its share as well, for `floor` seconds from now in
# any case and until all N replicas have reported since (_SETTLING) or `cap` seconds have
# passed. Each come-back begins a new round: a replica that had reported may have gone back to
# its share since. The cap is kept a while after it passes, so that a replica can tell that the
# round ended there. KEYS as for _RESERVE; ARGV: now (negative: Redis TIME), floor, cap, the
# family (named in KEYS[7] with the round's cap, for the replicas that do not use it). Answers
# the time left.
_SETTLE = (
    _NOW
    + """local floor_for = tonumber(ARGV[2])
local cap_for = tonumber(ARGV[3])
local floor = tonumber(redis.call('GET', KEYS[4]) or '0')
if now + floor_for > floor then
  redis.call('SET', KEYS[4], us(now + floor_for), 'PX', math.ceil(floor_for / 1000) + 1000)
end
redis.call('SET', KEYS[5], us(now + cap_for), 'PX', math.ceil(2 * cap_for / 1000))
redis.call('DEL', KEYS[6])
redis.call('HSET', KEYS[7], ARGV[4], us(now + cap_for))
if redis.call('PTTL', KEYS[7]) < 2 * cap_for / 1000 then
  redis.call('PEXPIRE', KEYS[7], math.ceil(2 * cap_for / 1000))
end
return us(cap_for)
"""
)

# A replica reports back in a family that settles after an outage, without a request of it (it
# learnt of the round from another family's reservation): KEYS as for _RESERVE; ARGV: now
# (negative: Redis TIME), the replica's id ('' for none), N. Answers {time left to keep to the
# share, replicas back}, as _SETTLING.
_REPORT = (
    _NOW
    + _SETTLING
    + """local left, back = settling(now, ARGV[2], tonumber(ARGV[3]))
return {us(left), us(back)}
"""
)

# Back from an outage, for each request this replica let go on its share that is still in
# flight: KEYS as for _COMMIT; ARGV: now (negative: Redis TIME), how long it may stay in flight
# at most, a unique member. It joins the requests in flight, to be released like any other.
_FLYING = (
    _NOW
    + """local lapse = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[3], us(lapse), ARGV[3])
local want = math.ceil((lapse - now) / 1000) + 1000
if redis.call('PTTL', KEYS[3]) < want then redis.call('PEXPIRE', KEYS[3], want) end
return 1
"""
)

# Once a request's answer (or failure) is in: KEYS as for _COMMIT; ARGV: now (negative: Redis
# TIME), window + margin, the member, the time it was sent (its floor), how long ago the answer
# came (0, or the age of a release that could not reach Redis then and is sent on its return).
# The member leaves the requests in flight and counts in the window from the answer's time:
# the server counted the request at some moment between its send and its answer, so a request
# sent one window after the answer cannot share the server's window with it, however late the
# first one reached the server. Answers the time it counts from.
_RELEASE = (
    _NOW
    + """local span = tonumber(ARGV[2])
local member = ARGV[3]
local at = now - tonumber(ARGV[5])
if tonumber(ARGV[4]) > at then at = tonumber(ARGV[4]) end
redis.call('ZREM', KEYS[3], member)
redis.call('ZADD', KEYS[1], us(at), member)
local want = math.ceil((at - now + span) / 1000) + 1000
if redis.call('PTTL', KEYS[1]) < want then redis.call('PEXPIRE', KEYS[1], want) end
return us(at)
"""
)


AUDIT_STREAM = f"{KEY_PREFIX}:audit"
# The stream keeps about this many lines (each replica's file keeps them all).
AUDIT_STREAM_MAXLEN = 1_000_000
# Lines (and bytes of them) added by one run of _AUDIT_ADD: a catch-up after a long outage goes
# in several, so that no one script holds Redis for long.
_AUDIT_BATCH_LINES = 1000
_AUDIT_BATCH_BYTES = 1024 * 1024

# Adds audit lines once: KEYS[1] the stream, KEYS[2] a hash of each source's mark (the offset
# of the last line added from that file); ARGV: the stream's MAXLEN, then source, offset, line
# for each line, in offset order within a source. A line at or before its source's mark was
# added before (its reply was lost, and it is sent again) and is skipped. One XADD and its mark
# after the other: a script stopped between them could add a line twice, never lose one.
# Answers how many lines it added.
_AUDIT_ADD = """
local marks = {}
local added = 0
for i = 2, #ARGV, 3 do
  local source, offset = ARGV[i], tonumber(ARGV[i + 1])
  local mark = marks[source]
  if mark == nil then mark = tonumber(redis.call('HGET', KEYS[2], source) or '-1') end
  if offset > mark then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
      'line', ARGV[i + 2], 'source', source, 'offset', ARGV[i + 1])
    redis.call('HSET', KEYS[2], source, ARGV[i + 1])
    mark = offset
    added = added + 1
  end
  marks[source] = mark
end
return added
"""
_TIMEOUT_SECONDS = 1.0
# Reservations in flight at once per replica: a burst of calls queues here instead of opening
# so many connections that the pool refuses one, which would look like an outage.
_MAX_IN_FLIGHT = 32
# The shared window's margin beyond one second. A place is held from its send until its answer
# and a window after that, which is exact whatever the delay between a request leaving its
# replica and the server counting it (it was counted before its answer came). The margin is
# for what that causal bound does not cover: the window's times are Redis's wall clock, which
# NTP may slew (at most 0.5 ms a second) against the server's, and timers that fire a little
# early; 50 ms is a hundred times that, and costs 5% of the throughput at full load.
SHARED_MARGIN_SECONDS = 0.05
SHARED_SPAN_SECONDS = WINDOW_SECONDS + SHARED_MARGIN_SECONDS
# A request in flight holds its place until its answer, or this long if its replica never says
# (it died mid-request): longer than the client's request timeout.
FLIGHT_HOLD_SECONDS = 60.0
# After a replica came back from an outage, every replica keeps to its share as well at least
# this long: another replica learns that Redis is back at its next try, within a retry delay;
# its last sends on its share then leave the window one span after their answers; a second span
# covers a busy process being late with either.
SETTLE_FLOOR_SECONDS = RETRY_AFTER_SECONDS + 2 * SHARED_SPAN_SECONDS
# ...and until all N replicas have reported back, but no longer than this: a replica that died
# during the outage (or N set above the replicas running) holds the others to their shares for
# this long, not for good.
SETTLE_CAP_SECONDS = 60.0
# The rate windows' keys. Their times were seconds under `cs-mcp:rl:`; now that they are
# microseconds the keys are new, so that a replica of an earlier version, during a rolling
# upgrade, never reads a time in the other unit.
RATE_KEY_PREFIX = f"{KEY_PREFIX}:rl-us"
# The window and the hold as the scripts take them.
_SPAN_US = _us(SHARED_SPAN_SECONDS)
_HOLD_US = _us(FLIGHT_HOLD_SECONDS)


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
    """The merged audit trail: one Redis stream every replica's audit log adds its lines to.

    Each entry holds the line (`line`, without its newline) and its place: the file's source
    and the line's byte offset in it (`source`, `offset`; readers need only `line`). The hash
    `<key>:marks` keeps, per source, the offset of the last line added: one field per audit
    file a replica ever wrote, not per line.
    """

    def __init__(self, client: redis.Redis, key: str = AUDIT_STREAM) -> None:
        self._redis = client
        self.key = key
        self.marks_key = f"{key}:marks"
        self._add = client.register_script(_AUDIT_ADD)

    def add(self, lines: Iterable[PlacedLine]) -> None:
        """Appends the lines in order, skipping each at or before the last place added from its
        source (sent before, its reply lost), in one round trip per batch of lines.

        Raises:
            redis.exceptions.RedisError: Redis cannot be reached (the batches before were added).
        """
        batch: list[bytes | str | int] = [AUDIT_STREAM_MAXLEN]
        size = 0
        for source, offset, line in lines:
            batch += [source, offset, line.rstrip(b"\n")]
            size += len(line)
            if len(batch) > 3 * _AUDIT_BATCH_LINES or size >= _AUDIT_BATCH_BYTES:
                self._add(keys=[self.key, self.marks_key], args=batch)
                batch, size = batch[:1], 0
        if len(batch) > 1:
            self._add(keys=[self.key, self.marks_key], args=batch)

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
    holding its place from the moment it is let go (after its wait, so one that woke late in a
    busy process is counted late, not early) until its answer, and a `span` after that. Waiters
    go one at a time, in order."""

    def __init__(self, rate: int, clock: Clock, sleep: Sleep, span: float = SHARED_SPAN_SECONDS) -> None:
        self.rate = max(1, rate)
        self._clock = clock
        self._sleep = sleep
        self._span = span
        self._answered: list[float] = []  # when the places' answers came, in order
        self.flying: set[LocalPlace] = set()  # places let go whose answer has not come
        self._landed = anyio.Event()
        self._not_before = 0.0
        self._lock = anyio.Lock()

    async def acquire(self) -> LocalPlace:
        """Waits until one more request fits in the share, then lets it go; its place is held
        until it is released."""
        async with self._lock:
            now = self._clock()
            del self._answered[: bisect.bisect_right(self._answered, now - self._span)]
            until = now
            while True:
                counted = len(self._answered) - bisect.bisect_right(self._answered, until - self._span)
                if len(self.flying) + counted < self.rate:
                    break
                free = self.rate - len(self.flying)
                if free > 0:
                    # An answer that comes meanwhile moves a place from flying to answered,
                    # later than `until - span`: the count at `until` stays as computed.
                    until = max(until, self._answered[len(self._answered) - free] + self._span)
                else:
                    self._landed = anyio.Event()
                    await self._landed.wait()
                    until = max(until, self._clock())
            until = max(until, self._not_before)
            if until > now:
                await self._sleep(until - now)
            # Late if the process was busy: then counted from when it really goes.
            place = LocalPlace(self, max(self._clock(), until))
            self.flying.add(place)
            return place

    def landed(self, place: LocalPlace) -> None:
        """`place`'s answer came: it counts a `span` from now."""
        self.flying.discard(place)
        bisect.insort(self._answered, max(self._clock(), place.sent))
        self._landed.set()

    def count_answer(self) -> None:
        """Counts an answer that came now to a request let go elsewhere (a shared place)."""
        bisect.insort(self._answered, self._clock())
        self._landed.set()

    def answered_within_span(self) -> list[float]:
        """When the answers that still count came (local time)."""
        now = self._clock()
        return [moment for moment in self._answered if moment > now - self._span]

    def hold_until(self, moment: float) -> None:
        """Lets nothing go before `moment`."""
        self._not_before = max(self._not_before, moment)

    def observe(self, remaining: int | None) -> None:
        """At an `X-RateLimit-Remaining` of 0, waits out the window."""
        if remaining is not None and remaining <= 0:
            self.hold_until(self._clock() + WINDOW_SECONDS)


@dataclass(eq=False)
class LocalPlace:
    """A place in a `LocalShare`, let go at `sent`; `shared` once Redis came back while it was
    in flight and it was added to the shared window's requests in flight (window, member)."""

    share: LocalShare
    sent: float
    shared: tuple[SharedWindow, str] | None = None
    released: bool = False

    async def release(self) -> None:
        if not self.released:
            self.released = True
            self.share.landed(self)
            if self.shared is not None:
                window, member = self.shared
                await window.release(member, 0, in_share=True)


@dataclass
class SharedPlace:
    """A place in the shared window (`member`, sent at `sent` on the window's clock, in
    microseconds), and the local one it also took while the replica was settling back from an
    outage."""

    window: SharedWindow
    member: str
    sent: int
    local: LocalPlace | None

    async def release(self) -> None:
        if self.local is not None:
            await self.local.release()
        await self.window.release(self.member, self.sent)


class SharedWindow:
    """One organization's window for one API family, in Redis; the same interface as
    `SlidingWindowLimiter` (`acquire()`, `observe(remaining)`)."""

    def __init__(self, owner: SharedRateLimiter, key: str, rate: int) -> None:
        self.rate = rate
        self.key = key
        self._owner = owner
        self._redis_key = f"{RATE_KEY_PREFIX}:{owner.scope}:{key}"
        self._keys = [
            self._redis_key,
            f"{self._redis_key}:nb",
            f"{self._redis_key}:flight",
            f"{self._redis_key}:share",
            f"{self._redis_key}:settle",
            f"{self._redis_key}:back",
            f"{RATE_KEY_PREFIX}:{owner.scope}:settling",
        ]
        self._fallback = LocalShare(rate // owner.replicas, owner.clock, owner.sleep)
        self._pause = 0.0  # seconds every replica must wait, sent with the next reservation
        # The local time of the latest place this replica was granted in the shared window.
        self._horizon = 0.0
        self._on_fallback = False
        # Back from an outage: until then requests fit both windows (as Redis last said; the
        # commit checks it again).
        self._settle_until = 0.0
        self._coming_back: anyio.Event | None = None  # a come-back under way (`_come_back`)
        # Releases Redis did not take (it was down): (member, sent on the window's clock in
        # microseconds, local time of the answer).
        # Sent when it answers again, so the window counts those requests from their answers
        # and does not keep them in flight until their hold lapses.
        self._unreleased: list[tuple[str, int, float]] = []

    async def acquire(self) -> Place:
        """Waits until one more request fits in the shared window (or, with Redis down, in the
        local fallback window), then counts it; the place is held until it is released."""
        owner = self._owner
        local: LocalPlace | None = None
        try:
            while True:
                if owner.using_fallback():
                    local = local or await self._acquire_locally()
                    if owner.using_fallback():
                        return local
                    # It waited in the local queue past the retry delay: Redis may be back, and
                    # this replica must not go on sending unseen by the others. Counted there too.
                shared = await self._acquire_shared(local)
                if shared is not None:
                    return shared
                # Redis did not answer: a place on the share, not before the switch's hold, which
                # outlasts the retry delay. Redis is tried once more after it, so a replica that
                # lost Redis for a moment while the others did not sends nothing they cannot see.
                local = local or await self._acquire_locally()
                if owner.using_fallback():
                    return local
        except BaseException:
            # Cancelled (or a bug): the local place was never used.
            if local is not None:
                await Places([local]).release()
            raise

    async def _acquire_shared(self, local: LocalPlace | None) -> SharedPlace | None:
        """A place in the shared window (and in the share too while settling back from an
        outage, unless `local` is one already); None when Redis cannot be reached."""
        owner = self._owner
        member = secrets.token_hex(8)
        reserved = False
        try:
            args = [owner.shared_now(), self.rate, _SPAN_US, member, _us(self._pause), *self._report()]
            reply = await owner.run(owner.reserve_script, self._keys, args)
            reserved = True
            self._pause = 0.0
            # Kept as Redis wrote them: the commit takes the slot back as its floor, unrounded.
            slot, now = int(reply[0]), int(reply[1])
            self._note_settling(reply[:4])
            await self._come_back(local)
            await self._send_unreleased()
            # redis-py gives the nested HGETALL reply as a list (of bytes, no decoding asked).
            await owner.report_back_elsewhere(self.key, cast(list[bytes], reply[4]))
            settling: LocalPlace | None = None
            try:
                while True:
                    # Counted from the script's `now`, not from when it was asked: the time spent
                    # reaching Redis came before that moment, and only the reply's way back (a
                    # little) is waited on top, which errs late, never early.
                    delay = _seconds(slot - now)
                    self._horizon = max(self._horizon, owner.clock() + max(0.0, delay))
                    if delay > 0:
                        await owner.sleep(delay)
                    # Redis may have gone and come back while this waited for its place.
                    await self._come_back(local)
                    if local is None and settling is None and owner.clock() < self._settle_until:
                        # Just back: other replicas may still be on their share, unseen here.
                        settling = await self._fallback.acquire()
                    held = local or settling
                    args = [
                        owner.shared_now(),
                        self.rate,
                        _SPAN_US,
                        member,
                        slot,
                        _HOLD_US,
                        *self._report(),
                        int(held is not None),
                    ]
                    reply = await owner.run(owner.commit_script, self._keys, args)
                    self._note_settling(reply)
                    if reply[0] == b"ok":
                        return SharedPlace(self, member, int(reply[1]), held)
                    if reply[0] == b"share":
                        # Settling, which this replica had not heard of when it reserved: a place
                        # in its share too, then the commit again (its time has come).
                        now = int(reply[1])
                        settling = await self._fallback.acquire()
                        continue
                    slot, now = int(reply[1]), int(reply[2])
            except BaseException:
                if settling is not None:
                    await Places([settling]).release()
                raise
        except BaseException as exc:
            if reserved:
                # Redis may have moved the member to the requests in flight before the reply
                # was lost (or the caller gave up): released at the next contact, so that it
                # does not hold a place until its hold lapses.
                self._unreleased.append((member, 0, owner.clock()))
            if not isinstance(exc, UNREACHABLE):
                raise
            owner.redis_failed(exc)
            return None

    async def release(self, member: str, sent: int, *, in_share: bool = False) -> None:
        """The answer to the request at `member` is in: it counts a window from now. With Redis
        unreachable the release is kept and sent when it answers again, and the local share
        counts the answer meanwhile (unless `in_share`: it is one of its own places)."""
        owner = self._owner
        self._horizon = max(self._horizon, owner.clock())
        if not owner.using_fallback():
            try:
                args = [owner.shared_now(), _SPAN_US, member, sent, 0]
                await owner.run(owner.release_script, self._keys, args)
                return
            except UNREACHABLE as exc:
                owner.redis_failed(exc)
        self._unreleased.append((member, sent, owner.clock()))
        if not in_share:
            # A shared request that was still in flight when Redis went away: the server may
            # have counted it late, beside what the share lets go now.
            self._fallback.count_answer()

    async def _come_back(self, current: LocalPlace | None) -> None:
        """Once Redis answers again after this window sent on its share: publishes that every
        replica keeps to its share as well until all N have reported back (a new round of
        `_SETTLE`), and adds what this replica sent on its share to the shared window (`_seed`),
        before any request of this window goes out through the shared window alone, and before
        it reports back itself. Nothing to do when the window was not on its share."""
        if self._coming_back is not None:
            await self._coming_back.wait()
            return
        if not self._on_fallback:
            return
        owner = self._owner
        back = self._coming_back = anyio.Event()
        try:
            args: list[int | str] = [
                owner.shared_now(),
                _us(SETTLE_FLOOR_SECONDS),
                _us(SETTLE_CAP_SECONDS),
                self.key,
            ]
            left = _seconds(cast(bytes, await owner.run(owner.settle_script, self._keys, args)))
            self._settle_until = owner.clock() + left
            await self._seed(current)
            self._on_fallback = False
        finally:
            self._coming_back = None
            back.set()

    async def _seed(self, current: LocalPlace | None) -> None:
        """Adds what this replica let go on its share and still counts to the shared window: the
        answers of the last span, dated by how long ago they came, and the requests still in
        flight (released into the shared window when their answers come). `current` is the
        request being granted, which the shared window counts anyway."""
        owner = self._owner
        for answered in self._fallback.answered_within_span():
            args = [owner.shared_now(), _SPAN_US, secrets.token_hex(8), 0, _us(owner.clock() - answered)]
            await owner.run(owner.release_script, self._keys, args)
        for place in list(self._fallback.flying):
            if place is current or place.shared is not None:
                continue
            member = secrets.token_hex(8)
            await owner.run(owner.flying_script, self._keys, [owner.shared_now(), _HOLD_US, member])
            place.shared = (self, member)

    async def _send_unreleased(self) -> None:
        """Sends the releases Redis missed, each dated by how long ago its answer came (measured
        before the call, so it errs late)."""
        while self._unreleased:
            # Taken before the call: concurrent requests each send different ones.
            member, sent, answered = self._unreleased.pop(0)
            args = [self._owner.shared_now(), _SPAN_US, member, sent, _us(self._owner.clock() - answered)]
            try:
                await self._owner.run(self._owner.release_script, self._keys, args)
            except BaseException:
                self._unreleased.insert(0, (member, sent, answered))
                raise

    async def report_back(self) -> None:
        """Reports this replica back in the family's settling round, without a request of the
        family: after coming back first, when this window was on its share (`_come_back`).

        Raises:
            redis.exceptions.RedisError, OSError, TimeoutError: Redis cannot be reached.
        """
        await self._come_back(None)
        owner = self._owner
        self._note_settling(await owner.run(owner.report_script, self._keys, [owner.shared_now(), *self._report()]))

    def _report(self) -> tuple[str, int]:
        """The id and N a script reports this replica back with; no id while this window has
        sent on its share and not yet come back (the shared window does not see all it sent)."""
        return ("" if self._on_fallback else self._owner.replica_id, self._owner.replicas)

    def _note_settling(self, reply: list[bytes]) -> None:
        """Keeps what a reserve or commit's reply says of the settling after an outage (its last
        two figures): the seconds left to keep to the share, and the replicas back."""
        left, back = _seconds(reply[-2]), int(reply[-1])
        # As Redis said last: a round that ended, or began, since shortens or lengthens it.
        self._settle_until = self._owner.clock() + left
        self._owner.note_round(back, at_cap=left == 0 and 0 <= back < self._owner.replicas)

    async def _acquire_locally(self) -> LocalPlace:
        """A place in the local 1/N window; on the switch, not before the shared window's grants
        and answers are certainly past."""
        if not self._on_fallback:
            self._on_fallback = True
            # From now too: the hold outlasts the retry delay, so a replica that lost Redis for
            # a moment, while the others did not, tries it again before sending on its share.
            self._fallback.hold_until(max(self._horizon, self._owner.clock()) + 2 * SHARED_SPAN_SECONDS)
        return await self._fallback.acquire()

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
        replicas: N, for the fallback at 1/N of each limit while Redis is unreachable, and the
            replicas that must report back before the settling after an outage ends.
        replica_name: this replica's stable name (`CS_MCP_REPLICA_NAME`), its id in the settling
            rounds; None: an id of this process's own.
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
        replica_name: str | None = None,
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
        self.release_script = redis.register_script(_RELEASE)
        self.flying_script = redis.register_script(_FLYING)
        self.settle_script = redis.register_script(_SETTLE)
        self.report_script = redis.register_script(_REPORT)
        self._in_flight = anyio.CapacityLimiter(_MAX_IN_FLIGHT)
        self._down_until: float | None = None
        self._warned = False
        # This replica's id in the settling rounds. Its stable name lets one that restarts count
        # once; without one, a restarted replica is a new id and may end a round that another
        # replica, still on its share, has not reported back in.
        self.replica_id = replica_name or secrets.token_hex(8)
        self._settle_warned: set[str] = set()  # what `note_round` has said since the last outage
        # The settling rounds this replica reported back in without a request of their family
        # (family -> the round's cap, as Redis names it).
        self._reported: dict[str, bytes] = {}

    def new_window(self, key: str) -> Window:
        return SharedWindow(self, key, self.limits.for_key(key))

    def shared_now(self) -> int:
        """The time to reserve at, in microseconds: the injected shared clock, else -1 (the
        script reads TIME)."""
        return _us(self._shared_clock()) if self._shared_clock else -1

    async def run(self, script: AsyncScript, keys: list[str], args: list[int | str]) -> list[bytes]:
        """Runs one of the window's scripts (a bounded number at once per replica). Times in
        `args` are whole microseconds: a float would reach the script rounded by its text form.

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
            self._settle_warned.clear()
        return reply

    async def report_back_elsewhere(self, family: str, rounds: list[bytes]) -> None:
        """Reports this replica back in the families that settle after an outage (`rounds`:
        family, cap, ... as a reservation in `family` answered them), once a round: a replica
        busy with other families would otherwise hold one it does not use to its cap.

        Raises:
            redis.exceptions.RedisError, OSError, TimeoutError: Redis cannot be reached.
        """
        for name, cap in zip(rounds[::2], rounds[1::2], strict=True):
            key = name.decode()
            if key == family or self._reported.get(key) == cap:
                continue  # the reservation reported in its own family
            try:
                window = self.window(key)
            except KeyError:
                continue  # a family a later version limits: that version reports back in it
            # Before the call: concurrent reservations that saw the same round report once.
            self._reported[key] = cap
            try:
                await cast(SharedWindow, window).report_back()
            except BaseException:
                self._reported.pop(key, None)
                raise

    def using_fallback(self) -> bool:
        return self._down_until is not None and self.clock() < self._down_until

    def note_round(self, back: int, *, at_cap: bool) -> None:
        """Warns (once an outage) when the replicas back in a settling round say that N may not
        be the number of replicas running: more than N reported, or the round ran to its cap."""
        if back > self.replicas and "over" not in self._settle_warned:
            self._settle_warned.add("over")
            logger.warning(
                "%d replicas reported back to Redis after an outage, more than CS_MCP_REPLICAS (%d): unless one "
                "without CS_MCP_REPLICA_NAME restarted meanwhile, more replicas run, and each one's share while "
                "Redis is down is too large",
                back,
                self.replicas,
            )
        if at_cap and "cap" not in self._settle_warned:
            self._settle_warned.add("cap")
            logger.warning(
                "after Redis came back the replicas kept to their shares for %.0f s, the most, with %d of %d "
                "reported back: one is down, cannot reach Redis or had no request since, or CS_MCP_REPLICAS is more "
                "than run",
                SETTLE_CAP_SECONDS,
                back,
                self.replicas,
            )

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
        connect(settings.redis_url.get_secret_value()),
        limit_scope(settings),
        limits,
        replicas=settings.replicas,
        replica_name=settings.replica_name,
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
