"""The one client that speaks HTTP to Contentstack (or the sandbox).

One `httpx2.AsyncClient` per API family (each has its own host, headers and pool), a rate
limiter shared by every concurrent call, retries that never repeat a write that may have
happened, and one error hierarchy. Typed methods live in the area modules (`_stack.py`,
`_entries.py`, ...) and reach HTTP only through `ContentstackClient.request`.
"""

from __future__ import annotations

import functools
import json
import random
import ssl
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self, cast
from urllib.parse import quote

import anyio
import httpx2

from cs_mcp import __version__
from cs_mcp.client._exceptions import (
    APIStatusError,
    ConnectionFailedError,
    ContentstackError,
    MalformedResponseError,
    OutcomeUnknownError,
    PermitRequiredError,
    RateLimitedError,
    RequestTimeoutError,
    UnsafePathError,
    status_error,
)
from cs_mcp.client._ratelimit import RateLimiter, RateLimits
from cs_mcp.client._regions import Api, base_url
from cs_mcp.guard.permit import Permit, PermitAuthority, PermitError
from cs_mcp.safe_text import scrub_secrets

__all__ = [
    "DEFAULT_RELEASE_VERSION",
    "ClientConfig",
    "ContentstackClient",
    "Multipart",
    "Redactor",
    "RetryPolicy",
    "encode_path",
]

USER_AGENT = f"cs-mcp/{__version__} (+https://github.com/cs-mcp/cs-mcp)"

Primitive = str | int | float | bool | None
Params = list[tuple[str, Primitive]] | Mapping[str, Primitive]


@dataclass(frozen=True)
class Multipart:
    """A `multipart/form-data` body: text fields, and files as (field, (filename, bytes, media
    type)). The CMA takes uploads this way ("CMA | Assets": `asset[upload]`, `asset[title]`, ...)."""

    fields: Sequence[tuple[str, str]] = ()
    files: Sequence[tuple[str, tuple[str, bytes, str]]] = ()

    def encode(self) -> tuple[bytes, str]:
        """The body and its Content-Type header (with the boundary)."""
        form = httpx2.Request("POST", "http://form.invalid/", data=dict(self.fields), files=list(self.files))
        return form.read(), form.headers["content-type"]


# The "CMA | Releases" page asks organizations that have the latest Releases enabled to send the
# header `release_version: 2.0`; the documented request bodies are the same either way.
DEFAULT_RELEASE_VERSION = "2.0"


@dataclass(frozen=True)
class ClientConfig:
    """Everything the client needs to reach Contentstack. Secrets are plain strings here and
    never leave the client except in the headers they belong to."""

    region: str = "NA"
    api_key: str | None = None
    management_token: str | None = None
    oauth_token: str | None = None
    authtoken: str | None = None
    organization_uid: str | None = None
    branch: str | None = None
    delivery_tokens: Mapping[str, str] = field(default_factory=lambda: {})
    default_environment: str | None = None
    base_urls: Mapping[Api, str] = field(default_factory=lambda: {})
    timeout: float = 30.0
    connect_timeout: float = 10.0
    # Sent as the `release_version` header on every release request. None sends no header.
    release_version: str | None = DEFAULT_RELEASE_VERSION

    def secrets(self) -> list[str]:
        """Every secret value, for scrubbing text that leaves the client. Not the API key: it
        is an identifier that Contentstack puts in every asset URL and browser request."""
        values = [self.management_token, self.oauth_token, self.authtoken]
        values.extend(self.delivery_tokens.values())
        return [v for v in values if v]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in total time."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    total_seconds: float = 30.0
    # Contentstack sends no Retry-After on 429; its window is one second.
    rate_limited_min_delay: float = 1.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


