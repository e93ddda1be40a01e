"""PublishingAPI against httpx2.MockTransport: single and bulk bodies, limits, permits, the
bulk limiter, jobs and the publish queue (fixtures: sdk-fixtures/mock_publish_queue)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import anyio
import httpx2
import pytest

from cs_mcp.client import ContentstackClient, PermitRequiredError
from cs_mcp.client._entry_models import BulkAsset, BulkEntry
from cs_mcp.client._ratelimit import ARRIVAL_SLACK_SECONDS, WINDOW_SECONDS
from cs_mcp.guard import Permit, PermitAuthority
from tests.client._mock import MANAGEMENT, Handler, Recorder, mock_client
from tests.client._virtual_time import VirtualClock
from tests.helpers import sdk_fixture

pytestmark = pytest.mark.anyio

ALL = {
    "content_type": ["blog_post", "author"],
    "environment": ["development", "staging"],
    "locale": ["en-us", "fr-fr"],
    "branch": ["main"],
}


def fixture(name: str) -> dict[str, Any]:
    return sdk_fixture(f"mock_publish_queue/{name}")


def notice(_request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json={"notice": "The requested action has been performed.", "job_id": "job1"})


def make_client(
    handler: Handler,
    authority: PermitAuthority,
    clock: VirtualClock | None = None,
) -> ContentstackClient:
    return mock_client(handler, MANAGEMENT, permits=authority, clock=clock)


def permit(authority: PermitAuthority, operation: str) -> Permit:
    return authority.issue("local", "publish", operation, ALL)


@pytest.fixture
def authority() -> PermitAuthority:
    return PermitAuthority()


@pytest.fixture
def rec() -> Recorder:
    """Records what the client sends; every publish request is answered with the documented notice."""
    return Recorder(notice)


@pytest.fixture
async def client(rec: Recorder, authority: PermitAuthority) -> AsyncGenerator[ContentstackClient]:
    async with make_client(rec, authority) as client:
        yield client


async def test_an_entry_is_published_with_the_documented_body(
    client: ContentstackClient, rec: Recorder, authority: PermitAuthority
) -> None:
    said = await client.publishing.entry(
        "publish",
        "blog_post",
        "blt1",
        environments=["development"],
        locales=["en-us", "fr-fr"],
        locale="en-us",
        version=3,
        scheduled_at="2030-01-01T00:00:00.000Z",
        permit=permit(authority, "entry.publish"),
    )
    (request,) = rec.requests
    assert request.url.path == "/v3/content_types/blog_post/entries/blt1/publish"
    assert json.loads(request.content) == {
        "entry": {"environments": ["development"], "locales": ["en-us", "fr-fr"]},
        "locale": "en-us",
        "version": 3,
        "scheduled_at": "2030-01-01T00:00:00.000Z",
    }
    assert said == "The requested action has been performed."


async def test_an_asset_is_unpublished_with_the_documented_body(
    client: ContentstackClient, rec: Recorder, authority: PermitAuthority
) -> None:
    await client.publishing.asset(
        "unpublish",
        "blt_asset",
        environments=["staging"],
        locales=["en-us"],
        version=2,
        permit=permit(authority, "asset.unpublish"),
    )
    (request,) = rec.requests
    assert request.url.path == "/v3/assets/blt_asset/unpublish"
    assert json.loads(request.content) == {"asset": {"environments": ["staging"], "locales": ["en-us"]}, "version": 2}


async def bulk_publish_one_post(client: ContentstackClient, authority: PermitAuthority, environment: str) -> object:
    """Publishes one blog post to `environment` in bulk, with a permit for the environments in ALL."""
    return await client.publishing.bulk(
        "publish",
        entries=[BulkEntry(uid="a", content_type="blog_post", version=1, locale="en-us")],
        assets=[],
        environments=[environment],
        locales=["en-us"],
        permit=permit(authority, "bulk.publish"),
    )


async def unpublish_with_a_publish_permit(client: ContentstackClient, authority: PermitAuthority) -> object:
    return await client.publishing.entry(
        "unpublish", "blog_post", "blt1", environments=["development"], locales=["en-us"], locale="en-us", version=1,
        permit=permit(authority, "entry.publish"),
    )  # fmt: skip


UNCOVERED: dict[str, Callable[[ContentstackClient, PermitAuthority], Awaitable[object]]] = {
    "a permit for publishing does not allow unpublishing": unpublish_with_a_publish_permit,
    "a permit that lacks the environment": lambda client, authority: bulk_publish_one_post(
        client, authority, "production"
    ),
}


@pytest.mark.parametrize("call", UNCOVERED.values(), ids=UNCOVERED.keys())
async def test_a_request_its_permit_does_not_cover_sends_nothing(
    call: Callable[[ContentstackClient, PermitAuthority], Awaitable[object]],
    client: ContentstackClient,
    rec: Recorder,
    authority: PermitAuthority,
) -> None:
    with pytest.raises(PermitRequiredError):
        await call(client, authority)
    assert rec.requests == []


async def test_a_bulk_request_carries_entries_assets_locales_and_environments(
    client: ContentstackClient, rec: Recorder, authority: PermitAuthority
) -> None:
    submission = await client.publishing.bulk(
        "publish",
        entries=[BulkEntry(uid="a", content_type="blog_post", version=2, locale="en-us")],
        assets=[BulkAsset(uid="img", version=1)],
        environments=["development", "staging"],
        locales=["en-us", "fr-fr"],
        permit=permit(authority, "bulk.publish"),
    )
    (request,) = rec.requests
    assert request.url.path == "/v3/bulk/publish"
    assert json.loads(request.content) == {
        "entries": [{"uid": "a", "content_type": "blog_post", "version": 2, "locale": "en-us"}],
        "assets": [{"uid": "img", "version": 1}],
        "locales": ["en-us", "fr-fr"],
        "environments": ["development", "staging"],
    }
    assert submission.job_id == "job1"


@pytest.mark.parametrize(
    ("items", "locales", "environments"),
    [(11, 1, 1), (1, 11, 1), (1, 1, 11), (0, 1, 1), (1, 0, 1), (1, 1, 0)],
)
async def test_a_bulk_request_over_ten_by_ten_by_ten_is_refused_before_sending(
    items: int, locales: int, environments: int, client: ContentstackClient, rec: Recorder, authority: PermitAuthority
) -> None:
    with pytest.raises(ValueError, match="bulk request"):
        await client.publishing.bulk(
            "publish",
            entries=[BulkEntry(uid=f"e{i}", content_type="blog_post", version=1, locale="en-us") for i in range(items)],
            assets=[],
            environments=[f"env{i}" for i in range(environments)],
            locales=[f"l{i}" for i in range(locales)],
            permit=permit(authority, "bulk.publish"),
        )
    assert rec.requests == []


async def test_bulk_requests_are_paced_at_one_a_second() -> None:
    authority = PermitAuthority()
    clock = VirtualClock()
    sent_at: list[float] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent_at.append(clock.now())
        return notice(request)

    async with make_client(answer, authority, clock) as client, anyio.create_task_group() as tg:
        clock.start(tg)
        for _ in range(4):
            await bulk_publish_one_post(client, authority, "development")
        tg.cancel_scope.cancel()
    step = WINDOW_SECONDS + ARRIVAL_SLACK_SECONDS
    assert sent_at == pytest.approx([0.0, step, 2 * step, 3 * step])


async def test_a_bulk_job_is_read_from_its_job_object() -> None:
    job = {
        "job": {
            "uid": "job1",
            "status": "completed_with_errors",
            "summary": {"total": 2, "success": 1, "failed": 1},
            "items": [
                {"type": "entry", "uid": "a", "content_type": "blog_post", "locale": "en-us", "status": "success"},
                {"type": "entry", "uid": "b", "locale": "fr-fr", "status": "failed", "error_message": "not localized"},
            ],
        }
    }
    rec = Recorder(lambda _r: httpx2.Response(200, json=job))
    async with make_client(rec, PermitAuthority()) as client:
        answer = await client.publishing.bulk_job("job1")
    assert rec.requests[0].url.path == "/v3/bulk/jobs/job1"
    assert answer.status == "completed_with_errors"
    assert [(i.uid, i.status, i.error_message) for i in answer.items] == [
        ("a", "success", None),
        ("b", "failed", "not localized"),
    ]


async def test_the_publish_queue_is_read_in_the_shape_of_the_fixtures() -> None:
    rec = Recorder(lambda _r: httpx2.Response(200, json={**fixture("find.json"), "count": 2}))
    async with make_client(rec, PermitAuthority()) as client:
        page = await client.publishing.queue(skip=0, limit=10)
    sent = dict(rec.requests[0].url.params.multi_items())
    assert sent == {"include_count": "true", "skip": "0", "limit": "10"}  # the documented parameters only
    assert page.total == 2
    row = page.items[0]
    assert row.state == "success"
    assert row.environments == ["environment_uid"]
    assert row.entry is not None
    assert row.entry.release == {"uid": "release_uid", "title": "tesrting2"}


async def test_one_queue_row_is_read_from_the_fixture() -> None:
    rec = Recorder(lambda _r: httpx2.Response(200, json=fixture("fetch.json")))
    async with make_client(rec, PermitAuthority()) as client:
        row = await client.publishing.queue_item("publish_queue_uid")
    assert row.uid == "publish_queue_uid"
    assert row.action == "deploy"


async def test_unscheduling_is_a_get_that_needs_a_permit() -> None:
    authority = PermitAuthority()
    rec = Recorder(lambda _r: httpx2.Response(200, json=fixture("cancel.json")))
    async with make_client(rec, authority) as client:
        with pytest.raises(PermitRequiredError):
            await client.publishing.unschedule("q1", environments=["staging"], permit=None)
        assert rec.requests == []
        said = await client.publishing.unschedule(
            "q1",
            environments=["staging"],
            permit=authority.issue(
                "local", "cancel", "publish_queue.unschedule", {"environment": ["staging"], "branch": ["main"]}
            ),
        )
    (request,) = rec.requests
    assert (request.method, request.url.path) == ("GET", "/v3/publish-queue/q1/unschedule")
    assert said == "Release unscheduled successfully."


async def test_a_bulk_job_is_read_with_the_bulk_api_version_and_its_items_from_their_own_endpoint() -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/items"):
            return httpx2.Response(200, json={"items": [{"uid": "a", "status": "failed", "error_message": "nope"}]})
        return httpx2.Response(200, json={"uid": "job1", "status": "completed", "summary": {"failed": 1}})

    rec = Recorder(answer)
    async with make_client(rec, PermitAuthority()) as client:
        job = await client.publishing.bulk_job("job1")
    assert [r.headers.get("api_version") for r in rec.requests] == ["3.2", "3.2"]
    assert [r.url.path for r in rec.requests] == ["/v3/bulk/jobs/job1", "/v3/bulk/jobs/job1/items"]
    assert (job.status, [(i.uid, i.status) for i in job.items]) == ("completed", [("a", "failed")])


async def test_a_numeric_bulk_job_status_is_kept_as_text() -> None:
    rec = Recorder(lambda _r: httpx2.Response(200, json={"job": {"uid": "job1", "status": 2, "items": [{"uid": "a"}]}}))
    async with make_client(rec, PermitAuthority()) as client:
        job = await client.publishing.bulk_job("job1")
    assert job.status == "2"


async def test_every_publish_queue_request_sends_the_documented_api_version() -> None:
    authority = PermitAuthority()

    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/unschedule"):
            return httpx2.Response(200, json=fixture("cancel.json"))
        if request.url.path.endswith("/publish-queue"):
            return httpx2.Response(200, json=fixture("find.json"))
        return httpx2.Response(200, json=fixture("fetch.json"))

    rec = Recorder(answer)
    async with make_client(rec, authority) as client:
        await client.publishing.queue()
        await client.publishing.queue_item("publish_queue_uid")
        await client.publishing.unschedule(
            "publish_queue_uid", environments=["staging"], permit=permit(authority, "publish_queue.unschedule")
        )
    assert [r.headers.get("api_version") for r in rec.requests] == ["3.2", "3.2", "3.2"]


async def test_a_queue_row_names_its_content_type_at_the_top_level_and_a_release_row_its_release() -> None:
    row = {
        "uid": "q1",
        "type": "entry",
        "entry": {"uid": "blt1", "title": "Hello", "locale": "hi-in", "version": 2},
        "content_type": {"uid": "ct5"},
        "environment": ["env1"],
        "locale": ["hi-in"],
        "publish_details": {"status": "scheduled"},
    }
    rec = Recorder(lambda _r: httpx2.Response(200, json={"queue": [row]}))
    async with make_client(rec, PermitAuthority()) as client:
        (entry_row,) = (await client.publishing.queue()).items
        release_row = await _queue_item_from(fixture("fetch.json"))
    assert entry_row.content_type_uid == "ct5"
    assert (release_row.release_uid, release_row.entry and release_row.entry.uid) == ("release_uid", "entry_uid")


async def _queue_item_from(answer: dict[str, Any]) -> Any:
    rec = Recorder(lambda _r: httpx2.Response(200, json=answer))
    async with make_client(rec, PermitAuthority()) as client:
        return await client.publishing.queue_item("q")


def documented_job_item(uid: str, status: str = "success", reason: str | None = None) -> dict[str, Any]:
    """A row of "CMA | Job Status"'s job items: outcome under publish_details, content type as an object."""
    details: dict[str, Any] = {"status": status}
    if reason:
        details["failure_reason"] = reason
    return {
        "uid": uid,
        "locale": "en-us",
        "version": 1,
        "title": uid,
        "type": "entry",
        "publish_details": details,
        "publish_locale": "en-us",
        "environment": "env_uid",
        "action": "publish",
        "depth": 0,
        "content_type": {"uid": "author"},
    }


