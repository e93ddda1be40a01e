"""A virtual clock for tests: sleeping tasks wake in time order, instantly, on a fake timeline."""

from __future__ import annotations

import heapq
import itertools

import anyio
from anyio.abc import TaskGroup


class VirtualClock:
    """`now()` and `sleep()` for code under test; `run(tg)` drives time forward whenever every
    task is blocked, waking the earliest sleeper."""

    def __init__(self) -> None:
        self.time = 0.0
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._counter = itertools.count()

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        event = anyio.Event()
        heapq.heappush(self._sleepers, (self.time + max(seconds, 0.0), next(self._counter), event))
        await event.wait()

    async def drive(self) -> None:
        """Advances time until cancelled; start it in a task group beside the code under test."""
        while True:
            await anyio.wait_all_tasks_blocked()
            if self._sleepers:
                wake, _, event = heapq.heappop(self._sleepers)
                self.time = max(self.time, wake)
                event.set()
            else:
                await anyio.sleep(0.001)

    def start(self, tg: TaskGroup) -> None:
        tg.start_soon(self.drive)
