"""The Analytics v2 client against httpx2.MockTransport: what it sends for each report, and how
it reads a running job, a page of data, and the refusals."""

from __future__ import annotations

import json
from datetime import date

import httpx2
import pytest

from cs_mcp.client import (
    AuthenticationError,
    ClientConfig,
    ContentstackClient,
    MalformedResponseError,
    NotFoundError,
    RetryPolicy,
    ServerError,
)
from cs_mcp.client._analytics import REPORTS, AnalyticsJob, JobActive, JobDataPage, ReportName, normalize_row
from tests.client._mock import Handler, mock_client

pytestmark = pytest.mark.anyio

ORG = ClientConfig(authtoken="blt_user_authtoken", organization_uid="org_uid_1")
FROM, TO = date(2025, 3, 1), date(2025, 3, 31)


def make_client(handler: Handler, config: ClientConfig = ORG) -> ContentstackClient:
    return mock_client(handler, config, retry=RetryPolicy(attempts=2))


def recording(answer: httpx2.Response, seen: list[httpx2.Request]) -> Handler:
    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return answer

    return handler


@pytest.mark.parametrize(
    ("report", "path"),
    [
        ("usage", "/analytics/v2/usage"),
        ("devices", "/analytics/v2/devices"),
        ("status_codes", "/analytics/v2/http-statuses"),
        ("cache", "/analytics/v2/hit-miss-ratio"),
        ("sdk", "/analytics/v2/sdk"),
        ("top_urls", "/analytics/v2/url"),
        ("subscription", "/analytics/v2/subscription"),
    ],
)
async def test_starting_a_report_sends_its_path_org_and_dates_and_answers_the_job(
    report: ReportName, path: str
) -> None:
    seen: list[httpx2.Request] = []
    answer = httpx2.Response(200, json={"jobId": "job_1", "paginated": True})
    async with make_client(recording(answer, seen)) as client:
        job = await client.analytics.start_report(report, FROM, TO, duration="week", services=["cdn", "cma"])
    assert job == AnalyticsJob(jobId="job_1", paginated=True)
    request = seen[0]
    assert request.method == "GET"
    assert request.url.path == path
    assert request.headers["authtoken"] == "blt_user_authtoken"
    params = dict(request.url.params)
    assert params["orgUid"] == "org_uid_1"
    assert (params["from"], params["to"]) == ("2025-03-01", "2025-03-31")
    if REPORTS[report].services:
        assert json.loads(params["services"]) == ["cdn", "cma"]
        assert params["duration"] == "week"
    else:
        assert "services" not in params
        assert "duration" not in params


# What each report's page on Contentstack's "Analytics API" reference marks required, beyond
# orgUid, from and to, with the documented defaults sent when the caller gives none.
DOCUMENTED_DEFAULTS: dict[ReportName, dict[str, str]] = {
    "usage": {"services": '["cdn","cma"]', "duration": "day", "includeCount": "true"},
    "devices": {"services": '["cdn","cma"]', "duration": "day", "includeCount": "true"},
    "status_codes": {"services": '["cdn","cma"]', "duration": "day"},
    "cache": {"services": '["cdn","cma"]', "duration": "day"},
    "sdk": {"services": '["cdn","cma"]', "duration": "day", "includeCount": "true"},
    "top_urls": {"services": '["cdn","cma"]', "duration": "day", "includeTotalCount": "true"},
    "subscription": {},
}


@pytest.mark.parametrize("report", sorted(DOCUMENTED_DEFAULTS))
async def test_a_report_started_without_filters_sends_every_required_parameter_with_its_documented_default(
    report: ReportName,
) -> None:
    seen: list[httpx2.Request] = []
    answer = httpx2.Response(200, json={"jobId": "job_1", "paginated": False})
    async with make_client(recording(answer, seen)) as client:
        await client.analytics.start_report(report, FROM, TO)
    params = dict(seen[0].url.params)
    base = {"orgUid": "org_uid_1", "from": "2025-03-01", "to": "2025-03-31"}
    assert params == {**base, **DOCUMENTED_DEFAULTS[report]}


