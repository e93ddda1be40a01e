"""The Analytics API held to the sample answers of Contentstack's reference pages.

Each fixture under `fixtures/analytics/` is a sample answer from a page of the "Analytics API"
reference, with the page's title and last-updated date in its `_source`. Every fixture is fed
through the real client (httpx2.MockTransport answering it; the test also checks the request
the client sent against the page) and through the tools, and the sandbox's own answers are
compared with the same fixtures' shapes, so that the sandbox speaks the documented answers too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import anyio.lowlevel
import httpx2
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.routing import Mount

from cs_mcp.client import (
    ClientConfig,
    ContentstackClient,
    NotFoundError,
    RetryPolicy,
    ServerError,
)
from cs_mcp.client._analytics import JobActive, JobDataPage, ReportName
from cs_mcp.config import Settings
from cs_mcp.guard import PermitAuthority
from cs_mcp.sandbox import analytics as sandbox_analytics
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState
from cs_mcp.server import build_server
from cs_mcp.tools import analytics
from cs_mcp.tools.analytics import Poller
from tests.helpers import UNPACED, structured, text_of
from tests.tools.test_analytics import VirtualTime

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "analytics"
ORG = ClientConfig(authtoken="blt_user_authtoken", organization_uid="org_uid_1")
FROM, TO = date(2024, 1, 31), date(2024, 3, 31)
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


@dataclass(frozen=True)
class Fixture:
    """A documented answer: its HTTP status and body, and where the page shows it."""

    name: str
    status: int
    body: dict[str, Any]
    source: dict[str, str]

    def response(self) -> httpx2.Response:
        return httpx2.Response(self.status, json=self.body)


def fixture(name: str) -> Fixture:
    raw = cast(dict[str, Any], json.loads((FIXTURES / name).read_text()))
    return Fixture(name, raw["status"], raw["body"], raw["_source"])


# Each report: its path, the fixture of its Retrieve Data answer, and the parameters its page
# marks required (beyond orgUid, from and to) with the documented defaults the client sends.
@dataclass(frozen=True)
class Report:
    path: str
    data: str | None
    params: dict[str, str]


DEFAULTS = {"services": '["cdn","cma"]', "duration": "day"}
REPORTS: dict[ReportName, Report] = {
    "top_urls": Report("url", "data_top_urls.json", {**DEFAULTS, "includeTotalCount": "true"}),
    "status_codes": Report("http-statuses", "data_status_codes.json", DEFAULTS),
    "cache": Report("hit-miss-ratio", "data_cache.json", DEFAULTS),
    "devices": Report("devices", "data_devices.json", {**DEFAULTS, "includeCount": "true"}),
    "sdk": Report("sdk", "data_sdk.json", {**DEFAULTS, "includeCount": "true"}),
    "usage": Report("usage", "data_usage.json", {**DEFAULTS, "includeCount": "true"}),
    # The Subscription Usage page shows no Retrieve Data sample.
    "subscription": Report("subscription", None, {}),
}
WITH_SAMPLES = sorted(r for r, spec in REPORTS.items() if spec.data)


def test_every_fixture_names_its_page_and_its_last_update() -> None:
    names = sorted(p.name for p in FIXTURES.glob("*.json"))
    assert len(names) == 12
    for name in names:
        source = fixture(name).source
        assert source["page"]
        assert source["url"].startswith("https://www.contentstack.com/docs/developers/apis/analytics-api/")
        date.fromisoformat(source["last_updated"])


# -- the client -----------------------------------------------------------------------------


async def no_sleep(_seconds: float) -> None:
    await anyio.lowlevel.checkpoint()


def make_client(handler: Callable[[httpx2.Request], httpx2.Response]) -> ContentstackClient:
    return ContentstackClient(
        ORG,
        permits=PermitAuthority(),
        transport=httpx2.MockTransport(handler),
        sleep=no_sleep,
        retry=RetryPolicy(attempts=3, base_delay=0.0),
    )


def answering(answer: Fixture, seen: list[httpx2.Request]) -> Callable[[httpx2.Request], httpx2.Response]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return answer.response()

    return handler


@pytest.mark.parametrize("report", sorted(REPORTS))
async def test_starting_a_report_sends_the_documented_path_parameters_and_headers(report: ReportName) -> None:
    seen: list[httpx2.Request] = []
    started = fixture("start_report.json")
    async with make_client(answering(started, seen)) as client:
        job = await client.analytics.start_report(report, FROM, TO)
    assert (job.job_id, job.paginated) == (started.body["jobId"], started.body["paginated"])
    (request,) = seen
    assert request.method == "GET"
    assert request.url.path == f"/analytics/v2/{REPORTS[report].path}"
    assert request.headers["authtoken"] == "blt_user_authtoken"
    base = {"orgUid": "org_uid_1", "from": "2024-01-31", "to": "2024-03-31"}
    assert dict(request.url.params) == {**base, **REPORTS[report].params}


@pytest.mark.parametrize("name", ["job_waiting.json", "job_active.json"])
async def test_a_waiting_or_active_job_is_read_as_running(name: str) -> None:
    seen: list[httpx2.Request] = []
    answer = fixture(name)
    async with make_client(answering(answer, seen)) as client:
        read = await client.analytics.job_data("job_1")
    assert read == JobActive(message=answer.body["message"])
    assert seen[0].url.path == "/analytics/v2/job/job_1/data"
    assert dict(seen[0].url.params) == {"orgUid": "org_uid_1", "page": "0"}


async def test_a_failed_job_is_a_server_error_and_is_not_asked_again() -> None:
    seen: list[httpx2.Request] = []
    async with make_client(answering(fixture("job_failed.json"), seen)) as client:
        with pytest.raises(ServerError) as caught:
            await client.analytics.job_data("job_1")
    assert caught.value.status == 500
    assert len(seen) == 1


@pytest.mark.parametrize("name", ["job_not_found.json", "no_data_found.json"])
async def test_an_unknown_job_or_page_is_not_found(name: str) -> None:
    async with make_client(answering(fixture(name), [])) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.analytics.job_data("job_1", 3)
    assert caught.value.status == 404


def as_number(value: Any) -> Any:
    return int(value) if isinstance(value, str) and value.isdigit() else value


@pytest.mark.parametrize("report", WITH_SAMPLES)
async def test_each_documented_data_answer_reads_into_rows_whose_measures_are_numbers(report: ReportName) -> None:
    seen: list[httpx2.Request] = []
    sample = fixture(cast(str, REPORTS[report].data))
    async with make_client(answering(sample, seen)) as client:
        page = await client.analytics.job_data("job_1", 0)
    assert isinstance(page, JobDataPage)
    names = {"status", "date", "url", "device", "sdk", "type"}
    expected = [{k: v if k in names else as_number(v) for k, v in row.items()} for row in sample.body["data"]]
    assert page.data == expected
    assert page.docs == sample.body.get("totalDocs")
    assert dict(seen[0].url.params) == {"orgUid": "org_uid_1", "page": "0"}


# -- the tools ------------------------------------------------------------------------------


@pytest.fixture
def virtual(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    time = VirtualTime()
    monkeypatch.setattr(analytics, "POLLER", Poller(sleep=time.sleep, clock=time.clock, today=lambda: TODAY))
    return time


class Documented:
    """Contentstack as the pages show it: a report answers the start fixture (with `paginated`
    as given), and the job's data answers come from a list of fixtures, one a request; past
    the list, a page answers "No data found". Keeps every request."""

    def __init__(self, answers: list[Fixture], *, paginated: bool = False) -> None:
        self.answers = answers
        self.paginated = paginated
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if "/job/" not in request.url.path:
            started = fixture("start_report.json")
            return httpx2.Response(200, json={**started.body, "paginated": self.paginated})
        data = [r for r in self.requests if "/job/" in r.url.path]
        index = len(data) - 1
        return (self.answers[index] if index < len(self.answers) else fixture("no_data_found.json")).response()

    @property
    def pages_asked(self) -> list[str]:
        return [r.url.params["page"] for r in self.requests if "/job/" in r.url.path]


ENV = {
    "CONTENTSTACK_AUTHTOKEN": "blt_user_authtoken",
    "CONTENTSTACK_ORGANIZATION_UID": "org_uid_1",
    "CONTENTSTACK_ANALYTICS_BASE_URL": "http://contentstack",
}


def connect(contentstack: Documented) -> Client:
    """The server in memory, its client talking to `contentstack`."""
    server = build_server(
        Settings.from_env(ENV), stdio_role="viewer", transport=httpx2.MockTransport(contentstack), rate_limits=UNPACED
    )
    return Client(server)


async def run_report(contentstack: Documented, report: str) -> dict[str, Any]:
    async with connect(contentstack) as client:
        result = await client.call_tool(
            "get_analytics", {"report": report, "from_date": "2025-05-01", "to_date": "2025-05-31"}
        )
    return structured(result)


def check_top_urls(answer: dict[str, Any]) -> None:
    assert answer["totals"] == {"count": 6}
    top = answer["summary"]["top_values"]["top_urls"][0]
    assert top == {"key": "https://cdn.contentstack.io/v3/content_types?include_count=false", "value": 3}
    assert answer["summary"]["top_periods"] == []


def check_status_codes(answer: dict[str, Any]) -> None:
    summary = answer["summary"]
    assert answer["totals"] == {"count": 88}
    assert summary["top_values"]["status_codes"] == [{"key": "200", "value": 87}, {"key": "422", "value": 1}]
    assert (summary["error_rate"], summary["server_error_rate"]) == (round(1 / 88, 4), 0.0)


def check_cache(answer: dict[str, Any]) -> None:
    assert answer["totals"] == {"count": 12}
    assert answer["summary"]["cache_hit_share"] == round(1 / 12, 4)
    assert "status_codes" not in answer["summary"]["top_values"]


def check_devices(answer: dict[str, Any]) -> None:
    assert answer["totals"] == {"count": 244}
    top = answer["summary"]["top_values"]["devices"][0]
    assert top["value"] == 182  # one device string on two days: 164 + 18
    # totalDocs says 26 rows; the sample shows 3, and the next page is "No data found".
    (error,) = answer["page_errors"]
    assert "page 1" in error


def check_sdk(answer: dict[str, Any]) -> None:
    summary = answer["summary"]
    assert answer["total_rows"] == 5
    assert answer["totals"] == {"count": 16}  # the answer's own `total`
    assert summary["top_values"]["top_sdks"] == [{"key": "cda-collection/v9.31.0", "value": 16}]
    assert len(summary["top_periods"]) == 4  # the date-only row adds no period
    assert any("carry only a date" in line for line in summary["lines"])


def check_usage(answer: dict[str, Any]) -> None:
    summary = answer["summary"]
    assert answer["totals"]["total_cdn_count"] == 4
    assert answer["totals"]["total_cdn_bandwidth"] == 10110
    assert summary["metric"] == "count"
    assert summary["top_periods"][0] == {"key": "2024-02-12", "value": 4}
    assert summary["by_service"] == [{"key": "cdn", "value": 4}, {"key": "api", "value": 0}]


CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "top_urls": check_top_urls,
    "status_codes": check_status_codes,
    "cache": check_cache,
    "devices": check_devices,
    "sdk": check_sdk,
    "usage": check_usage,
}


@pytest.mark.parametrize("report", WITH_SAMPLES)
async def test_the_tool_answers_each_documented_report_from_what_its_rows_hold(
    report: ReportName, virtual: VirtualTime
) -> None:
    sample = fixture(cast(str, REPORTS[report].data))
    contentstack = Documented([sample])
    answer = await run_report(contentstack, report)
    start = contentstack.requests[0]
    assert start.url.path == f"/analytics/v2/{REPORTS[report].path}"
    assert {k: start.url.params[k] for k in REPORTS[report].params} == REPORTS[report].params
    assert answer["status"] == "complete"
    assert answer["job_ids"] == [fixture("start_report.json").body["jobId"]]
    assert answer["total_rows"] == len(sample.body["data"])
    if report != "devices":
        assert answer["page_errors"] == []
    CHECKS[report](answer)


async def test_a_paginated_job_is_read_from_page_0_until_no_data_found(virtual: VirtualTime) -> None:
    # Status Code answers carry no count: a full page is followed by a request for the next,
    # and "No data found" there is the documented end, not a failure.
    contentstack = Documented([fixture("data_status_codes.json")], paginated=True)
    answer = await run_report(contentstack, "status_codes")
    assert contentstack.pages_asked == ["0", "1"]
    assert (answer["total_rows"], answer["page_errors"]) == (4, [])


async def test_a_job_waiting_then_active_is_polled_until_its_data(virtual: VirtualTime) -> None:
    answers = [fixture("job_waiting.json"), fixture("job_active.json"), fixture("data_cache.json")]
    answer = await run_report(Documented(answers), "cache")
    assert answer["status"] == "complete"
    assert virtual.sleeps == [0.5, 1.0]
    check_cache(answer)


async def test_a_failed_job_is_a_plain_error_naming_the_job(virtual: VirtualTime) -> None:
    # A failed job is final: the client does not ask again, so no retry waits here.
    async with connect(Documented([fixture("job_failed.json")])) as client:
        result = await client.call_tool(
            "get_analytics", {"report": "usage", "from_date": "2025-05-01", "to_date": "2025-05-31"}
        )
    assert result.is_error
    assert fixture("start_report.json").body["jobId"] in text_of(result)


@pytest.mark.parametrize("name", ["job_not_found.json", "no_data_found.json"])
async def test_reading_an_unknown_job_or_page_directly_is_a_plain_error(name: str, virtual: VirtualTime) -> None:
    async with connect(Documented([fixture(name)])) as client:
        result = await client.call_tool("get_analytics_job", {"job_id": "job_1", "page": 2})
    assert result.is_error
    assert "job_1" in text_of(result)


# -- the sandbox speaks the same shapes ------------------------------------------------------


def shape(value: Any) -> str:
    """A JSON value's type as the contract compares it: whole and decimal numbers alike."""
    name = type(value).__name__
    return "number" if name in ("int", "float") else name


