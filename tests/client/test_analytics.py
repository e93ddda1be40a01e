"""The Analytics v2 client against httpx2.MockTransport: what it sends for each report, and how
it reads a running job, a page of data, and the refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import anyio.lowlevel
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
from cs_mcp.client._analytics import REPORTS, AnalyticsJob, JobActive, JobDataPage, ReportName
from cs_mcp.guard import PermitAuthority

pytestmark = pytest.mark.anyio

Handler = Callable[[httpx2.Request], httpx2.Response]
ORG = ClientConfig(authtoken="blt_user_authtoken", organization_uid="org_uid_1")
FROM, TO = date(2025, 3, 1), date(2025, 3, 31)


async def no_sleep(_seconds: float) -> None:
    await anyio.lowlevel.checkpoint()


def make_client(handler: Handler, config: ClientConfig = ORG) -> ContentstackClient:
    return ContentstackClient(
        config,
        permits=PermitAuthority(),
        transport=httpx2.MockTransport(handler),
        sleep=no_sleep,
        retry=RetryPolicy(attempts=2),
    )


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