class Redactor:
    """Replaces every configured secret in a text with `[redacted]`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        return scrub_secrets(text, self._secrets)


# Characters no identifier Contentstack issues holds, and that could steer a path once a
# server or proxy decodes it (`%2F` read as `/`): a segment holding one is refused, not encoded.
_UNSAFE_IN_SEGMENT = frozenset("/\\%?#")


def unsafe_segment(segment: str) -> bool:
    """Whether `segment` holds a character refused in a path: `/`, `\\`, `%`, `?`, `#`,
    whitespace or a control (or other invisible format) character."""
    if segment.isascii() and segment.isprintable():
        # The common case, one scan in C: printable ASCII holds no control, and of whitespace only the space.
        return " " in segment or not _UNSAFE_IN_SEGMENT.isdisjoint(segment)
    return any(c in _UNSAFE_IN_SEGMENT or c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in segment)


def encode_path(segments: Sequence[str]) -> str:
    """Joins path segments, each percent-encoded whole, so no value can change the path.

    A segment holding `/`, `\\`, `%`, `?`, `#`, whitespace or a control character is refused:
    uids, content types, locales and environment names never hold one, so such a value is an
    attempt to address something else. Unicode is encoded; a segment of dots is encoded too,
    since a literal `..` would be resolved away as a parent directory.

    Raises:
        UnsafePathError: an empty or unsafe segment (nothing is sent).
    """
    parts: list[str] = []
    for segment in segments:
        if segment == "":
            raise UnsafePathError("a value that goes into a request path is empty; nothing was sent")
        if unsafe_segment(segment):
            raise UnsafePathError(
                f"refused {segment[:80]!r} as part of a request path: an identifier may not hold '/', '\\', '%', '?', "
                "'#', spaces or control characters. Pass the plain uid or name (as list tools show it); "
                "nothing was sent."
            )
        encoded = quote(segment, safe="")
        if set(segment) == {"."}:
            encoded = "%2E" * len(segment)
        parts.append(encoded)
    return "/" + "/".join(parts)


_SENT_NOTHING = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)


@functools.cache
def _verified_context() -> ssl.SSLContext:
    # Loading the CA store costs tens of milliseconds; every client of the process shares one.
    return httpx2.create_ssl_context()


def tls_context(url: str) -> ssl.SSLContext:
    """The TLS context for a client whose requests all go to `url` (redirects are not followed):
    the process's one verifying context with the CA store loaded, or, for a plain `http://`
    URL that never uses TLS, a context that verifies but loads no CA store (so it could only
    refuse, never trust, a certificate)."""
    if url.startswith("http://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return _verified_context()


class _Pools(dict[Api, httpx2.AsyncClient]):
    """One HTTP client (a connection pool) per API, made at the API's first request: a server
    that never calls analytics or Automate keeps no pool for them (a fifth of a MiB each)."""

    def __init__(self, make: Callable[[Api], httpx2.AsyncClient]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, api: Api) -> httpx2.AsyncClient:
        made = self[api] = self._make(api)
        return made


class ContentstackClient:
    """The shared API client. Use as an async context manager, or call `aclose()`.

    Args:
        config: hosts and credentials.
        permits: the guard's authority; every write is verified against it before sending.
        transport: an httpx2 transport (tests pass `httpx2.MockTransport`).
        rate_limits, retry: limits and retry policy.
        limiter: replaces the process's own limiter (replicas share one in Redis).
        clock, sleep: injectable time, for tests that count requests per window.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        permits: PermitAuthority,
        transport: httpx2.AsyncBaseTransport | None = None,
        rate_limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        seed: int | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.config = config
        self.permits = permits
        self.retry = retry or RetryPolicy()
        self._clock = clock or time.monotonic
        self._sleep = sleep or anyio.sleep
        self.limiter = limiter or RateLimiter(rate_limits, clock=self._clock, sleep=self._sleep)
        self.redact = Redactor(config.secrets())
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not security
        timeout = httpx2.Timeout(config.timeout, connect=config.connect_timeout)
        limits = httpx2.Limits(max_connections=20, max_keepalive_connections=10)
        urls = {api: base_url(api, config.region, config.base_urls.get(api)) for api in Api}
        # As the HTTP client states it (a trailing slash added), without the slash.
        self._base_urls = {api: str(httpx2.URL(url)).rstrip("/") for api, url in urls.items()}

        def pool(api: Api) -> httpx2.AsyncClient:
            return httpx2.AsyncClient(
                base_url=urls[api],
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                timeout=timeout,
                limits=limits,
                transport=transport,
                follow_redirects=False,
                verify=tls_context(urls[api]),
            )

        self._http = _Pools(pool)
        # Typed areas, imported here to keep one import direction (areas -> core).
        from cs_mcp.client._admin import StackAdminAPI
        from cs_mcp.client._analytics import AnalyticsAPI
        from cs_mcp.client._assets import AssetsAPI
        from cs_mcp.client._automate import AutomateAPI
        from cs_mcp.client._content_types import ContentTypesAPI
        from cs_mcp.client._entries import EntriesAPI
        from cs_mcp.client._fetch import UrlFetcher
        from cs_mcp.client._publishing import PublishingAPI
        from cs_mcp.client._releases import ReleasesAPI
        from cs_mcp.client._stack import StackAPI

        self.stack = StackAPI(self)
        self.entries = EntriesAPI(self)
        self.publishing = PublishingAPI(self)
        self.releases = ReleasesAPI(self)
        self.analytics = AnalyticsAPI(self)
        self.automate = AutomateAPI(self)
        self.admin = StackAdminAPI(self)
        self.assets = AssetsAPI(self)
        self.content_types = ContentTypesAPI(self)
        # The one fetch of a host other than Contentstack's: upload_asset's `url` (see _fetch.py).
        self.files = UrlFetcher(transport=transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes every connection pool."""
        for http in self._http.values():
            await http.aclose()

    def base_url(self, api: Api) -> str:
        return self._base_urls[api]

    # -- credentials -------------------------------------------------------------------

    def delivery_token_for(self, environment: str) -> str | None:
        return self.config.delivery_tokens.get(environment)

    def _auth_headers(self, api: Api, environment: str | None) -> dict[str, str]:
        c = self.config
        headers: dict[str, str] = {}
        if api is Api.CMA:
            if c.api_key:
                headers["api_key"] = c.api_key
            if c.management_token:
                headers["authorization"] = c.management_token
            elif c.oauth_token:
                headers["authorization"] = f"Bearer {c.oauth_token}"
            elif c.authtoken:
                headers["authtoken"] = c.authtoken
            if c.branch:
                headers["branch"] = c.branch
        elif api is Api.CDA:
            if c.api_key:
                headers["api_key"] = c.api_key
            env = environment or c.default_environment
            token = c.delivery_tokens.get(env) if env else None
            if token:
                headers["access_token"] = token
            if c.branch:
                headers["branch"] = c.branch
        else:
            # Analytics and Automate act for a user: the authtoken, else the OAuth token.
            if c.authtoken:
                headers["authtoken"] = c.authtoken
            elif c.oauth_token:
                headers["authorization"] = f"Bearer {c.oauth_token}"
            if api is Api.AUTOMATE and c.organization_uid:
                headers["organization_uid"] = c.organization_uid
        return headers

    # -- the one way to HTTP -------------------------------------------------------------

    async def request(
        self,
        api: Api,
        method: str,
        path: Sequence[str],
        *,
        params: Params | None = None,
        json_body: Any = None,
        multipart: Multipart | None = None,
        headers: Mapping[str, str] | None = None,
        environment: str | None = None,
        permit: Permit | None = None,
        operation: str | None = None,
        targets: Mapping[str, Iterable[str]] | None = None,
        write: bool | None = None,
        bulk: bool = False,
    ) -> dict[str, Any]:
        """Sends one request and answers its JSON body.

        `path` is a list of raw segments; each is percent-encoded whole. The body is
        `json_body` as JSON, or `multipart` as form data. A write (any method
        but GET, or `write=True` for a GET that changes state) must carry a `permit` for
        `operation` covering `targets`, or nothing is sent.

        Raises:
            PermitRequiredError: a write without a valid permit (nothing sent).
            APIStatusError and subclasses: Contentstack's refusal.
            TransportError and subclasses: no usable answer.
            MalformedResponseError: the answer is not JSON.
        """
        method = method.upper()
        is_write = (method != "GET") if write is None else write
        if is_write:
            if api is Api.CMA:
                # Every CMA write lands on the configured branch (Contentstack's `main` without one):
                # the permit must name it, so a role's `branches` rule cannot be sidestepped.
                targets = {**(targets or {}), "branch": [self.config.branch or "main"]}
            try:
                self.permits.verify(permit, operation or f"{method} {api.value}", targets)
            except PermitError as exc:
                raise PermitRequiredError(f"refused to send a write: {exc}", api=api.value) from exc
        url = self.base_url(api) + encode_path(path)
        all_headers = self._auth_headers(api, environment)
        content: bytes | None = None
        if json_body is not None:
            all_headers["Content-Type"] = "application/json"
            content = json.dumps(json_body).encode()
        elif multipart is not None:
            content, all_headers["Content-Type"] = multipart.encode()
        if headers:
            all_headers.update(headers)
        keys = self._limit_keys(api, is_write, bulk)
        return await self._send_with_retries(api, method, url, params, content, all_headers, keys, is_write)

    def _limit_keys(self, api: Api, is_write: bool, bulk: bool) -> tuple[str, ...]:
        if api is Api.CMA:
            if bulk:
                return ("cma.bulk", "cma.write")
            return ("cma.write",) if is_write else ("cma.read",)
        return ({Api.CDA: "cda", Api.ANALYTICS: "analytics", Api.AUTOMATE: "automate"}[api],)

    async def _send_with_retries(
        self,
        api: Api,
        method: str,
        url: str,
        params: Params | None,
        content: bytes | None,
        headers: dict[str, str],
        keys: tuple[str, ...],
        is_write: bool,
    ) -> dict[str, Any]:
        started = self._clock()
        attempt = 0
        while True:
            places = await self.limiter.acquire(*keys)
            http = self._http[api]
            try:
                try:
                    response = await http.request(method, url, params=params, content=content, headers=headers)
                finally:
                    # The server counted the request by now, whatever the outcome.
                    await places.release()
            except _SENT_NOTHING as exc:
                error: ContentstackError = ConnectionFailedError(
                    f"could not connect to the {api.value.upper()} API ({type(exc).__name__}); nothing was sent. "
                    "Check the network, the region and the base URL.",
                    api=api.value,
                )
                retryable = True
            except httpx2.TransportError as exc:
                # Sent, and then no answer: a write may have happened, a read can be asked again.
                error = _lost_answer(api, exc, is_write)
                if isinstance(error, OutcomeUnknownError):
                    raise error from exc
                retryable = True
            else:
                remaining = _int_header(response, "x-ratelimit-remaining")
                for key in keys:
                    self.limiter.window(key).observe(remaining)
                if response.status_code < 400:
                    return self._parse_json(api, response, is_write)
                error = self.error_from_response(api, response)
                # A 429 was refused before any processing; a 5xx to a write may have half-happened.
                retryable = response.status_code == 429 or (response.status_code >= 500 and not is_write)
                if api is Api.ANALYTICS and "job failed" in (error.error_message or "").lower():
                    retryable = False  # a failed report job is final: asking again answers the same
            attempt += 1
            elapsed = self._clock() - started
            if not retryable or attempt >= self.retry.attempts or elapsed >= self.retry.total_seconds:
                raise error
            delay = self.retry.delay(attempt, self._rng)
            if isinstance(error, RateLimitedError):
                delay = max(delay, self.retry.rate_limited_min_delay)
            await self._sleep(delay)

    def _parse_json(self, api: Api, response: httpx2.Response, is_write: bool = False) -> dict[str, Any]:
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            # A success status on a write means it was applied: "try again" would write twice.
            advice = (
                "the write was accepted, so read the object back to see what was written before trying again."
                if is_write
                else "try again."
            )
            raise MalformedResponseError(
                f"the {api.value.upper()} API answered {response.status_code} with a body that is not JSON "
                f"(perhaps cut short); {advice}",
                status=response.status_code,
                api=api.value,
                request_id=_request_id(response),
            ) from exc
        obj = as_object(body)
        if obj is None:
            raise MalformedResponseError(
                f"the {api.value.upper()} API answered a JSON {type(body).__name__} where an object was expected.",
                status=response.status_code,
                api=api.value,
            )
        return obj

    def error_from_response(self, api: Api, response: httpx2.Response) -> APIStatusError:
        """Maps an error answer to the hierarchy, in plain words, with secrets scrubbed."""
        status = response.status_code
        error_code: int | None = None
        error_message: str | None = None
        errors: dict[str, Any] = {}
        try:
            body = as_object(json.loads(response.content))
        except (ValueError, UnicodeDecodeError):
            body = None
        if body is not None:
            code = body.get("error_code")
            error_code = code if isinstance(code, int) else None
            msg = body.get("error_message") or body.get("message") or body.get("error")
            error_message = self.redact(str(msg)) if msg else None
            errs = as_object(body.get("errors"))
            if errs is not None:
                # Kept on the exception for tools to quote: scrubbed like the message.
                errors = cast(dict[str, Any], _scrub(errs, self.redact))
        cls, plain = status_error(api, status, error_code)
        detail = f": {error_message}" if error_message else ""
        field_notes = "; ".join(f"{k} {_join(v)}" for k, v in errors.items())
        if field_notes:
            detail += f" ({self.redact(field_notes)})"
        code_note = f", error {error_code}" if error_code is not None else ""
        message = f"{plain} [{api.value.upper()} {status}{code_note}]{detail}"
        return cls(
            message,
            status=status,
            error_code=error_code,
            error_message=error_message,
            errors=errors,
            request_id=_request_id(response),
            api=api.value,
        )


def _scrub(value: Any, redact: Callable[[str], str]) -> Any:
    """`value` with every string inside it passed through `redact`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _scrub(v, redact) for k, v in cast(dict[Any, Any], value).items()}
    if isinstance(value, list):
        return [_scrub(v, redact) for v in cast(list[Any], value)]
    return value