async def test_job_items_in_the_documented_shape_are_read_through_every_page() -> None:
    rows = [documented_job_item(f"e{i}") for i in range(230)]
    rows[150] = documented_job_item("e150", "failed", "Entry is not localized.")

    def answer(request: httpx2.Request) -> httpx2.Response:
        if not request.url.path.endswith("/items"):
            return httpx2.Response(
                200,
                json={
                    "uid": "job1",
                    "status": "complete",
                    "summary": {"state": "completed", "success": 229, "unsuccess": 1},
                },
            )
        skip, limit = int(request.url.params["skip"]), int(request.url.params["limit"])
        return httpx2.Response(
            200, json={"items": rows[skip : skip + limit], "skip": skip, "limit": limit, "total_count": 230}
        )

    rec = Recorder(answer)
    async with make_client(rec, PermitAuthority()) as client:
        job = await client.publishing.bulk_job("job1")
    pages = [dict(r.url.params.multi_items()) for r in rec.requests[1:]]
    assert pages == [{"include_count": "true", "skip": str(s), "limit": "100"} for s in (0, 100, 200)]
    assert len(job.items) == 230
    assert job.finished
    assert job.failure_count == 1
    (failed,) = [i for i in job.items if i.failed]
    assert (failed.uid, failed.content_type_uid, failed.reason) == ("e150", "author", "Entry is not localized.")


