"""The client core against httpx2.MockTransport: hosts, headers, encoding, retries, limits, errors."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import anyio
import httpx2
import pytest

from cs_mcp.client import (
    REGIONS,
    Api,
    AuthenticationError,
    ClientConfig,
    ConnectionFailedError,
    ContentstackClient,
    InvalidBaseURLError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    PermitRequiredError,
    Place,
    RateLimitedError,
    RateLimiter,
    RateLimits,
    RetryPolicy,
    ServerError,
    UnknownRegionError,
    UnsafePathError,
    Window,
    base_url,
    resolve_region,
)
from cs_mcp.guard import PermitAuthority
from tests.client._mock import MANAGEMENT, Handler, InTurn, Recorder, mock_client, no_sleep
from tests.client._virtual_time import VirtualClock

pytestmark = pytest.mark.anyio


def make_client(
    handler: Handler,
    config: ClientConfig = MANAGEMENT,
    *,
    permits: PermitAuthority | None = None,
    retry: RetryPolicy | None = None,
) -> ContentstackClient:
    return mock_client(handler, config, permits=permits, retry=retry)


def ok(_request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json={"ok": True})


def connect_refused(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("refused", request=request)


def read_timeout(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ReadTimeout("slow", request=request)


def answer(status: int, body: object) -> Handler:
    def handler(_request: httpx2.Request) -> httpx2.Response:
        if isinstance(body, bytes):
            return httpx2.Response(status, content=body)
        return httpx2.Response(status, json=body)

    return handler


# -- regions and base URLs ------------------------------------------------------------


@pytest.mark.parametrize("region", sorted(REGIONS))
@pytest.mark.parametrize("api", list(Api))
def test_each_region_and_api_has_its_documented_https_host(region: str, api: Api) -> None:
    url = base_url(api, region)
    assert (
        url
        == f"https://{REGIONS[region].host(api)}"
        + {
            Api.CMA: "/v3",
            Api.CDA: "/v3",
            Api.ANALYTICS: "/analytics/v2",
            Api.AUTOMATE: "/v1",
        }[api]
    )


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("na", "NA"),
        ("us", "NA"),
        ("aws-na", "NA"),
        ("AWS_NA", "NA"),
        ("eu", "EU"),
        ("aws-eu", "EU"),
        ("au", "AU"),
        ("azure-na", "AZURE_NA"),
        ("Azure_EU", "AZURE_EU"),
        ("gcp-na", "GCP_NA"),
        ("gcp_eu", "GCP_EU"),
    ],
)
def test_region_names_are_case_and_separator_insensitive(alias: str, canonical: str) -> None:
    assert resolve_region(alias) == canonical


def test_unknown_region_is_an_error_that_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownRegionError) as info:
        resolve_region("mars")
    assert "GCP_EU" in str(info.value)


def test_an_override_wins_over_the_region_and_gets_the_version_path_once() -> None:
    assert base_url(Api.CMA, "EU", "http://127.0.0.1:9/cma///") == "http://127.0.0.1:9/cma/v3"
    assert base_url(Api.CMA, "EU", "https://proxy.example/v3/") == "https://proxy.example/v3"
    assert base_url(Api.ANALYTICS, "NA", "http://127.0.0.1:9") == "http://127.0.0.1:9/analytics/v2"


@pytest.mark.parametrize("bad", ["api.contentstack.io", "ftp://x", "https://", "https://h/x?y=1"])
def test_a_malformed_override_is_refused(bad: str) -> None:
    with pytest.raises(InvalidBaseURLError):
        base_url(Api.CMA, "NA", bad)


async def test_requests_go_to_the_region_host_of_their_api() -> None:
    hosts: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        hosts.append(f"{request.url.host}{request.url.path}")
        return httpx2.Response(200, json={})

    config = ClientConfig(region="eu", api_key="k", management_token="m", authtoken="a", organization_uid="o")
    async with make_client(handler, config) as client:
        for api in Api:
            await client.request(api, "GET", ["x"])
    assert hosts == [
        "eu-api.contentstack.com/v3/x",
        "eu-cdn.contentstack.com/v3/x",
        "eu-app.contentstack.com/analytics/v2/x",
        "eu-prod-automations-api.contentstack.com/v1/x",
    ]


async def test_a_client_opens_an_apis_connection_pool_at_its_first_request(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real = httpx2.AsyncClient

    def counted(**kwargs: Any) -> httpx2.AsyncClient:
        opened.append(str(kwargs["base_url"]))
        return real(**kwargs)

    monkeypatch.setattr(httpx2, "AsyncClient", counted)
    config = ClientConfig(region="eu", api_key="k", management_token="m", authtoken="a", organization_uid="o")
    async with make_client(ok, config) as client:
        assert opened == []
        await client.request(Api.CMA, "GET", ["x"])
        await client.request(Api.CMA, "GET", ["y"])
        assert opened == ["https://eu-api.contentstack.com/v3"]
        await client.request(Api.AUTOMATE, "GET", ["x"])
    assert opened == ["https://eu-api.contentstack.com/v3", "https://eu-prod-automations-api.contentstack.com/v1"]


# -- headers ----------------------------------------------------------------------------


async def capture_headers(config: ClientConfig, api: Api, environment: str | None = None) -> httpx2.Headers:
    seen: list[httpx2.Headers] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.headers)
        return httpx2.Response(200, json={})

    async with make_client(handler, config) as client:
        await client.request(api, "GET", ["x"], environment=environment)
    return seen[0]


async def test_cma_with_a_management_token_sends_api_key_authorization_and_branch() -> None:
    h = await capture_headers(ClientConfig(api_key="k1", management_token="m1", branch="dev"), Api.CMA)
    assert (h["api_key"], h["authorization"], h["branch"]) == ("k1", "m1", "dev")
    assert "authtoken" not in h
    assert h["user-agent"].startswith("cs-mcp/")


async def test_cma_with_oauth_sends_a_bearer_authorization() -> None:
    h = await capture_headers(ClientConfig(api_key="k1", oauth_token="o1"), Api.CMA)
    assert h["authorization"] == "Bearer o1"


async def test_cma_with_an_authtoken_sends_the_authtoken_header() -> None:
    h = await capture_headers(ClientConfig(api_key="k1", authtoken="a1"), Api.CMA)
    assert h["authtoken"] == "a1"
    assert "authorization" not in h


async def test_cda_sends_the_delivery_token_of_the_requested_environment() -> None:
    config = ClientConfig(api_key="k1", delivery_tokens={"staging": "d-stg", "production": "d-prd"}, branch="b")
    h = await capture_headers(config, Api.CDA, environment="production")
    assert (h["api_key"], h["access_token"], h["branch"]) == ("k1", "d-prd", "b")
    assert "authorization" not in h


async def test_analytics_sends_the_authtoken_and_no_stack_credentials() -> None:
    h = await capture_headers(ClientConfig(api_key="k1", management_token="m1", authtoken="a1"), Api.ANALYTICS)
    assert h["authtoken"] == "a1"
    assert "api_key" not in h
    assert "authorization" not in h


async def test_automate_sends_authtoken_and_organization_never_a_management_token() -> None:
    config = ClientConfig(api_key="k1", management_token="m1", authtoken="a1", organization_uid="org1")
    h = await capture_headers(config, Api.AUTOMATE)
    assert (h["authtoken"], h["organization_uid"]) == ("a1", "org1")
    assert "authorization" not in h


# -- path encoding ----------------------------------------------------------------------


@pytest.mark.parametrize(("segment", "encoded"), [("..", "%2E%2E"), ("économie", "%C3%A9conomie")])
async def test_path_values_stay_inside_their_own_segment(segment: str, encoded: str) -> None:
    rec = Recorder(answer(200, {}))
    async with make_client(rec) as client:
        await client.request(Api.CMA, "GET", ["content_types", segment, "entries"])
    request = rec.requests[0]
    assert request.url.raw_path.decode() == f"/v3/content_types/{encoded}/entries"
    assert request.url.query == b""


@pytest.mark.parametrize(
    "segment",
    ["../../stacks", "blt1/unschedule", "blt1%2Funschedule", "a?b=1", "a#frag", "with space", "a\\b", "tab\t",
     "nl\n", "nul\x00", "zero\u200bwidth", ""],
)  # fmt: skip
async def test_a_path_value_that_is_not_a_plain_name_is_refused_before_anything_is_sent(segment: str) -> None:
    rec = Recorder(answer(200, {}))
    async with make_client(rec) as client:
        with pytest.raises(UnsafePathError):
            await client.request(Api.CMA, "GET", ["publish-queue", segment])
    assert rec.requests == []


# -- retries ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_a_get_is_retried_on_429_and_5xx_until_it_succeeds(status: int) -> None:
    busy = answer(status, {"error_message": "busy", "error_code": 0})
    rec = InTurn(busy, busy, ok)
    async with make_client(rec) as client:
        assert await client.request(Api.CMA, "GET", ["x"]) == {"ok": True}
    assert len(rec.requests) == 3


async def test_retries_are_bounded_in_count() -> None:
    rec = Recorder(answer(503, {"error_message": "down", "error_code": 0}))
    async with make_client(rec, retry=RetryPolicy(attempts=3)) as client:
        with pytest.raises(ServerError) as info:
            await client.request(Api.CMA, "GET", ["x"])
    assert len(rec.requests) == 3
    assert info.value.status == 503


async def test_a_get_is_retried_after_a_connection_error() -> None:
    rec = InTurn(connect_refused, ok)
    async with make_client(rec) as client:
        assert await client.request(Api.CMA, "GET", ["x"]) == {"ok": True}
    assert len(rec.requests) == 2


async def create_entry(client: ContentstackClient, body: object | None = None) -> dict[str, object]:
    """A permitted write, as a tool would send it after the guard allowed it."""
    permit = client.permits.issue("tester", "test_tool", "entry.create", {"content_type": ["blog"], "branch": ["main"]})
    return await client.request(
        Api.CMA,
        "POST",
        ["content_types", "blog", "entries"],
        json_body=body if body is not None else {},
        permit=permit,
        operation="entry.create",
        targets={"content_type": ["blog"]},
    )


async def test_a_write_is_not_retried_after_a_read_timeout_and_says_the_outcome_is_unknown() -> None:
    rec = Recorder(read_timeout)
    async with make_client(rec) as client:
        with pytest.raises(OutcomeUnknownError):
            await create_entry(client)
    assert len(rec.requests) == 1


async def test_a_write_is_not_retried_after_a_5xx() -> None:
    rec = Recorder(answer(500, {"error_message": "oops", "error_code": 0}))
    async with make_client(rec) as client:
        with pytest.raises(ServerError):
            await create_entry(client)
    assert len(rec.requests) == 1


async def test_a_write_is_retried_on_429_and_on_a_connection_that_never_opened() -> None:
    rec = InTurn(answer(429, {"error_message": "slow down", "error_code": 429}), connect_refused, ok)
    async with make_client(rec) as client:
        await create_entry(client)
    assert len(rec.requests) == 3


# -- the permit backstop ----------------------------------------------------------------


async def test_a_write_without_a_permit_sends_no_request() -> None:
    rec = Recorder(ok)
    async with make_client(rec) as client:
        with pytest.raises(PermitRequiredError):
            await client.request(Api.CMA, "POST", ["content_types", "blog", "entries"], json_body={})
        with pytest.raises(PermitRequiredError):
            await client.request(Api.CMA, "GET", ["publish-queue", "x", "unschedule"], write=True)
    assert rec.requests == []


async def test_a_permit_for_another_operation_target_or_authority_sends_no_request() -> None:
    rec = Recorder(ok)
    async with make_client(rec) as client:
        permit = client.permits.issue("p", "t", "entry.create", {"content_type": ["blog"], "branch": ["main"]})
        foreign = PermitAuthority().issue("p", "t", "entry.create", {"content_type": ["blog"], "branch": ["main"]})
        with pytest.raises(PermitRequiredError):
            await client.request(
                Api.CMA, "DELETE", ["x"], permit=permit, operation="entry.delete", targets={"content_type": ["blog"]}
            )
        with pytest.raises(PermitRequiredError):
            await client.request(
                Api.CMA, "POST", ["x"], permit=permit, operation="entry.create", targets={"content_type": ["page"]}
            )
        with pytest.raises(PermitRequiredError):
            await client.request(
                Api.CMA, "POST", ["x"], permit=foreign, operation="entry.create", targets={"content_type": ["blog"]}
            )
    assert rec.requests == []


# -- rate limiting ----------------------------------------------------------------------


async def test_fifty_concurrent_calls_never_exceed_the_rate_in_any_one_second_window() -> None:
    clock = VirtualClock()
    sent_at: list[float] = []

    def handler(_request: httpx2.Request) -> httpx2.Response:
        sent_at.append(clock.now())
        return httpx2.Response(200, json={})

    client = ContentstackClient(
        MANAGEMENT,
        permits=PermitAuthority(),
        transport=httpx2.MockTransport(handler),
        rate_limits=RateLimits(cma_read=10),
        clock=clock.now,
        sleep=clock.sleep,
    )
    async with client, anyio.create_task_group() as tg:
        clock.start(tg)
        async with anyio.create_task_group() as calls:
            for _ in range(50):
                calls.start_soon(client.request, Api.CMA, "GET", ["x"])
        tg.cancel_scope.cancel()
    assert len(sent_at) == 50
    times = sorted(sent_at)
    # any window [t, t + 1) holds at most 10 requests
    assert all(times[i + 10] - times[i] >= 1.0 for i in range(len(times) - 10))
    assert max(Counter(int(t) for t in times).values()) <= 10
    assert times[-1] < 5.0  # and it does not crawl: 50 requests at 10/s take about 4 s


async def test_concurrent_requests_of_one_family_are_granted_places_in_the_order_they_asked() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(RateLimits(cma_read=10), clock=clock.now, sleep=clock.sleep)
    granted: list[tuple[int, float]] = []

    async def ask(index: int) -> None:
        await limiter.acquire("cma.read")
        granted.append((index, clock.now()))

    async with anyio.create_task_group() as tg:
        clock.start(tg)
        async with anyio.create_task_group() as asks:
            for index in range(25):
                asks.start_soon(ask, index)
        tg.cancel_scope.cancel()
    in_order = sorted(granted)
    assert [t for _, t in in_order] == sorted(t for _, t in in_order)
    assert [t for _, t in in_order[:10]] == [0.0] * 10  # the first ten at once, the rest a window later
    assert all(t >= 1.0 for _, t in in_order[10:])


class RecordingLimiter(RateLimiter):
    """Windows that grant at once and write down each grant and release among `events`."""

    def __init__(self, events: list[str]) -> None:
        super().__init__(RateLimits())
        self.events = events

    def new_window(self, key: str) -> Window:
        return RecordingWindow(key, self.events)


class RecordingWindow:
    """A window that grants at once and is its own place: it writes down grants and releases."""

    def __init__(self, key: str, events: list[str]) -> None:
        self.key = key
        self.events = events

    async def acquire(self) -> Place:
        self.events.append(f"granted {self.key}")
        return self

    async def release(self) -> None:
        self.events.append(f"released {self.key}")

    def observe(self, remaining: int | None) -> None:
        return None


async def test_each_place_a_request_took_is_released_once_its_answer_or_failure_is_in() -> None:
    events: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        events.append("sent")
        if events.count("sent") == 1:
            return connect_refused(request)
        return (read_timeout if request.method == "POST" else ok)(request)

    client = ContentstackClient(
        MANAGEMENT,
        permits=PermitAuthority(),
        transport=httpx2.MockTransport(handler),
        sleep=no_sleep,
        limiter=RecordingLimiter(events),
    )
    async with client:
        await client.request(Api.CMA, "GET", ["x"])
        with pytest.raises(OutcomeUnknownError):
            await create_entry(client)
    once = ["granted cma.read", "sent", "released cma.read"]
    assert events == [*once, *once, "granted cma.write", "sent", "released cma.write"]


async def test_a_remaining_of_zero_pauses_the_family_for_a_window() -> None:
    clock = VirtualClock()
    sent_at: list[float] = []

    def handler(_request: httpx2.Request) -> httpx2.Response:
        sent_at.append(clock.now())
        return httpx2.Response(200, json={}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "10"})

    client = ContentstackClient(
        MANAGEMENT,
        permits=PermitAuthority(),
        transport=httpx2.MockTransport(handler),
        clock=clock.now,
        sleep=clock.sleep,
    )
    async with client, anyio.create_task_group() as tg:
        clock.start(tg)
        await client.request(Api.CMA, "GET", ["x"])
        await client.request(Api.CMA, "GET", ["x"])
        tg.cancel_scope.cancel()
    assert sent_at[1] - sent_at[0] >= 1.0


# -- error mapping ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "status", "body", "error", "code"),
    [
        (
            Api.CMA,
            401,
            {"error_message": "You're not allowed in here unless you're logged in.", "error_code": 105},
            AuthenticationError,
            105,
        ),
        (Api.CMA, 412, {"error_message": "Api key is invalid.", "error_code": 109}, AuthenticationError, 109),
        (Api.CMA, 403, {"error_message": "No permission.", "error_code": 316}, PermissionDeniedError, 316),
        (
            Api.CMA,
            422,
            {
                "error_message": "The requested object doesn't exist.",
                "error_code": 141,
                "errors": {"uid": ["is not valid."]},
            },
            NotFoundError,
            141,
        ),
        (Api.CDA, 422, {"error_message": "UID is not valid", "error_code": 141}, NotFoundError, 141),
        (
            Api.CMA,
            422,
            {"error_message": "Entry creation failed.", "error_code": 119, "errors": {"title": ["is required"]}},
            InvalidRequestError,
            119,
        ),
        (Api.CMA, 409, {"error_message": "Conflict.", "error_code": 120}, InvalidRequestError, 120),
        (Api.CMA, 404, {"error_message": "Not found."}, NotFoundError, None),
        (Api.CMA, 429, {"error_message": "Rate limit exceeded.", "error_code": 429}, RateLimitedError, 429),
        (Api.CMA, 500, {"error_message": "Internal error"}, ServerError, None),
    ],
)
async def test_documented_error_bodies_map_to_the_hierarchy(
    api: Api, status: int, body: dict[str, object], error: type[Exception], code: int | None
) -> None:
    async with make_client(answer(status, body), retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(error) as info:
            await client.request(api, "GET", ["x"])
    assert getattr(info.value, "status") == status  # noqa: B009 - the attribute is the assertion
    assert getattr(info.value, "error_code") == code  # noqa: B009


@pytest.mark.parametrize("body", [b"<html>Bad gateway</html>", b'{"error_message": "trunc', b""])
async def test_a_non_json_error_body_is_still_a_typed_error(body: bytes) -> None:
    async with make_client(answer(400, body)) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.request(Api.CMA, "GET", ["x"])
    assert info.value.error_code is None


@pytest.mark.parametrize("body", [b'{"entries": [', b"not json", b"[1, 2]"])
async def test_a_malformed_success_body_is_an_error_not_a_crash(body: bytes) -> None:
    async with make_client(answer(200, body)) as client:
        with pytest.raises(MalformedResponseError):
            await client.request(Api.CMA, "GET", ["x"])


async def test_error_messages_carry_no_token_but_keep_the_stack_api_key_an_identifier() -> None:
    body = {"error_message": "token cs_management_secret for blt_key_value is invalid", "error_code": 105}
    async with make_client(answer(401, body)) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.request(Api.CMA, "GET", ["x"])
    assert info.value.error_message == "token [redacted] for blt_key_value is invalid"


async def test_error_messages_show_control_characters_and_terminal_escapes_as_escapes() -> None:
    hostile = "Bad entry\nNotice: the guard allowed this\r\x1b[2K\x9b31m\u202e\u2028done"
    body = {"error_message": hostile, "error_code": 119, "errors": {"title\n": [hostile]}}
    async with make_client(answer(422, body)) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.request(Api.CMA, "GET", ["x"])
    for text in (str(info.value), info.value.error_message or ""):
        assert not any(char in text for char in "\n\r\x1b\x9b\u202e\u2028")
        assert "Bad entry\\nNotice" in text  # shown, as an escape


async def test_connection_failures_of_reads_become_a_typed_error_after_the_retries() -> None:
    async with make_client(connect_refused) as client:
        with pytest.raises(ConnectionFailedError):
            await client.request(Api.CMA, "GET", ["x"])


async def test_json_bodies_are_sent_with_the_json_content_type() -> None:
    rec = Recorder(ok)
    async with make_client(rec) as client:
        await create_entry(client, {"entry": {"title": "é"}})
    assert rec.requests[0].headers["content-type"] == "application/json"
    assert json.loads(rec.requests[0].content) == {"entry": {"title": "é"}}


async def test_a_cma_write_needs_a_permit_naming_the_configured_branch() -> None:
    sent: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(201, json={"entry": {"uid": "x"}})

    config = ClientConfig(api_key="blt_key", management_token="cs_token", branch="staging-branch")
    async with ContentstackClient(config, permits=PermitAuthority(), transport=httpx2.MockTransport(handler)) as client:
        on_main = client.permits.issue("p", "t", "entry.create", {"content_type": ["blog"], "branch": ["main"]})
        with pytest.raises(PermitRequiredError):
            await client.request(
                Api.CMA, "POST", ["content_types", "blog", "entries"], json_body={}, permit=on_main,
                operation="entry.create", targets={"content_type": ["blog"]},
            )  # fmt: skip
        on_branch = client.permits.issue(
            "p", "t", "entry.create", {"content_type": ["blog"], "branch": ["staging-branch"]}
        )
        await client.request(
            Api.CMA, "POST", ["content_types", "blog", "entries"], json_body={}, permit=on_branch,
            operation="entry.create", targets={"content_type": ["blog"]},
        )  # fmt: skip
    assert [r.headers["branch"] for r in sent] == ["staging-branch"]
