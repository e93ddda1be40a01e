"""The analytics tools in memory, against the sandbox's Analytics v2 through the real client:
every report, long ranges split and merged, jobs that keep running, progress, failures, pages.

Polling waits on a virtual clock (the module's POLLER is replaced), so no test waits for real.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio.lowlevel
import httpx2
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.routing import Mount

import cs_mcp.client._client as client_core
from cs_mcp.client import RetryPolicy
from cs_mcp.config import Settings
from cs_mcp.sandbox import analytics as sandbox_analytics
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.runner import running_sandbox
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState
from cs_mcp.server import build_server
from cs_mcp.tools import analytics
from cs_mcp.tools.analytics import Poller, merge_rows, split_windows, summarize
from tests.helpers import UNPACED, text_of

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
ENV = {
    "CONTENTSTACK_AUTHTOKEN": DEMO_CREDENTIALS.authtoken,
    "CONTENTSTACK_ORGANIZATION_UID": DEMO_CREDENTIALS.organization_uid,
    "CONTENTSTACK_ANALYTICS_BASE_URL": "http://sandbox",
}


@dataclass
class VirtualTime:
    """A clock that moves only when the poller sleeps."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=lambda: [])

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()

    def clock(self) -> float:
        return self.now


@dataclass
class ProgressLog:
    events: list[tuple[float, float | None, str | None]] = field(default_factory=lambda: [])

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.events.append((progress, total, message))