def row_shape(row: dict[str, Any]) -> frozenset[tuple[str, str]]:
    return frozenset((k, shape(v)) for k, v in row.items())


def assert_same_shape(documented: dict[str, Any], sandbox: dict[str, Any]) -> None:
    """Every field the documented answer shows is in the sandbox's with the same type; every
    sandbox row has the shape of a documented row; `meta` likewise."""
    for key, value in documented.items():
        if key in ("data", "meta"):
            continue
        assert key in sandbox, key
        assert shape(sandbox[key]) == shape(value), key
    for key, value in documented.get("meta", {}).items():
        assert shape(sandbox["meta"].get(key)) == shape(value), f"meta.{key}"
    if "data" in documented:
        shapes = {row_shape(row) for row in documented["data"]}
        assert sandbox["data"]
        assert {row_shape(row) for row in sandbox["data"]} <= shapes


def sandbox_state(active_polls: int = 1) -> SandboxState:
    config = SandboxConfig(analytics_active_polls=active_polls)
    state = SandboxState(config=config, db=Database(":memory:"), clock=SandboxClock(NOW))
    sandbox_analytics.setup(state)
    return state


@pytest.fixture
async def sandbox() -> AsyncGenerator[httpx2.AsyncClient]:
    app = Starlette(routes=[Mount("/analytics/v2", routes=sandbox_analytics.routes(sandbox_state(active_polls=2)))])
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app),
        base_url="http://sandbox/analytics/v2",
        headers={"authtoken": DEMO_CREDENTIALS.authtoken},
    ) as http:
        yield http