async def test_job_items_stop_when_a_page_adds_nothing_new() -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        if not request.url.path.endswith("/items"):
            return httpx2.Response(200, json={"uid": "job1", "status": "complete"})
        # A server that ignores skip and promises more than it has.
        return httpx2.Response(200, json={"items": [documented_job_item("a")], "total_count": 5000})

    rec = Recorder(answer)
    async with make_client(rec, PermitAuthority()) as client:
        job = await client.publishing.bulk_job("job1")
    assert [i.uid for i in job.items] == ["a"]
    assert len(rec.requests) == 3  # the job, the first page, the page that repeated it


@pytest.mark.parametrize(
    ("status", "summary_state", "finished"),
    [
        ("complete", None, True),
        ("completed", None, True),
        ("partial complete", None, True),
        ("failed", None, True),
        (4, None, True),
        (6, None, True),
        ("in progress", None, False),
        (3, None, False),
        (None, "completed", True),
    ],
)
async def test_the_documented_final_job_states_are_final(
    status: object, summary_state: str | None, finished: bool
) -> None:
    job: dict[str, Any] = {"uid": "job1", "status": status, "items": [documented_job_item("a")]}
    if summary_state:
        job["summary"] = {"state": summary_state}
    rec = Recorder(lambda _r: httpx2.Response(200, json=job))
    async with make_client(rec, PermitAuthority()) as client:
        answer = await client.publishing.bulk_job("job1")
    assert answer.finished is finished