@pytest.fixture
def virtual(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    time = VirtualTime()
    monkeypatch.setattr(analytics, "POLLER", Poller(sleep=time.sleep, clock=time.clock, today=lambda: TODAY))
    return time


@pytest.fixture
def virtual_short(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    time = VirtualTime()
    poller = Poller(sleep=time.sleep, clock=time.clock, today=lambda: TODAY, time_limit=10.0)
    monkeypatch.setattr(analytics, "POLLER", poller)
    return time


def make_state(active_polls: int = 1) -> SandboxState:
    config = SandboxConfig(analytics_active_polls=active_polls)
    state = SandboxState(config=config, db=Database(":memory:"), clock=SandboxClock(NOW))
    sandbox_analytics.setup(state)
    return state


def sandbox_app(state: SandboxState) -> Starlette:
    return Starlette(routes=[Mount("/analytics/v2", routes=sandbox_analytics.routes(state))])


def connect(state: SandboxState, transport: httpx2.AsyncBaseTransport | None = None) -> Client:
    server = build_server(
        Settings.from_env(ENV),
        stdio_role="viewer",
        transport=transport or httpx2.ASGITransport(app=sandbox_app(state)),
        rate_limits=UNPACED,
    )
    return Client(server)


@pytest.fixture
def state() -> SandboxState:
    return make_state()


@pytest.fixture
async def client(state: SandboxState, virtual: VirtualTime) -> AsyncGenerator[Client]:
    async with connect(state) as connected:
        yield connected


def days_back(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


async def last_days(client: Client, report: str, days: int, **arguments: Any) -> dict[str, Any]:
    """`get_analytics` of `report` from `days` days back to today, with `arguments` besides."""
    return await call(
        client, "get_analytics", report=report, from_date=days_back(days), to_date=days_back(0), **arguments
    )


async def call(client: Client, name: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


def by_period(row: dict[str, Any]) -> str:
    return row["date"]


def requests(row: dict[str, Any]) -> int:
    """A usage row's requests: its per-service counts added up."""
    return row["total_api_count"] + row["total_cdn_count"]


def expected_rows(state: SandboxState, path: str, **params: str) -> list[dict[str, Any]]:
    """The report over the whole range as the sandbox computes it in one piece."""
    query = sandbox_analytics.ReportQuery(sandbox_analytics.REPORTS[path], params)
    with state.db.read() as conn:
        return query.rows(conn)


# -- each report ----------------------------------------------------------------------------

CHECKS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "usage": lambda s: s["metric"] == "count" and {t["key"] for t in s["by_service"]} == {"api", "cdn"},
    "devices": lambda s: [t["key"] for t in s["top_values"]["devices"]][:1] == ["desktop"],
    "status_codes": lambda s: 0 < s["error_rate"] < 0.1 and 0 < s["server_error_rate"] < s["error_rate"],
    "cache": lambda s: 0.8 < s["cache_hit_share"] < 0.97,
    "sdk": lambda s: len(s["top_values"]["top_sdks"]) == 5,
    "top_urls": lambda s: len(s["top_values"]["top_urls"]) == 5,
    "subscription": lambda s: [t["key"] for t in s["by_service"]] == ["launch"],
}


@pytest.mark.parametrize("report", sorted(CHECKS))
async def test_each_report_answers_rows_totals_a_summary_and_its_job(client: Client, report: str) -> None:
    answer = await last_days(client, report, 13)
    assert answer["status"] == "complete"
    assert len(answer["job_ids"]) == 1
    assert answer["rows"]
    assert answer["returned"] == len(answer["rows"]) <= 200
    assert answer["page_errors"] == []
    summary = answer["summary"]
    assert summary["metric"] == "count"
    assert all(value > 0 for value in answer["totals"].values())
    # Top URLs are counted over the whole range: their rows carry no date.
    assert len(summary["top_periods"]) == (0 if report == "top_urls" else 5)
    assert summary["lines"]
    assert CHECKS[report](summary)


@pytest.mark.parametrize("report", sorted(CHECKS))
async def test_without_services_or_duration_a_report_covers_the_documented_defaults(
    client: Client, report: str
) -> None:
    answer = await last_days(client, report, 2)
    assert answer["services"] == (None if report == "subscription" else ["cdn", "cma"])
    assert answer["duration"] == "day"


async def test_totals_and_summary_cover_every_row_even_when_fewer_are_returned(
    client: Client, state: SandboxState
) -> None:
    answer = await last_days(client, "usage", 29, max_rows=10)
    every = expected_rows(state, "usage", **{"from": days_back(29), "to": days_back(0), "services": '["cdn","cma"]'})
    assert answer["returned"] == 10
    assert answer["truncated"] is True
    assert answer["total_rows"] == len(every) == 30
    assert answer["totals"]["total_cdn_count"] == sum(r["total_cdn_count"] for r in every)
    busiest = max(every, key=requests)
    assert answer["summary"]["top_periods"][0] == {"key": busiest["date"], "value": requests(busiest)}
    lines = " ".join(answer["summary"]["lines"])
    assert f"{sum(requests(r) for r in every):,}" in lines


# -- long ranges ----------------------------------------------------------------------------


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Routes to the sandbox and keeps the path of every request, in order."""

    def __init__(self, app: Starlette) -> None:
        self._inner = httpx2.ASGITransport(app=app)
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.paths.append(request.url.path)
        return await self._inner.handle_async_request(request)


async def test_the_jobs_of_all_windows_start_before_any_is_read(virtual: VirtualTime) -> None:
    state = make_state()
    recording = RecordingTransport(sandbox_app(state))
    async with connect(state, recording) as client:
        answer = await last_days(client, "usage", 199, services=["cdn"])
    assert len(answer["job_ids"]) == 3
    assert recording.paths[:3] == ["/analytics/v2/usage"] * 3


async def test_a_200_day_range_runs_three_windows_merged_without_counting_edges_twice(
    client: Client, state: SandboxState
) -> None:
    start, end = days_back(199), days_back(0)
    answer = await call(
        client,
        "get_analytics",
        report="usage",
        from_date=start,
        to_date=end,
        duration="week",
        services=["cdn", "cma"],
        max_rows=1000,
    )
    windows = answer["windows"]
    assert [(w["from_date"], w["to_date"]) for w in windows] == [
        (days_back(199), days_back(110)),
        (days_back(109), days_back(20)),
        (days_back(19), days_back(0)),
    ]
    assert len(set(answer["job_ids"])) == 3
    whole = expected_rows(state, "usage", **{"from": start, "to": end, "duration": "week", "services": '["cdn","cma"]'})
    assert sorted(answer["rows"], key=by_period) == sorted(whole, key=by_period)
    assert answer["totals"]["total_cdn_count"] == sum(r["total_cdn_count"] for r in whole)
    # The windows' edges fall inside weeks: those weeks came back in two parts and were added.
    assert sum(w["rows"] for w in windows) > answer["total_rows"]


async def test_daily_rows_of_adjacent_windows_do_not_overlap(client: Client, state: SandboxState) -> None:
    answer = await last_days(client, "status_codes", 120, services=["cdn"], max_rows=1000)
    whole = expected_rows(
        state, "http-statuses", **{"from": days_back(120), "to": days_back(0), "services": '["cdn"]', "duration": "day"}
    )
    assert sum(w["rows"] for w in answer["windows"]) == answer["total_rows"] == len(whole)
    assert answer["totals"]["count"] == sum(r["count"] for r in whole)


# -- waiting --------------------------------------------------------------------------------


async def test_a_job_active_for_several_polls_is_polled_with_growing_waits_and_progress(
    virtual: VirtualTime,
) -> None:
    progress = ProgressLog()
    async with connect(make_state(active_polls=4)) as client:
        result = await client.call_tool(
            "get_analytics",
            {"report": "cache", "from_date": days_back(6), "to_date": days_back(0)},
            progress_callback=progress,
        )
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["status"] == "complete"
    assert virtual.sleeps == [0.5, 1.0, 2.0, 4.0]
    values = [p for p, _total, _message in progress.events]
    assert len(values) >= 4 + 2
    assert values == sorted(values)
    assert len(set(values)) == len(values)
    assert {total for _p, total, _m in progress.events} == {1}
    assert values[-1] == 1


async def test_the_waits_between_polls_stop_growing_at_the_cap(virtual: VirtualTime) -> None:
    async with connect(make_state(active_polls=7)) as client:
        await last_days(client, "usage", 2)
    assert virtual.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


async def test_progress_covers_every_window_of_a_long_range(virtual: VirtualTime) -> None:
    progress = ProgressLog()
    async with connect(make_state(active_polls=2)) as client:
        result = await client.call_tool(
            "get_analytics",
            {"report": "usage", "from_date": days_back(199), "to_date": days_back(0), "services": ["cdn"]},
            progress_callback=progress,
        )
    assert not result.is_error, text_of(result)
    values = [p for p, _total, _message in progress.events]
    assert values == sorted(values)
    assert {total for _p, total, _m in progress.events} == {3}
    assert values[-1] == 3


async def test_a_job_still_running_at_the_time_limit_is_named_so_it_can_be_resumed(
    virtual_short: VirtualTime,
) -> None:
    # Polls at 0, 0.5, 1.5, 3.5 and 7.5 s; the next wait (8 s) would pass the 10 s limit.
    state = make_state(active_polls=6)
    async with connect(state) as client:
        answer = await last_days(client, "usage", 6)
        assert answer["status"] == "timed_out"
        assert virtual_short.now <= analytics.POLLER.time_limit
        (job_id,) = answer["job_ids"]
        assert answer["windows"][0]["status"] == "active"
        assert answer["rows"] == []
        assert job_id in (answer["note"] or "")
        # The job keeps running; reading it later gets the rows.
        still = await call(client, "get_analytics_job", job_id=job_id)
        assert still["status"] == "active"
        done = await call(client, "get_analytics_job", job_id=job_id)
    assert done["status"] == "complete"
    assert done["total_rows"] == 7
    assert done["summary"]["top_periods"]


async def test_the_time_limit_is_the_pollers(virtual_short: VirtualTime) -> None:
    async with connect(make_state(active_polls=50)) as client:
        answer = await last_days(client, "usage", 6)
    assert answer["status"] == "timed_out"
    assert virtual_short.sleeps == [0.5, 1.0, 2.0, 4.0]


# -- failures -------------------------------------------------------------------------------


@pytest.fixture
def no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client retries a 500 with backoff; without delays, so the test does not wait for it."""
    monkeypatch.setattr(client_core, "RetryPolicy", lambda: RetryPolicy(base_delay=0.0))


class StretchingTransport(httpx2.AsyncBaseTransport):
    """Routes to the sandbox, but asks every report for 120 days more than the tool did, so that
    Contentstack's 90-day limit fails the job as it would for a caller that ignored it."""

    def __init__(self, app: Starlette) -> None:
        self._inner = httpx2.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if "/job/" not in request.url.path and "from" in request.url.params:
            earlier = date.fromisoformat(request.url.params["from"]) - timedelta(days=120)
            request = httpx2.Request(
                request.method, request.url.copy_set_param("from", earlier.isoformat()), headers=request.headers
            )
        return await self._inner.handle_async_request(request)


async def test_a_failed_job_is_reported_in_plain_words_naming_the_job(
    virtual: VirtualTime, no_retry_waits: None
) -> None:
    state = make_state()
    async with connect(state, StretchingTransport(sandbox_app(state))) as client:
        result = await client.call_tool(
            "get_analytics", {"report": "usage", "from_date": days_back(6), "to_date": days_back(0)}
        )
    assert result.is_error
    text = text_of(result)
    with state.db.read() as conn:
        (job_id,) = [r[0] for r in conn.execute("SELECT job_id FROM analytics_jobs")]
    assert job_id in text
    assert "Traceback" not in text


async def test_reading_a_failed_job_directly_is_an_error_naming_the_job(
    no_retry_waits: None, client: Client, state: SandboxState
) -> None:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=sandbox_app(state)),
        base_url="http://sandbox/analytics/v2",
        headers={"authtoken": DEMO_CREDENTIALS.authtoken},
    ) as http:
        started = await http.get(
            "/usage", params={"orgUid": DEMO_CREDENTIALS.organization_uid, "from": days_back(120), "to": days_back(0)}
        )
    job_id = started.json()["jobId"]
    await call(client, "get_analytics_job", job_id=job_id)  # the first read answers "Job active"
    result = await client.call_tool("get_analytics_job", {"job_id": job_id})
    assert result.is_error
    assert job_id in text_of(result)


# -- pages ----------------------------------------------------------------------------------


async def test_get_analytics_job_reads_one_page_or_every_page(client: Client) -> None:
    # Ten days of two services on four devices: 80 rows, pages of 50 and 30.
    answer = await last_days(client, "devices", 9)
    (job_id,) = answer["job_ids"]
    every = await call(client, "get_analytics_job", job_id=job_id)
    assert every["status"] == "complete"
    assert every["total_rows"] == answer["total_rows"] == 80
    assert every["totals"] == answer["totals"]
    second = await call(client, "get_analytics_job", job_id=job_id, page=1)
    assert (second["page"], second["total_pages"], second["next_page"]) == (1, 2, None)
    assert second["returned"] == 30
    assert second["summary"] is None
    first = await call(client, "get_analytics_job", job_id=job_id, page=0)
    assert first["next_page"] == 1


class FakeAnalytics:
    """Contentstack's Analytics v2 as a MockTransport: one job whose pages are given, and the
    page numbers it was asked for. A page given as an int answers that HTTP error."""

    def __init__(self, pages: list[dict[str, Any] | int], *, paginated: bool = True) -> None:
        self.pages = pages
        self.paginated = paginated
        self.asked: list[int] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if "/job/" not in request.url.path:
            return httpx2.Response(200, json={"jobId": "job_1", "paginated": self.paginated})
        number = int(request.url.params["page"])
        self.asked.append(number)
        page = self.pages[number] if number < len(self.pages) else 404
        if isinstance(page, int):
            return httpx2.Response(page, json={"message": "No data found" if page == 404 else "Internal error"})
        return httpx2.Response(200, json=page)


def device_rows(first: int, n: int) -> list[dict[str, Any]]:
    return [
        {"count": i + 1, "type": "cdn", "device": f"device {i}", "date": "2025-05-30"} for i in range(first, first + n)
    ]


async def report_from(fake: FakeAnalytics, report: str = "devices") -> dict[str, Any]:
    async with connect(make_state(), httpx2.MockTransport(fake)) as client:
        return await last_days(client, report, 2)


async def test_pages_are_read_from_0_until_total_docs_rows_have_arrived(
    virtual: VirtualTime, no_retry_waits: None
) -> None:
    fake = FakeAnalytics([{"totalDocs": 5, "data": device_rows(0, 3)}, {"totalDocs": 5, "data": device_rows(3, 2)}])
    answer = await report_from(fake)
    assert fake.asked == [0, 1]
    assert answer["total_rows"] == 5
    assert answer["page_errors"] == []


async def test_a_short_page_is_the_last_and_the_page_after_it_is_not_asked_for(
    virtual: VirtualTime, no_retry_waits: None
) -> None:
    # Without a count, a page past the last "will result in an error" of undocumented status.
    fake = FakeAnalytics([{"data": device_rows(0, 4)}, {"data": device_rows(4, 1)}, 500])
    answer = await report_from(fake, "cache")
    assert fake.asked == [0, 1]
    assert answer["status"] == "complete"
    assert answer["total_rows"] == 5
    assert answer["page_errors"] == []


async def test_after_a_full_page_of_unknown_count_no_data_found_is_the_end(
    virtual: VirtualTime, no_retry_waits: None
) -> None:
    fake = FakeAnalytics([{"data": device_rows(0, 4)}, {"data": device_rows(4, 4)}])
    answer = await report_from(fake, "cache")
    assert fake.asked == [0, 1, 2]
    assert (answer["total_rows"], answer["page_errors"]) == (8, [])


async def test_an_error_on_a_later_page_ends_the_report_and_the_answer_says_so(
    virtual: VirtualTime, no_retry_waits: None
) -> None:
    fake = FakeAnalytics(
        [{"totalDocs": 9, "data": device_rows(0, 3)}, {"totalDocs": 9, "data": device_rows(3, 3)}, 500]
    )
    answer = await report_from(fake)
    assert answer["status"] == "complete"
    assert answer["total_rows"] == 6
    (error,) = answer["page_errors"]
    assert "page 2" in error
    assert "job_1" in error
    assert "page_errors" in (answer["note"] or "")
    assert answer["summary"]["lines"]


async def test_a_page_that_repeats_rows_already_read_ends_the_reading(
    virtual: VirtualTime, no_retry_waits: None
) -> None:
    # A server that ignores `page` answers page 0 forever: the second answer adds nothing new.
    same = {"data": device_rows(0, 4)}
    fake = FakeAnalytics([same, same, same, same])
    answer = await report_from(fake, "cache")
    assert fake.asked == [0, 1]
    assert answer["total_rows"] == 4


async def test_get_analytics_job_reports_a_page_it_could_not_read(virtual: VirtualTime, no_retry_waits: None) -> None:
    fake = FakeAnalytics([{"totalDocs": 9, "data": device_rows(0, 3)}, 500])
    async with connect(make_state(), httpx2.MockTransport(fake)) as client:
        answer = await call(client, "get_analytics_job", job_id="job_1")
    assert answer["total_rows"] == 3
    assert len(answer["page_errors"]) == 1


async def test_a_page_beyond_the_last_is_an_error(client: Client) -> None:
    answer = await last_days(client, "devices", 9)
    (job_id,) = answer["job_ids"]
    result = await client.call_tool("get_analytics_job", {"job_id": job_id, "page": 2})
    assert result.is_error


async def test_an_unknown_job_is_an_error(client: Client) -> None:
    result = await client.call_tool("get_analytics_job", {"job_id": "job_no_such_job"})
    assert result.is_error


# -- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        {"report": "usage", "from_date": "01/05/2025", "to_date": days_back(0)},
        {"report": "usage", "from_date": days_back(1), "to_date": "yesterday"},
        {"report": "usage", "from_date": days_back(0), "to_date": days_back(5)},
        {"report": "usage", "from_date": days_back(5), "to_date": (TODAY + timedelta(days=1)).isoformat()},
        {"report": "usage", "from_date": "2020-01-01", "to_date": days_back(0)},
        {"report": "usage", "from_date": days_back(5), "to_date": days_back(0), "services": ["cdn", "fax"]},
        {"report": "usage", "from_date": days_back(5), "to_date": days_back(0), "duration": "hour"},
        {"report": "visitors", "from_date": days_back(5), "to_date": days_back(0)},
        {"report": "devices", "from_date": days_back(5), "to_date": days_back(0), "stack_api_key": "blt_stack"},
        {"report": "usage", "from_date": days_back(5), "to_date": days_back(0), "cache": "HIT"},
        {"report": "cache", "from_date": days_back(5), "to_date": days_back(0), "http_status_code": 500},
        {"report": "subscription", "from_date": days_back(5), "to_date": days_back(0), "services": ["cdn"]},
    ],
)
async def test_invalid_arguments_are_refused_before_any_job_starts(
    client: Client, state: SandboxState, arguments: dict[str, Any]
) -> None:
    result = await client.call_tool("get_analytics", arguments)
    assert result.is_error
    with state.db.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM analytics_jobs").fetchone()[0] == 0