def window(days: int) -> dict[str, str]:
    return {
        "orgUid": DEMO_CREDENTIALS.organization_uid,
        "from": (TODAY - timedelta(days=days - 1)).isoformat(),
        "to": TODAY.isoformat(),
    }


async def sandbox_answers(http: httpx2.AsyncClient, report: ReportName, days: int = 3) -> list[httpx2.Response]:
    """The sandbox's answers to a report started with its documented parameters: the start, then
    each data read until the data came."""
    answers = [await http.get(f"/{REPORTS[report].path}", params={**window(days), **REPORTS[report].params})]
    job_id = answers[0].json()["jobId"]
    for _ in range(5):
        answers.append(await http.get(f"/job/{job_id}/data", params={"orgUid": DEMO_CREDENTIALS.organization_uid}))
        if "data" in answers[-1].json():
            return answers
    raise AssertionError("the sandbox's job stayed busy")


@pytest.mark.parametrize("report", WITH_SAMPLES)
async def test_the_sandbox_answers_each_report_in_its_documented_shape(
    report: ReportName, sandbox: httpx2.AsyncClient
) -> None:
    started, waiting, active, done = await sandbox_answers(sandbox, report)
    assert started.status_code == fixture("start_report.json").status
    assert_same_shape(fixture("start_report.json").body, started.json())
    for answer, documented in ((waiting, fixture("job_waiting.json")), (active, fixture("job_active.json"))):
        assert answer.status_code == documented.status
        assert answer.json() == documented.body
    sample = fixture(cast(str, REPORTS[report].data))
    assert done.status_code == sample.status
    assert_same_shape(sample.body, done.json())


