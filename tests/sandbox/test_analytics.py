"""The sandbox's Analytics v2 over HTTP: auth, every report, jobs that run then answer, pages,
the parameters each report's reference page marks required, and the 90-day limit that fails a
job. `tests/documented/` compares the answers' shapes with the reference pages' samples."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx2
import pytest

from cs_mcp.sandbox import analytics
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.state import SandboxConfig, SandboxState
from tests.sandbox._service import service_client, service_fixtures, service_state

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
ORG = DEMO_CREDENTIALS.organization_uid
MOUNT = "/analytics/v2"
HEADERS = {"authtoken": DEMO_CREDENTIALS.authtoken}
# What each report's reference page marks required beyond orgUid, from and to.
REQUIRED: dict[str, dict[str, str]] = {
    "url": {"includeTotalCount": "true"},
    "http-statuses": {"services": '["cdn","cma"]', "duration": "day"},
    "hit-miss-ratio": {"services": '["cdn","cma"]', "duration": "day"},
    "sdk": {"includeCount": "true", "services": '["cdn","cma"]', "duration": "day"},
}


def make_state(seed: int = 7, active_polls: int = 1) -> SandboxState:
    return service_state(analytics.setup, SandboxConfig(seed=seed, analytics_active_polls=active_polls), NOW)


state, http = service_fixtures(make_state, MOUNT, analytics.routes, HEADERS)


def days_back(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


async def start(http: httpx2.AsyncClient, path: str, **params: Any) -> str:
    answer = await http.get(f"/{path}", params={"orgUid": ORG, **REQUIRED.get(path, {}), **params})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert isinstance(body["paginated"], bool)
    return body["jobId"]


async def data(http: httpx2.AsyncClient, job_id: str, page: int | str = 0) -> httpx2.Response:
    return await http.get(f"/job/{job_id}/data", params={"orgUid": ORG, "page": page})


async def finished(http: httpx2.AsyncClient, job_id: str, page: int = 0) -> dict[str, Any]:
    """The job's page once it is no longer active (the default config answers active once)."""
    for _ in range(5):
        answer = await data(http, job_id, page)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if "data" in body:
            return body
    raise AssertionError("the job stayed active")


async def all_rows(http: httpx2.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    job_id = await start(http, path, **params)
    page = await finished(http, job_id)
    rows = list(page["data"])
    number = 0
    while len(page["data"]) == analytics.PAGE_SIZE:  # a short page is the last
        number += 1
        answer = await data(http, job_id, number)
        if answer.status_code == 404:
            break
        page = answer.json()
        rows.extend(page["data"])
    return rows


# -- auth -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "params", "status", "code"),
    [
        ({}, {"orgUid": ORG}, 401, 105),
        ({"authtoken": "blt_wrong_token"}, {"orgUid": ORG}, 401, 105),
        ({"authorization": "Bearer blt_wrong_token"}, {"orgUid": ORG}, 401, 105),
        (HEADERS, {}, 401, 105),
        (HEADERS, {"orgUid": "blt_another_org"}, 403, 316),
    ],
)
async def test_a_report_without_the_right_token_or_organization_is_refused(
    state: SandboxState, headers: dict[str, str], params: dict[str, str], status: int, code: int
) -> None:
    async with service_client(state, MOUNT, analytics.routes, headers) as client:
        answer = await client.get("/usage", params={**params, "from": days_back(7), "to": days_back(0)})
    assert answer.status_code == status
    assert answer.json()["error_code"] == code


async def test_the_authtoken_is_accepted_as_a_bearer_token(state: SandboxState) -> None:
    bearer = {"authorization": f"Bearer {DEMO_CREDENTIALS.authtoken}"}
    async with service_client(state, MOUNT, analytics.routes, bearer) as client:
        job_id = await start(client, "usage", **{"from": days_back(7), "to": days_back(0)})
        assert (await data(client, job_id)).status_code == 200


async def test_job_data_needs_the_token_too(http: httpx2.AsyncClient) -> None:
    job_id = await start(http, "usage", **{"from": days_back(7), "to": days_back(0)})
    answer = await http.get(f"/job/{job_id}/data", params={"orgUid": ORG}, headers={"authtoken": "blt_wrong_token"})
    assert answer.status_code == 401