async def test_filters_reach_the_report(client: Client) -> None:
    answer = await last_days(
        client, "status_codes", 6, services=["CDN"], stack_api_key=DEMO_CREDENTIALS.api_key, http_status_code=404
    )
    assert {(r["type"], r["status"]) for r in answer["rows"]} == {("cdn", "404")}
    assert answer["services"] == ["cdn"]
    assert answer["summary"]["error_rate"] is None  # one status alone has no error rate


async def test_the_analytics_tools_are_listed_only_with_an_authtoken_and_an_organization(
    state: SandboxState,
) -> None:
    async with connect(state) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert {"get_analytics", "get_analytics_job"} <= names
    without_org = {k: v for k, v in ENV.items() if k != "CONTENTSTACK_ORGANIZATION_UID"}
    server = build_server(Settings.from_env(without_org), stdio_role="viewer")
    async with Client(server) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert not {"get_analytics", "get_analytics_job"} & names


# The row fields each report's reference page shows in its Retrieve Data sample.
DOCUMENTED_ROWS: dict[str, set[str]] = {
    "usage": {"total_api_bandwidth", "total_api_count", "total_cdn_bandwidth", "total_cdn_count", "date"},
    "devices": {"count", "type", "device", "date"},
    "status_codes": {"count", "type", "status", "date"},
    "cache": {"count", "type", "status", "date"},
    "sdk": {"count", "type", "sdk", "date"},
    "top_urls": {"url", "type", "count"},
    "subscription": {"date", "type", "count", "bandwidth", "buildMinutes"},  # no sample on its page
}