async def test_filters_a_report_does_not_take_are_not_sent() -> None:
    seen: list[httpx2.Request] = []
    answer = httpx2.Response(200, json={"jobId": "job_1", "paginated": False})
    async with make_client(recording(answer, seen)) as client:
        await client.analytics.start_report("devices", FROM, TO, api_key="blt_stack", cache="HIT", http_status_code=500)
        await client.analytics.start_report("status_codes", FROM, TO, api_key="blt_stack", http_status_code=500)
        await client.analytics.start_report("cache", FROM, TO, cache="MISS")
    devices, statuses, cache = (dict(r.url.params) for r in seen)
    assert not {"apiKey", "cache", "httpStatusCode"} & set(devices)
    assert (statuses["apiKey"], statuses["httpStatusCode"]) == ("blt_stack", "500")
    assert cache["cache"] == "MISS"


async def test_an_oauth_token_is_sent_as_a_bearer_token() -> None:
    seen: list[httpx2.Request] = []
    config = ClientConfig(oauth_token="oauth_token_value", organization_uid="org_uid_1")
    answer = httpx2.Response(200, json={"jobId": "job_1", "paginated": False})
    async with make_client(recording(answer, seen), config) as client:
        await client.analytics.start_report("usage", FROM, TO)
    assert seen[0].headers["authorization"] == "Bearer oauth_token_value"


async def test_without_an_organization_nothing_is_sent() -> None:
    seen: list[httpx2.Request] = []
    answer = httpx2.Response(200, json={"jobId": "job_1"})
    async with make_client(recording(answer, seen), ClientConfig(authtoken="blt_user_authtoken")) as client:
        with pytest.raises(AuthenticationError):
            await client.analytics.start_report("usage", FROM, TO)
    assert seen == []


async def test_a_start_answer_without_a_job_id_is_malformed() -> None:
    async with make_client(lambda _r: httpx2.Response(200, json={"paginated": False})) as client:
        with pytest.raises(MalformedResponseError):
            await client.analytics.start_report("usage", FROM, TO)


async def test_an_answer_without_data_is_a_running_job() -> None:
    seen: list[httpx2.Request] = []
    async with make_client(recording(httpx2.Response(200, json={"message": "Job active"}), seen)) as client:
        answer = await client.analytics.job_data("job_1", 2)
    assert answer == JobActive(message="Job active")
    assert seen[0].url.raw_path.decode().startswith("/analytics/v2/job/job_1/data?")
    assert dict(seen[0].url.params) == {"orgUid": "org_uid_1", "page": "2"}


async def test_a_queued_job_is_a_running_job_too() -> None:
    async with make_client(lambda _r: httpx2.Response(200, json={"message": "Job waiting"})) as client:
        assert await client.analytics.job_data("job_1") == JobActive(message="Job waiting")


async def test_measures_that_arrive_as_strings_are_numbers_and_names_stay_strings() -> None:
    body = {
        "data": [
            {"url": "https://cdn.contentstack.io/v3/global_fields", "type": "cdn", "count": "3"},
            {"count": 63, "type": "cma", "status": "200", "date": "2024-02-05"},
            {"total_cdn_bandwidth": "10110.5", "date": "2024-02-12"},
        ],
        "totalDocs": 3,
    }
    async with make_client(lambda _r: httpx2.Response(200, json=body)) as client:
        page = await client.analytics.job_data("job_1")
    assert isinstance(page, JobDataPage)
    assert page.data == [
        {"url": "https://cdn.contentstack.io/v3/global_fields", "type": "cdn", "count": 3},
        {"count": 63, "type": "cma", "status": "200", "date": "2024-02-05"},
        {"total_cdn_bandwidth": 10110.5, "date": "2024-02-12"},
    ]
    assert page.docs == 3