def as_object(value: object) -> dict[str, Any] | None:
    """A parsed JSON value as a typed object, or None when it is not a JSON object."""
    if isinstance(value, dict):
        return {str(k): v for k, v in cast(dict[object, Any], value).items()}
    return None


def _join(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in cast(list[object], value))
    return str(value)


def _lost_answer(api: Api, exc: httpx2.TransportError, is_write: bool) -> ContentstackError:
    """The error for a request sent whose answer did not come (`exc`, a timeout or a lost
    connection): for a write, `OutcomeUnknownError` (it may have happened, so it is never
    retried); for a read, one that a retry may cure."""
    name = f"the {api.value.upper()} API"
    timed_out = isinstance(exc, httpx2.TimeoutException)
    if is_write:
        how = (
            f"the write was sent to {name} but no answer came in time"
            if timed_out
            else f"the connection to {name} was lost after the write was sent"
        )
        return OutcomeUnknownError(
            f"{how} ({type(exc).__name__}); it may or may not have been applied. "
            "Read the object back to check before trying again.",
            api=api.value,
        )
    if timed_out:
        return RequestTimeoutError(f"{name} did not answer in time; try again, or ask for less at once.", api=api.value)
    return ConnectionFailedError(f"the connection to {name} was lost ({type(exc).__name__}).", api=api.value)


def _int_header(response: httpx2.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _request_id(response: httpx2.Response) -> str | None:
    return response.headers.get("x-request-id") or response.headers.get("x-contentstack-request-id")