async def test_all_seven_reports_run_over_loopback_against_the_running_sandbox(virtual: VirtualTime) -> None:
    # The sandbox refuses a report without the parameters its page marks required, so every
    # report completing here means the client sent them.
    async with running_sandbox(SandboxConfig(analytics_active_polls=2), SandboxClock(NOW)) as running:
        server = build_server(Settings.from_env(running.env()), stdio_role="viewer")
        async with Client(server) as client:
            answers = {report: await last_days(client, report, 6) for report in sorted(DOCUMENTED_ROWS)}
    for report, answer in answers.items():
        assert answer["status"] == "complete", report
        assert answer["page_errors"] == [], report
        assert answer["rows"], report
        assert all(set(row) <= DOCUMENTED_ROWS[report] for row in answer["rows"]), report
        assert all(isinstance(row.get("count", 0), int) for row in answer["rows"]), report
    assert answers["cache"]["total_rows"] == 7 * 2  # HIT and MISS a day, cdn only: cma has no cache
    assert 0 < answers["status_codes"]["summary"]["error_rate"] < 0.1
    assert virtual.sleeps == [0.5, 1.0] * 7


# -- the pieces -----------------------------------------------------------------------------


def test_windows_are_consecutive_at_most_90_days_and_cover_the_range() -> None:
    start, end = date(2025, 1, 1), date(2025, 7, 19)  # 200 days
    windows = split_windows(start, end)
    assert [((b - a).days + 1) for a, b in windows] == [90, 90, 20]
    assert windows[0][0] == start
    assert windows[-1][1] == end
    assert all(b + timedelta(days=1) == c for (_a, b), (c, _d) in itertools.pairwise(windows))
    assert split_windows(end, end) == [(end, end)]


