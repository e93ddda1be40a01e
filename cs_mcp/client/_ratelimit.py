"""Rate limiting per API family, shared by every concurrent call in the process.

Contentstack counts requests per organization per second. A sliding
window of one second per family guarantees that no one-second window holds more requests than
the limit, which a plain token bucket (burst at a window's edge) does not. Answers'
`X-RateLimit-Remaining` slows the family down before a 429 comes, since other processes of
the same organization share the limit.

`acquire` answers the places it took; the caller releases them once the answer (or the failure)
is in. The process's own windows count a request when it is granted and need no release; the
windows shared by replicas (`cs_mcp.shared_state`) hold a place until then, because the server
counted the request at some moment between its send and its answer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import anyio

__all__ = [
    "ARRIVAL_SLACK_SECONDS",
    "COUNTED",
    "WINDOW_SECONDS",
    "Clock",
    "Place",
    "Places",
    "RateLimiter",
    "RateLimits",
    "Sleep",
    "SlidingWindowLimiter",
    "Window",
]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

WINDOW_SECONDS = 1.0
# A request granted exactly one window after the tenth before it can still arrive inside the
# server's window when that earlier one travelled slower: a little slack keeps it outside.
ARRIVAL_SLACK_SECONDS = 0.03


@dataclass(frozen=True)
class RateLimits:
    """Requests per second for each family key the client uses.

    The defaults are the lower of the figures Contentstack's reference gives: the CMA's 10 reads
    and 10 writes a second per organization (an older CMA page says 10 requests in all), the
    bulk endpoints' 1 a second, and 80 uncached (origin) CDA requests a second (the CDA
    reference says 80 in one place and 100 in another). `CS_MCP_RATE_LIMITS` raises them for
    plans with higher limits.
    """

    cma_read: int = 10
    cma_write: int = 10
    cma_bulk: int = 1
    cda: int = 80
    analytics: int = 10
    automate: int = 10

    def for_key(self, key: str) -> int:
        return {
            "cma.read": self.cma_read,
            "cma.write": self.cma_write,
            "cma.bulk": self.cma_bulk,
            "cda": self.cda,
            "analytics": self.analytics,
            "automate": self.automate,
        }[key]


class Place(Protocol):
    """A granted place in a window, released once the request's answer (or failure) is in."""

    async def release(self) -> None: ...


class _Counted:
    """A place that needs no release: its window counted it when it was granted."""

    async def release(self) -> None:
        return None


COUNTED: Place = _Counted()


class Places:
    """The places one request took (a bulk request takes two)."""

    def __init__(self, places: list[Place]) -> None:
        self._places = places

    async def release(self) -> None:
        """Releases every place; safe to call from a cancelled task (the release is shielded)."""
        held = [place for place in self._places if place is not COUNTED]
        if not held:
            return  # the process's own windows: nothing to give back, so no shielded scope a call
        with anyio.CancelScope(shield=True):
            for place in held:
                await place.release()


class Window(Protocol):
    """One family's limit: `acquire()` waits for a place, `observe()` reads the server's count."""

    async def acquire(self) -> Place: ...

    def observe(self, remaining: int | None) -> None: ...


class SlidingWindowLimiter:
    """At most `rate` grants in any window of `WINDOW_SECONDS`, in the order they were asked."""

    def __init__(self, rate: int, clock: Clock, sleep: Sleep) -> None:
        if rate < 1:
            raise ValueError("rate must be at least 1")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._grants: deque[float] = deque(maxlen=rate)
        self._not_before = 0.0

    async def acquire(self) -> Place:
        """Waits until one more request fits in the window, then counts it."""
        # No lock: nothing here awaits before the grant is counted, so two acquires cannot
        # interleave, and they are granted in the order they were asked all the same.
        now = self._clock()
        slot = max(now, self._not_before)
        if self._grants:
            slot = max(slot, self._grants[-1])
        if len(self._grants) == self.rate:
            slot = max(slot, self._grants[0] + WINDOW_SECONDS + ARRIVAL_SLACK_SECONDS)
        self._grants.append(slot)
        delay = slot - now
        if delay > 0:
            await self._sleep(delay)
        return COUNTED

    def observe(self, remaining: int | None) -> None:
        """Reads the server's `X-RateLimit-Remaining`: at zero, waits out the current window."""
        if remaining is not None and remaining <= 0:
            self._not_before = max(self._not_before, self._clock() + WINDOW_SECONDS)


class RateLimiter:
    """One sliding window per family key, created on first use (`new_window`; the Redis-backed
    limiter in `cs_mcp.shared_state` makes shared ones)."""

    def __init__(self, limits: RateLimits | None = None, clock: Clock | None = None, sleep: Sleep | None = None):
        self.limits = limits or RateLimits()
        self._clock = clock or anyio.current_time
        self._sleep = sleep or anyio.sleep
        self._windows: dict[str, Window] = {}

    def new_window(self, key: str) -> Window:
        return SlidingWindowLimiter(self.limits.for_key(key), self._clock, self._sleep)

    def window(self, key: str) -> Window:
        if key not in self._windows:
            self._windows[key] = self.new_window(key)
        return self._windows[key]

    async def acquire(self, *keys: str) -> Places:
        """Waits for a place in every named window (a bulk request counts as a write too); the
        caller releases them once the request's answer or failure is in."""
        places: list[Place] = []
        try:
            for key in keys:
                places.append(await self.window(key).acquire())
        except BaseException:
            await Places(places).release()
            raise
        return Places(places)