# -- reports --------------------------------------------------------------------------------

SHAPES = {
    "usage": {"date", "total_api_bandwidth", "total_api_count", "total_cdn_bandwidth", "total_cdn_count"},
    "devices": {"date", "type", "device", "count"},
    "url": {"type", "url", "count"},
    "http-statuses": {"date", "type", "status", "count"},
    "hit-miss-ratio": {"date", "type", "status", "count"},
    "sdk": {"date", "type", "sdk", "count"},
    "subscription": {"date", "type", "count", "bandwidth", "buildMinutes"},
}


@pytest.mark.parametrize("path", sorted(SHAPES))
async def test_each_report_answers_a_job_whose_data_has_rows_of_its_shape(http: httpx2.AsyncClient, path: str) -> None:
    rows = await all_rows(http, path, **{"from": days_back(6), "to": days_back(0)})
    assert rows
    assert all(set(row) == SHAPES[path] for row in rows)
    if path != "url":  # top URLs are counted over the whole range
        assert {row["date"] for row in rows} == {days_back(n) for n in range(7)}


@pytest.mark.parametrize(("path", "missing"), [(p, m) for p, required in sorted(REQUIRED.items()) for m in required])
async def test_a_report_without_a_parameter_its_page_marks_required_answers_400_naming_it(
    http: httpx2.AsyncClient, path: str, missing: str
) -> None:
    params = {k: v for k, v in REQUIRED[path].items() if k != missing}
    answer = await http.get(f"/{path}", params={"orgUid": ORG, "from": days_back(3), "to": days_back(0), **params})
    assert answer.status_code == 400
    assert missing in answer.json()["errors"]


async def test_status_codes_are_strings_under_status_and_top_url_counts_are_strings(http: httpx2.AsyncClient) -> None:
    window = {"from": days_back(2), "to": days_back(0)}
    statuses = await all_rows(http, "http-statuses", **window)
    urls = await all_rows(http, "url", **window)
    assert {row["status"] for row in statuses} == set(analytics.STATUS_CODES)
    assert all(isinstance(row["count"], int) for row in statuses)
    assert all(isinstance(row["count"], str) and row["count"].isdigit() for row in urls)
    counts = [int(row["count"]) for row in urls]
    assert counts == sorted(counts, reverse=True)  # top URLs, busiest first


async def test_sdk_periods_without_sdk_traffic_are_rows_with_only_a_date(http: httpx2.AsyncClient) -> None:
    rows = await all_rows(http, "sdk", **{"from": days_back(2), "to": days_back(0), "services": '["ui"]'})
    assert rows == [{"date": days_back(n)} for n in (2, 1, 0)]


async def test_sdk_and_device_answers_count_their_rows_and_sdk_adds_up_its_counts(http: httpx2.AsyncClient) -> None:
    window = {"from": days_back(2), "to": days_back(0)}
    sdk = await finished(http, await start(http, "sdk", **window))
    devices = await finished(http, await start(http, "devices", **window, services='["cdn"]'))
    assert sdk["totalDocs"] == len(sdk["data"])
    assert sdk["total"] == sum(r.get("count", 0) for r in sdk["data"])
    assert (sdk["meta"]["skip"], sdk["meta"]["limit"]) == (0, analytics.MAX_SDK_LIMIT)
    assert devices["totalDocs"] == 3 * len(analytics.DEVICES)
    assert "total" not in devices


async def test_a_job_answers_job_active_for_the_configured_polls_then_data() -> None:
    state = make_state(active_polls=3)
    async with service_client(state, MOUNT, analytics.routes, HEADERS) as http:
        job_id = await start(http, "usage", **{"from": days_back(3), "to": days_back(0)})
        busy: list[Any] = []
        for _ in range(3):
            answer = await data(http, job_id)
            assert answer.status_code == 200
            busy.append(answer.json())
        body = (await data(http, job_id)).json()
    assert busy == [{"message": "Job waiting"}, {"message": "Job active"}, {"message": "Job active"}]
    assert body["uid"] == job_id
    assert len(body["data"]) == 4  # one usage row a day, every service in it