def test_merging_adds_the_parts_of_a_period_split_across_windows_and_keeps_the_rest() -> None:
    first = [
        {"date": "2025-03-31", "type": "cdn", "count": 5, "bandwidth": 50},
        {"date": "2025-03-31", "type": "cma", "count": 1, "bandwidth": 10},
    ]
    second = [
        {"date": "2025-03-31", "type": "cdn", "count": 2, "bandwidth": 20},
        {"date": "2025-04-07", "type": "cdn", "count": 9, "bandwidth": 90},
    ]
    assert merge_rows([first, second]) == [
        {"date": "2025-03-31", "type": "cdn", "count": 7, "bandwidth": 70},
        {"date": "2025-03-31", "type": "cma", "count": 1, "bandwidth": 10},
        {"date": "2025-04-07", "type": "cdn", "count": 9, "bandwidth": 90},
    ]


def test_top_urls_of_several_windows_are_added_up_and_ranked_busiest_first() -> None:
    first = [{"url": "/a", "type": "cdn", "count": 5}, {"url": "/b", "type": "cdn", "count": 4}]
    second = [{"url": "/b", "type": "cdn", "count": 3}, {"url": "/c", "type": "cdn", "count": 6}]
    assert merge_rows([first, second]) == [
        {"url": "/b", "type": "cdn", "count": 7},
        {"url": "/c", "type": "cdn", "count": 6},
        {"url": "/a", "type": "cdn", "count": 5},
    ]


