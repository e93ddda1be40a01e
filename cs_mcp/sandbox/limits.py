"""Rate limits, injected faults and the request log, as one ASGI middleware over the sandbox.

Rate limits (Contentstack's "Rate limiting" sections of the CMA and CDA references, when
`config.rate_limits`): a sliding one-second window per API measured with
`state.clock.monotonic()`, so a test that advances the clock opens a new window: CMA reads 10/s,
CMA writes 10/s, the bulk endpoints (`/cma/v3/bulk/*`) 1/s (and they count as writes), CDA
100/s, Analytics 10/s, Automate 10/s. Every answer carries `X-RateLimit-Limit` and
`X-RateLimit-Remaining`; over the limit answers 429 (no `Retry-After`, as Contentstack sends
none). Requests refused with 429 do not use up the window.

Faults (`state.config.faults`, changed at run time through `/_sandbox/faults`), applied before
the request reaches its API, in this order: `latency_ms` added to every answer; `drop_connections`
(the next N requests: the status line is sent, then the connection is closed before the body,
so the client sees a broken answer it cannot read); `storm_429` (the next N answer 429);
`error_rate` (a share of requests, drawn from a generator seeded with `config.seed`, answer
`error_status`); `malformed_bodies` (the next N answers have their JSON body cut in half).

`state.rate_limited` and `state.peak_per_second` count, per limit key, the 429s sent (`rate_limited`, injected storms
included) and the most requests accepted in one sliding window (`peak_per_second`), for
`/_sandbox/stats` to report per organization and API family.

`state.request_log` receives `(api, method, path)` for every answered request of the four APIs
(refusals included, dropped connections not); `/_sandbox/*` requests are neither limited,
faulted nor logged.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cs_mcp.sandbox.state import SandboxState, error_response

# Requests per one-second window, per limit key.
LIMITS: dict[str, int] = {
    "cma.read": 10,
    "cma.write": 10,
    "cma.bulk": 1,
    "cda": 100,
    "analytics": 10,
    "automate": 10,
}
WINDOW_SECONDS = 1.0
_PREFIXES = (("/cma/", "cma"), ("/cdn/", "cda"), ("/analytics/", "analytics"), ("/automate/", "automate"))


@dataclass(frozen=True)
class Classified:
    """Which API a request is for and which limit windows it uses (the first one is reported)."""

    api: str
    keys: tuple[str, ...]


def classify(method: str, path: str) -> Classified | None:
    """The API and limit keys of a request path; None for paths outside the four APIs."""
    for prefix, api in _PREFIXES:
        if path.startswith(prefix):
            if api != "cma":
                return Classified(api, (api,))
            if path.startswith("/cma/v3/bulk/") and method != "GET":
                return Classified(api, ("cma.bulk", "cma.write"))
            return Classified(api, ("cma.read",) if method in ("GET", "HEAD") else ("cma.write",))
    return None


class RateWindows:
    """Sliding one-second windows of accepted requests, per limit key."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._hits: dict[str, deque[float]] = {key: deque() for key in LIMITS}

    def _trim(self, key: str, now: float) -> deque[float]:
        hits = self._hits[key]
        while hits and now - hits[0] >= WINDOW_SECONDS:
            hits.popleft()
        return hits

    def admit(self, keys: tuple[str, ...]) -> tuple[bool, int, int]:
        """Records a request when every window has room. Answers (admitted, limit, remaining)
        for the first key."""
        now = self._state.clock.monotonic()
        windows = [(key, self._trim(key, now)) for key in keys]
        admitted = all(len(hits) < LIMITS[key] for key, hits in windows)
        if admitted:
            for key, hits in windows:
                hits.append(now)
                self._state.peak_per_second[key] = max(self._state.peak_per_second.get(key, 0), len(hits))
        first_key, first_hits = windows[0]
        return admitted, LIMITS[first_key], max(0, LIMITS[first_key] - len(first_hits))


def too_many_requests(limit: int) -> JSONResponse:
    """The documented 429 answer."""
    return error_response(
        429,
        429,
        "Too many requests. Please try again after some time.",
        headers={"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"},
    )


class SandboxMiddleware:
    """Rate limits, faults and the request log around the whole sandbox app."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state
        self.windows = RateWindows(state)
        self._rng = random.Random(state.config.seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = str(scope["method"]), str(scope["path"])
        classified = classify(method, path)
        if classified is None:
            await self.app(scope, receive, send)
            return
        faults = self.state.config.faults
        if faults.latency_ms > 0:
            await anyio.sleep(faults.latency_ms / 1000)
        # Logged before a dropped connection too: the request did reach the server.
        self.state.request_log.append((classified.api, method, path))
        if faults.drop_connections > 0:
            faults.drop_connections -= 1
            await self._drop(send)
            return
        # Scheduled actions fire on real time too, not only when a test moves the clock: a
        # CDA read after the scheduled moment must see what was due.
        for fire_due in list(self.state.on_tick):
            fire_due()
        limit_headers: dict[str, str] = {}
        if self.state.config.rate_limits:
            admitted, limit, remaining = self.windows.admit(classified.keys)
            if not admitted:
                self._count_429(classified.keys[0])
                await too_many_requests(limit)(scope, receive, send)
                return
            limit_headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)}
        if faults.storm_429 > 0:
            faults.storm_429 -= 1
            self._count_429(classified.keys[0])
            await too_many_requests(LIMITS[classified.keys[0]])(scope, receive, send)
            return
        if faults.error_rate > 0 and self._rng.random() < faults.error_rate:
            status = faults.error_status
            refusal = error_response(status, status, "The server encountered an error. Please try again later.")
            await refusal(scope, receive, _with_headers(send, limit_headers))
            return
        if faults.malformed_bodies > 0:
            faults.malformed_bodies -= 1
            await self.app(scope, receive, _truncating(_with_headers(send, limit_headers)))
            return
        await self.app(scope, receive, _with_headers(send, limit_headers))

    def _count_429(self, key: str) -> None:
        counts = self.state.rate_limited
        counts[key] = counts.get(key, 0) + 1

    async def _drop(self, send: Send) -> None:
        # uvicorn answers 500 when an app ends without starting a response, but closes the
        # connection when it ends after the status line: that is the closest to a dropped
        # connection an ASGI app can make.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    if not headers:
        return send

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            mutable = MutableHeaders(scope=message)
            for name, value in headers.items():
                mutable[name] = value
        await send(message)

    return sending


def _truncating(send: Send) -> Send:
    """A send that holds the answer back and delivers only the first half of its body."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(bytes(message.get("body", b"")))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        cut = body[: max(1, len(body) // 2)]
        mutable = MutableHeaders(scope=start)
        mutable["content-length"] = str(len(cut))
        await send(start)
        await send({"type": "http.response.body", "body": cut, "more_body": False})

    return sending