async def test_rows_come_fifty_a_page_and_a_page_past_the_last_answers_404(http: httpx2.AsyncClient) -> None:
    job_id = await start(http, "devices", **{"from": days_back(6), "to": days_back(0)})
    first = await finished(http, job_id)
    rows_total = 7 * len(analytics.SERVICES) * len(analytics.DEVICES)
    pages = -(-rows_total // analytics.PAGE_SIZE)
    assert first["totalDocs"] == rows_total
    assert first["meta"] == {"orgUid": ORG, "from": days_back(6), "to": days_back(0), "duration": "day", "limit": 50}
    last = (await data(http, job_id, pages - 1)).json()
    assert len(last["data"]) == rows_total - (pages - 1) * analytics.PAGE_SIZE
    for beyond in (pages, "x", -1):
        answer = await data(http, job_id, beyond)
        assert answer.status_code == 404
        assert answer.json()["error_code"] == 404


async def test_the_start_answer_says_when_the_rows_are_paginated(http: httpx2.AsyncClient) -> None:
    small = await http.get("/usage", params={"orgUid": ORG, "from": days_back(29), "to": days_back(0)})
    large = await http.get("/devices", params={"orgUid": ORG, "from": days_back(6), "to": days_back(0)})
    assert small.json()["paginated"] is False
    assert large.json()["paginated"] is True


async def test_an_unknown_job_answers_404(http: httpx2.AsyncClient) -> None:
    answer = await data(http, "job_00000000-0000-0000-0000-000000000000")
    assert answer.status_code == 404
    assert answer.json()["error_code"] == 404


@pytest.mark.parametrize(("first", "last"), [(90, 0), (10, 20)])
async def test_a_range_over_90_days_or_backwards_creates_a_job_that_fails(
    http: httpx2.AsyncClient, first: int, last: int
) -> None:
    job_id = await start(http, "usage", **{"from": days_back(first), "to": days_back(last)})
    await data(http, job_id)  # Job active first, as any job
    answer = await data(http, job_id)
    assert answer.status_code == 500
    body = answer.json()
    assert body["error_code"] == 500
    assert body["errors"]


async def test_a_range_of_exactly_90_days_succeeds(http: httpx2.AsyncClient) -> None:
    job_id = await start(http, "usage", **{"from": days_back(89), "to": days_back(0), "services": '["cdn"]'})
    assert len((await finished(http, job_id))["data"]) == 50
    assert len((await finished(http, job_id, 1))["data"]) == 40


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"from": "2025-5-1", "to": days_back(0)}, "from"),
        ({"to": days_back(0)}, "from"),
        ({"from": days_back(3), "to": days_back(0), "duration": "fortnight"}, "duration"),
        ({"from": days_back(3), "to": days_back(0), "services": '["cdn","fax"]'}, "services"),
        ({"from": days_back(3), "to": days_back(0), "services": "cdn"}, "services"),
    ],
)
async def test_malformed_parameters_answer_400_naming_the_parameter(
    http: httpx2.AsyncClient, params: dict[str, str], bad: str
) -> None:
    answer = await http.get("/usage", params={"orgUid": ORG, **params})
    assert answer.status_code == 400
    assert bad in answer.json()["errors"]


async def test_the_cache_and_limit_parameters_are_checked(http: httpx2.AsyncClient) -> None:
    window = {"orgUid": ORG, "from": days_back(3), "to": days_back(0)}
    cache = {**window, **REQUIRED["hit-miss-ratio"], "cache": "MAYBE"}
    assert (await http.get("/hit-miss-ratio", params=cache)).status_code == 400
    assert (await http.get("/sdk", params={**window, **REQUIRED["sdk"], "limit": 901})).status_code == 400


# -- filters and aggregation ----------------------------------------------------------------