async def test_the_sandbox_answers_sdk_periods_without_traffic_as_date_only_rows_like_the_sample(
    sandbox: httpx2.AsyncClient,
) -> None:
    params = {**window(3), **REPORTS["sdk"].params, "services": '["ui"]'}
    job_id = (await sandbox.get("/sdk", params=params)).json()["jobId"]
    answers = [await sandbox.get(f"/job/{job_id}/data", params={"orgUid": params["orgUid"]}) for _ in range(3)]
    rows: list[dict[str, Any]] = answers[-1].json()["data"]  # after "Job waiting" and "Job active"
    assert {row_shape(row) for row in rows} == {row_shape({"date": "2024-02-28"})}


def words(response: httpx2.Response) -> str:
    body = response.json()
    return str(body.get("error_message") or body.get("message"))


async def test_the_sandbox_refuses_and_fails_with_the_documented_status_and_words(
    sandbox: httpx2.AsyncClient,
) -> None:
    org = {"orgUid": DEMO_CREDENTIALS.organization_uid}
    unknown = await sandbox.get("/job/job_no_such_job/data", params=org)
    too_long = {**window(120), **REPORTS["usage"].params}
    failing = (await sandbox.get("/usage", params=too_long)).json()["jobId"]
    for _ in range(2):
        await sandbox.get(f"/job/{failing}/data", params=org)  # waiting, then active
    failed = await sandbox.get(f"/job/{failing}/data", params=org)
    short = (await sandbox.get("/usage", params={**window(3), **REPORTS["usage"].params})).json()["jobId"]
    for _ in range(3):
        await sandbox.get(f"/job/{short}/data", params=org)
    past = await sandbox.get(f"/job/{short}/data", params={**org, "page": "1"})
    for answer, documented in (
        (unknown, fixture("job_not_found.json")),
        (failed, fixture("job_failed.json")),
        (past, fixture("no_data_found.json")),
    ):
        assert answer.status_code == documented.status, documented.name
        assert words(answer) == documented.body["message"], documented.name