def test_a_row_with_only_a_date_is_kept_as_it_is() -> None:
    assert normalize_row({"date": "2024-02-28"}) == {"date": "2024-02-28"}


async def test_paging_facts_that_are_not_whole_numbers_do_not_fail_a_page() -> None:
    body = {"data": [{"count": 1}], "totalDocs": "many", "meta": {"limit": "900", "orgUid": "blt1"}}
    async with make_client(lambda _r: httpx2.Response(200, json=body)) as client:
        page = await client.analytics.job_data("job_1")
    assert isinstance(page, JobDataPage)
    assert (page.docs, page.meta.limit) == (None, None)


def test_a_page_expects_more_rows_until_total_docs_have_arrived_or_a_page_comes_back_short() -> None:
    counted = JobDataPage.model_validate({"data": [{"n": 1}] * 50, "totalDocs": 120, "page": 1})
    assert counted.expects_more(100, 50, paginated=True) is True
    assert counted.expects_more(120, 50, paginated=True) is False
    uncounted = JobDataPage.model_validate({"data": [{"n": 1}] * 50, "page": 0})
    assert uncounted.expects_more(50, 50, paginated=True) is None  # a full page: ask, "No data found" ends it
    assert uncounted.expects_more(50, 50, paginated=False) is False
    short = JobDataPage.model_validate({"data": [{"n": 1}] * 20, "page": 2})
    assert short.expects_more(120, 50, paginated=True) is False


async def test_a_data_page_carries_its_rows_and_knows_the_next_page() -> None:
    body = {
        "data": [{"date": "2025-03-01", "type": "cdn", "count": 3}],
        "meta": {"page": 1, "limit": 50, "totalPages": 3, "totalDocs": 101},
        "uid": "job_1",
    }
    async with make_client(lambda _r: httpx2.Response(200, json=body)) as client:
        page = await client.analytics.job_data("job_1", 1)
    assert isinstance(page, JobDataPage)
    assert page.data == body["data"]
    assert (page.page, page.meta.total_pages, page.meta.total_docs) == (1, 3, 101)
    assert page.next_page == 2


async def test_the_last_page_and_a_page_of_unknown_count_have_no_next_page() -> None:
    last = JobDataPage.model_validate({"data": [], "meta": {"totalPages": 3}, "page": 2})
    unknown = JobDataPage.model_validate({"data": [{"a": 1}], "page": 0})
    assert last.next_page is None
    assert unknown.next_page is None


async def test_data_that_is_not_a_list_of_rows_is_malformed() -> None:
    async with make_client(lambda _r: httpx2.Response(200, json={"data": [1, 2]})) as client:
        with pytest.raises(MalformedResponseError):
            await client.analytics.job_data("job_1")


async def test_a_failed_job_raises_a_server_error_with_contentstacks_words() -> None:
    failed = {"error_message": "Job Failed", "error_code": 500, "errors": {"to": ["is too far"]}}
    async with make_client(lambda _r: httpx2.Response(500, json=failed)) as client:
        with pytest.raises(ServerError) as caught:
            await client.analytics.job_data("job_1")
    assert caught.value.status == 500
    assert caught.value.error_message == "Job Failed"


async def test_a_page_past_the_last_raises_not_found() -> None:
    missing = {"error_message": "No data found", "error_code": 404}
    async with make_client(lambda _r: httpx2.Response(404, json=missing)) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.analytics.job_data("job_1", 9)
    assert caught.value.status == 404


async def test_a_failed_report_job_is_final_and_not_asked_again() -> None:
    seen: list[httpx2.Request] = []
    failed = httpx2.Response(500, json={"error_message": "Job Failed", "errors": {}})
    async with make_client(recording(failed, seen)) as client:
        with pytest.raises(ServerError):
            await client.analytics.job_data("job-1")
    assert len(seen) == 1