async def test_services_and_the_stack_filter_the_rows(http: httpx2.AsyncClient) -> None:
    window = {"from": days_back(6), "to": days_back(0)}
    both = await all_rows(http, "http-statuses", **window, services=json.dumps(["cdn", "cma"]))
    assert {row["type"] for row in both} == {"cdn", "cma"}
    only_cdn = await all_rows(http, "usage", **window, services='["cdn"]')
    assert all(r["total_api_count"] == 0 < r["total_cdn_count"] for r in only_cdn)
    demo = await all_rows(http, "usage", **window, services='["cdn"]', apiKey=DEMO_CREDENTIALS.api_key)
    other = await all_rows(http, "usage", **window, services='["cdn"]', apiKey=analytics.SECOND_STACK_API_KEY)
    assert sum(r["total_cdn_count"] for r in demo + other) == sum(r["total_cdn_count"] for r in only_cdn)
    assert await all_rows(http, "usage", **window, apiKey="blt_no_such_stack") == []


async def test_status_and_cache_filters_keep_only_that_status(http: httpx2.AsyncClient) -> None:
    window = {"from": days_back(6), "to": days_back(0)}
    errors = await all_rows(http, "http-statuses", **window, httpStatusCode=500)
    assert errors
    assert {row["status"] for row in errors} == {"500"}
    misses = await all_rows(http, "hit-miss-ratio", **window, cache="MISS", services=json.dumps(analytics.SERVICES))
    assert {row["status"] for row in misses} == {"MISS"}
    assert {row["type"] for row in misses} == set(analytics.CACHED_SERVICES)


async def test_breakdowns_add_up_to_the_usage_counts(http: httpx2.AsyncClient) -> None:
    window = {"from": days_back(6), "to": days_back(0), "services": '["cdn"]'}
    usage = sum(r["total_cdn_count"] for r in await all_rows(http, "usage", **window))
    statuses = sum(r["count"] for r in await all_rows(http, "http-statuses", **window))
    cache = sum(r["count"] for r in await all_rows(http, "hit-miss-ratio", **window))
    devices = sum(r["count"] for r in await all_rows(http, "devices", **window))
    assert usage == statuses == cache == devices


async def test_weeks_and_months_add_up_the_days_and_are_labelled_by_their_first_day(
    http: httpx2.AsyncClient,
) -> None:
    window = {"from": days_back(59), "to": days_back(0), "services": '["cdn"]'}
    days = await all_rows(http, "usage", **window, duration="day")
    weeks = await all_rows(http, "usage", **window, duration="week")
    months = await all_rows(http, "usage", **window, duration="month")
    cdn = "total_cdn_count"
    assert sum(r[cdn] for r in days) == sum(r[cdn] for r in weeks) == sum(r[cdn] for r in months)
    assert all(date.fromisoformat(r["date"]).weekday() == 0 for r in weeks)
    assert all(r["date"].endswith("-01") for r in months)
    assert len(weeks) == len({r["date"] for r in weeks})


async def test_order_by_sorts_rows_by_count(http: httpx2.AsyncClient) -> None:
    rows = await all_rows(http, "devices", **{"from": days_back(2), "to": days_back(0)}, orderBy=1)
    counts = [r["count"] for r in rows]
    assert counts == sorted(counts)


# -- seed -----------------------------------------------------------------------------------


def seeded(state: SandboxState) -> list[tuple[Any, ...]]:
    with state.db.read() as conn:
        return [tuple(r) for r in conn.execute("SELECT * FROM analytics_daily ORDER BY day, service, api_key")]


def test_the_seed_covers_180_days_ending_today_for_every_service_and_both_stacks() -> None:
    rows = seeded(make_state())
    assert {r[0] for r in rows} == {(TODAY - timedelta(days=n)).isoformat() for n in range(180)}
    assert {r[1] for r in rows} == set(analytics.SERVICES)
    assert {r[2] for r in rows} == {DEMO_CREDENTIALS.api_key, analytics.SECOND_STACK_API_KEY}


def test_the_seed_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    assert seeded(make_state(seed=7)) == seeded(make_state(seed=7))
    assert seeded(make_state(seed=7)) != seeded(make_state(seed=8))


def test_setup_twice_keeps_one_seed() -> None:
    state = make_state()
    before = seeded(state)
    analytics.setup(state)
    assert seeded(state) == before
