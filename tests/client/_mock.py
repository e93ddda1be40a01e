"""The client against a mock Contentstack: a MockTransport handler that records what was sent,
and a client on it whose waits take no time."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import httpx2

from cs_mcp.client import ClientConfig, ContentstackClient, RetryPolicy
from cs_mcp.guard import PermitAuthority
from tests.client._virtual_time import VirtualClock

Handler = Callable[[httpx2.Request], httpx2.Response]

# A stack reached with a management token; the tests look for these values in what is sent.
MANAGEMENT = ClientConfig(api_key="blt_key_value", management_token="cs_management_secret")


async def no_sleep(_seconds: float) -> None:
    """Yields once instead of waiting, so a test's retries and pacing take no time."""
    await anyio.lowlevel.checkpoint()


class Recorder:
    """A MockTransport handler that records every request and answers from a function."""

    def __init__(self, answer: Handler) -> None:
        self.requests: list[httpx2.Request] = []
        self._answer = answer

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self._answer(request)


def mock_client(
    handler: Handler,
    config: ClientConfig,
    *,
    permits: PermitAuthority | None = None,
    retry: RetryPolicy | None = None,
    clock: VirtualClock | None = None,
) -> ContentstackClient:
    """A client whose every request `handler` answers; it waits on `clock` (virtual time) when
    given, else not at all, and its jitter is seeded."""
    return ContentstackClient(
        config,
        permits=permits or PermitAuthority(),
        transport=httpx2.MockTransport(handler),
        retry=retry,
        clock=clock.now if clock else None,
        sleep=clock.sleep if clock else no_sleep,
        seed=1,
    )


class InTurn(Recorder):
    """A Recorder that answers the n-th request with the n-th of `answers` and every later one
    with the last (an answer may raise, as a transport error does)."""

    def __init__(self, *answers: Handler) -> None:
        # The request being answered is recorded already: the first finds one request.
        super().__init__(lambda request: answers[min(len(self.requests), len(answers)) - 1](request))