def test_status_codes_under_status_are_dimensions_not_measures() -> None:
    rows = [
        {"count": 90, "type": "cdn", "status": "200", "date": "2025-03-01"},
        {"count": 8, "type": "cdn", "status": "404", "date": "2025-03-01"},
        {"count": 2, "type": "cdn", "status": "500", "date": "2025-03-01"},
    ]
    assert merge_rows([rows[:2], rows[2:]]) == rows
    totals, summary = summarize(rows)
    assert totals == {"count": 100}
    assert (summary.error_rate, summary.server_error_rate) == (0.1, 0.02)
    assert [t.key for t in summary.top_values["status_codes"]] == ["200", "404", "500"]


def test_cache_results_under_status_give_the_hit_share_and_rank_no_status_codes() -> None:
    rows = [
        {"count": 7, "type": "cdn", "status": "MISS", "date": "2024-02-09"},
        {"count": 21, "type": "cdn", "status": "HIT", "date": "2024-02-09"},
    ]
    _totals, summary = summarize(rows)
    assert summary.cache_hit_share == 0.75
    assert "status_codes" not in summary.top_values
    assert summary.error_rate is None


def test_usage_rows_are_summarised_from_their_per_service_measures() -> None:
    rows = [
        {
            "total_api_bandwidth": 0,
            "total_api_count": 0,
            "total_cdn_bandwidth": 0,
            "total_cdn_count": 0,
            "date": "2024-03-02",
        },
        {
            "total_api_bandwidth": 500,
            "total_api_count": 2,
            "total_cdn_bandwidth": 10110,
            "total_cdn_count": 4,
            "date": "2024-02-12",
        },
    ]
    totals, summary = summarize(rows)
    assert totals["total_cdn_count"] == 4
    assert summary.metric == "count"
    assert summary.top_periods[0].model_dump() == {"key": "2024-02-12", "value": 6}
    assert [(t.key, t.value) for t in summary.by_service] == [("cdn", 4), ("api", 2)]
    assert "Total bandwidth: 0.00 GB." in summary.lines


def test_rows_with_only_a_date_add_nothing_and_are_named_in_the_summary() -> None:
    rows = [
        {"count": 7, "type": "cdn", "sdk": "cda-collection/v9.31.0", "date": "2024-02-09"},
        {"count": 4, "type": "cdn", "sdk": "cda-collection/v9.31.0", "date": "2024-02-12"},
        {"date": "2024-02-28"},
    ]
    totals, summary = summarize(rows)
    assert totals == {"count": 11}
    assert [t.key for t in summary.top_periods] == ["2024-02-09", "2024-02-12"]
    assert summary.top_values["top_sdks"][0].model_dump() == {"key": "cda-collection/v9.31.0", "value": 11}
    assert summary.lines[0].startswith("2 rows;")
    assert any("1 more rows carry only a date" in line for line in summary.lines)


def test_a_summary_of_no_rows_says_so() -> None:
    totals, summary = summarize([])
    assert totals == {}
    assert summary.top_periods == []
    assert summary.lines
