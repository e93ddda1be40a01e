"""The sandbox's publishing over HTTP: single and bulk publish, scheduled publishing, the publish queue."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from cs_mcp.sandbox import endpoint, store
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxClock, SandboxConfig, SandboxState
from tests.sandbox._delivery import API_VERSION, CMA_HEADERS, Delivery, advance_clock

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sandbox() -> AsyncGenerator[RunningSandbox]:
    """A seeded sandbox over real loopback HTTP with its rate limits off: these tests are about
    publishing, and a burst of them would otherwise wait on the CMA's 10 requests a second."""
    async with running_sandbox(SandboxConfig(rate_limits=False), SandboxClock(NOW)) as running:
        yield running


def unpublished_entry(state: SandboxState) -> tuple[str, int]:
    """A page with en-us and fr-fr versions and at least two en-us versions, taken out of every
    environment, and its latest en-us version."""
    with state.db.transaction() as conn:
        for uid in store.entry_uids(conn, "page"):
            version = store.latest_entry_version(conn, "page", uid, "en-us")
            if "fr-fr" in store.entry_locales(conn, "page", uid) and version is not None and version >= 2:
                for detail in store.publish_details(conn, "entry", "page", uid):
                    store.clear_published(conn, "entry", "page", uid, detail["environment"], detail["locale"])
                return uid, version
    raise AssertionError("the seed has no such page")


def blog_post_uids(state: SandboxState, count: int) -> list[str]:
    with state.db.read() as conn:
        return store.entry_uids(conn, "blog_post")[:count]


def first_asset(state: SandboxState) -> dict[str, Any]:
    with state.db.read() as conn:
        return store.list_assets(conn)[0]


def later(state: SandboxState, seconds: float) -> str:
    return (state.clock.now() + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


async def publish(
    cma: httpx2.AsyncClient, uid: str, body: dict[str, Any], action: str = "publish", content_type: str = "page"
) -> httpx2.Response:
    return await cma.post(f"/content_types/{content_type}/entries/{uid}/{action}", json=body)


async def scheduled_to_staging(state: SandboxState, cma: httpx2.AsyncClient, seconds: float) -> tuple[str, int]:
    """An unpublished page (see `unpublished_entry`) scheduled to be published to staging in
    `seconds`: its uid and latest en-us version."""
    uid, latest = unpublished_entry(state)
    answer = await publish(cma, uid, {"entry": {"environments": ["staging"]}, "scheduled_at": later(state, seconds)})
    assert answer.status_code == 200
    return uid, latest


async def queue(cma: httpx2.AsyncClient, **params: str) -> list[dict[str, Any]]:
    answer = await cma.get("/publish-queue", params=params, headers=API_VERSION)
    assert answer.status_code == 200
    return answer.json()["queue"]


async def test_publishing_an_entry_makes_its_latest_version_live_only_in_that_environment_and_locale(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery
) -> None:
    uid, latest = unpublished_entry(state)

    answer = await publish(cma, uid, {"entry": {"environments": ["staging"], "locales": ["en-us"]}})

    assert answer.status_code == 200
    assert answer.json() == {"notice": "The requested action has been performed."}
    assert await cda.entry_version("page", uid, "staging", "en-us") == latest
    assert await cda.entry_version("page", uid, "staging", "fr-fr") is None


async def test_publishing_without_locales_uses_the_master_locale_and_a_given_version_is_pinned(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery
) -> None:
    uid, _latest = unpublished_entry(state)

    answer = await publish(cma, uid, {"entry": {"environments": ["staging"]}, "locale": "en-us", "version": 1})

    assert answer.status_code == 200
    assert await cda.entry_version("page", uid, "staging", "en-us") == 1
    assert await cda.entry_version("page", uid, "staging", "fr-fr") is None


async def test_unpublishing_takes_an_entry_out_of_that_environment_only(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery
) -> None:
    uid, latest = unpublished_entry(state)
    await publish(cma, uid, {"entry": {"environments": ["staging", "development"], "locales": ["en-us"]}})

    answer = await publish(cma, uid, {"entry": {"environments": ["staging"], "locales": ["en-us"]}}, "unpublish")

    assert answer.status_code == 200
    assert await cda.entry_version("page", uid, "staging", "en-us") is None
    assert await cda.entry_version("page", uid, "development", "en-us") == latest


async def test_an_environment_can_be_named_by_its_uid(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery
) -> None:
    uid, latest = unpublished_entry(state)
    with state.db.read() as conn:
        staging_uid = store.environment_uid(conn, "staging")
    assert staging_uid is not None

    await publish(cma, uid, {"entry": {"environments": [staging_uid], "locales": ["en-us"]}})

    assert await cda.entry_version("page", uid, "staging", "en-us") == latest


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"entry": {"environments": ["nowhere"], "locales": ["en-us"]}}, "environments"),
        ({"entry": {"environments": [], "locales": ["en-us"]}}, "environments"),
        ({"entry": {"environments": ["staging"], "locales": ["xx-xx"]}}, "locales"),
        ({"entry": {"environments": ["staging"]}, "version": 99}, "version"),
        ({"entry": {"environments": ["staging"]}, "scheduled_at": "2001-01-01T00:00:00Z"}, "scheduled_at"),
        ({"entry": {"environments": ["staging"]}, "scheduled_at": "next tuesday"}, "scheduled_at"),
        ({"environments": ["staging"]}, "entry"),
    ],
)
async def test_an_invalid_publish_request_is_refused_naming_the_field_and_changes_nothing(
    state: SandboxState, cma: httpx2.AsyncClient, body: dict[str, Any], field: str, cda: Delivery
) -> None:
    uid, _latest = unpublished_entry(state)

    answer = await publish(cma, uid, body)

    assert answer.status_code == 422
    assert answer.json()["error_code"] == endpoint.INVALID_DATA_CODE
    assert field in answer.json()["errors"]
    assert await cda.entry_version("page", uid, "staging", "en-us") is None
    assert await queue(cma) == []


async def test_publishing_an_entry_that_does_not_exist_answers_not_found(cma: httpx2.AsyncClient) -> None:
    missing = await publish(cma, "blt0000000000000000", {"entry": {"environments": ["staging"]}})
    no_type = await publish(cma, "blt0000000000000000", {"entry": {"environments": ["staging"]}}, content_type="nope")

    assert (missing.status_code, missing.json()["error_code"]) == (422, endpoint.NOT_FOUND_CODE)
    assert (no_type.status_code, no_type.json()["error_code"]) == (422, endpoint.CONTENT_TYPE_NOT_FOUND_CODE)


async def test_a_body_that_is_not_json_is_refused(state: SandboxState, cma: httpx2.AsyncClient) -> None:
    uid, _latest = unpublished_entry(state)

    answer = await cma.post(f"/content_types/page/entries/{uid}/publish", content=b"{not json")

    assert answer.status_code == 400
    assert answer.json()["error_code"] == endpoint.INVALID_DATA_CODE


async def test_publishing_needs_the_cma_credentials(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery
) -> None:
    uid, _latest = unpublished_entry(state)

    answer = await cma.post(
        f"/content_types/page/entries/{uid}/publish",
        json={"entry": {"environments": ["staging"]}},
        headers={"authorization": "wrong"},
    )

    assert answer.status_code == 401
    assert answer.json()["error_code"] == 105
    assert await cda.entry_version("page", uid, "staging", "en-us") is None


async def test_every_publish_adds_a_queue_row_in_the_fixture_shape(
    state: SandboxState, cma: httpx2.AsyncClient
) -> None:
    uid, latest = unpublished_entry(state)
    await publish(cma, uid, {"entry": {"environments": ["staging"], "locales": ["en-us", "fr-fr"]}})

    rows = await queue(cma)

    assert len(rows) == 2
    fixture_keys = {
        "uid",
        "stack",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
        "type",
        "publish_details",
        "entry",
        "environment",
        "action",
        "published_at",
        "user",
        "approval",
        "approved",
        "rejected",
    }
    for row in rows:
        assert fixture_keys <= row.keys()
        assert (row["type"], row["action"], row["publish_details"]) == ("entry", "publish", {"status": "success"})
        assert row["entry"]["uid"] == uid
        assert row["stack"] == DEMO_CREDENTIALS.api_key
        # "CMA | Publish Queue": the content type at the row's top level, not inside entry.
        assert row["content_type"] == {"uid": "page"}
        assert "content_type" not in row["entry"]
    assert {row["entry"]["locale"] for row in rows} == {"en-us", "fr-fr"}
    en_row = next(row for row in rows if row["entry"]["locale"] == "en-us")
    assert en_row["entry"]["version"] == latest
    fetched = await cma.get(f"/publish-queue/{en_row['uid']}", headers=API_VERSION)
    assert fetched.json() == {"entry": en_row}


async def test_the_publish_queue_pages_counts_and_filters_by_environment(
    state: SandboxState, cma: httpx2.AsyncClient
) -> None:
    uid, _latest = unpublished_entry(state)
    await publish(cma, uid, {"entry": {"environments": ["staging"]}})
    await publish(cma, uid, {"entry": {"environments": ["development"]}})
    await publish(cma, uid, {"entry": {"environments": ["development"]}}, "unpublish")
    with state.db.read() as conn:
        development_uid = store.environment_uid(conn, "development")

    page = await cma.get(
        "/publish-queue", params={"include_count": "true", "limit": "2", "skip": "1"}, headers=API_VERSION
    )
    by_name = await queue(cma, environment="development")
    by_query = await queue(cma, query='{"environment": "staging"}')

    assert page.json()["count"] == 3
    assert len(page.json()["queue"]) == 2
    assert [row["action"] for row in by_name] == ["unpublish", "publish"]
    assert all(row["environment"] == [development_uid] for row in by_name)
    assert len(by_query) == 1
    assert (await cma.get("/publish-queue", params={"limit": "101"}, headers=API_VERSION)).status_code == 422


async def test_a_queue_item_that_does_not_exist_answers_not_found(cma: httpx2.AsyncClient) -> None:
    fetched = await cma.get("/publish-queue/blt0000000000000000", headers=API_VERSION)
    cancelled = await cma.get("/publish-queue/blt0000000000000000/unschedule", headers=API_VERSION)

    assert (fetched.status_code, fetched.json()["error_code"]) == (422, endpoint.NOT_FOUND_CODE)
    assert (cancelled.status_code, cancelled.json()["error_code"]) == (422, endpoint.NOT_FOUND_CODE)


async def test_a_scheduled_publish_waits_in_the_queue_and_fires_when_the_clock_passes_it(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery, sandbox: RunningSandbox
) -> None:
    uid, latest = await scheduled_to_staging(state, cma, 3600)

    [row] = await queue(cma)
    assert row["publish_details"]["status"] == "scheduled"
    assert await cda.entry_version("page", uid, "staging", "en-us") is None

    await advance_clock(cma, sandbox, 1800)
    assert await cda.entry_version("page", uid, "staging", "en-us") is None

    await advance_clock(cma, sandbox, 1801)
    assert await cda.entry_version("page", uid, "staging", "en-us") == latest
    [fired] = await queue(cma)
    assert fired["publish_details"]["status"] == "success"


async def test_a_due_scheduled_publish_is_served_by_the_cda_without_anyone_moving_the_clock_endpoint(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery
) -> None:
    uid, latest = await scheduled_to_staging(state, cma, 60)

    state.clock.advance(61)  # time passes, as it does for a sandbox serving a real client

    assert await cda.entry_version("page", uid, "staging", "en-us") == latest


async def test_a_scheduled_publish_that_was_unscheduled_never_fires(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery, sandbox: RunningSandbox
) -> None:
    uid, _latest = await scheduled_to_staging(state, cma, 60)
    [row] = await queue(cma)

    answer = await cma.get(f"/publish-queue/{row['uid']}/unschedule", headers=API_VERSION)
    await advance_clock(cma, sandbox, 120)

    assert answer.status_code == 200
    assert answer.json() == {"notice": "Entry unscheduled successfully."}
    assert await cda.entry_version("page", uid, "staging", "en-us") is None
    [cancelled] = await queue(cma)
    assert cancelled["publish_details"]["status"] == "cancelled"


async def test_an_action_that_already_happened_cannot_be_unscheduled(
    state: SandboxState, cma: httpx2.AsyncClient, sandbox: RunningSandbox
) -> None:
    await scheduled_to_staging(state, cma, 60)
    [row] = await queue(cma)
    await advance_clock(cma, sandbox, 61)

    answer = await cma.get(f"/publish-queue/{row['uid']}/unschedule", headers=API_VERSION)

    assert answer.status_code == 422
    assert answer.json()["error_code"] == endpoint.INVALID_DATA_CODE
    assert "status" in answer.json()["errors"]


async def test_due_scheduled_actions_fire_on_the_next_request_even_without_a_tick(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery
) -> None:
    uid, latest = await scheduled_to_staging(state, cma, 60)

    state.clock.advance(61)
    [row] = await queue(cma)

    assert row["publish_details"]["status"] == "success"
    assert await cda.entry_version("page", uid, "staging", "en-us") == latest


async def test_publishing_an_asset_records_it_per_environment_and_locale(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery
) -> None:
    asset = first_asset(state)
    uid = asset["uid"]

    with state.db.transaction() as conn:
        for detail in store.publish_details(conn, "asset", "", uid):
            store.clear_published(conn, "asset", "", uid, detail["environment"], detail["locale"])

    published = await cma.post(f"/assets/{uid}/publish", json={"asset": {"environments": ["staging"]}})
    live = await cda.asset_version(uid, "staging", "en-us")
    elsewhere = await cda.asset_version(uid, "production", "en-us")
    unpublished = await cma.post(f"/assets/{uid}/unpublish", json={"asset": {"environments": ["staging"]}})
    gone = await cda.asset_version(uid, "staging", "en-us")
    missing = await cma.post("/assets/blt0000000000000000/publish", json={"asset": {"environments": ["staging"]}})

    assert published.status_code == unpublished.status_code == 200
    assert live == asset["_version"]
    assert elsewhere is None
    assert gone is None
    assert (missing.status_code, missing.json()["error_code"]) == (422, endpoint.NOT_FOUND_CODE)
    assert [row["type"] for row in await queue(cma)] == ["asset", "asset"]


@pytest.mark.parametrize(
    ("items", "locales", "environments", "field"),
    [
        (11, 1, 1, "entries"),
        (10, 11, 1, "locales"),
        (10, 1, 11, "environments"),
        (0, 1, 1, "entries"),
    ],
)
async def test_bulk_requests_over_ten_items_locales_or_environments_are_refused(
    state: SandboxState, cma: httpx2.AsyncClient, items: int, locales: int, environments: int, field: str
) -> None:
    uids = blog_post_uids(state, items)
    body = {
        "entries": [{"uid": uid, "content_type": "blog_post", "locale": "en-us"} for uid in uids],
        "locales": ["en-us"] + [f"x{index}-xx" for index in range(locales - 1)],
        "environments": ["staging"] + [f"env{index}" for index in range(environments - 1)],
    }

    answer = await cma.post("/bulk/publish", json=body)

    assert answer.status_code == 422
    assert answer.json()["error_code"] == endpoint.INVALID_DATA_CODE
    assert field in answer.json()["errors"]
    assert await queue(cma) == []


async def test_a_bulk_publish_of_ten_items_is_a_job_whose_items_report_their_status(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery
) -> None:
    uids = blog_post_uids(state, 8)
    asset = first_asset(state)
    body = {
        "entries": [{"uid": uid, "content_type": "blog_post", "locale": "en-us"} for uid in uids]
        + [{"uid": "blt0000000000000000", "content_type": "blog_post", "locale": "en-us"}],
        "assets": [{"uid": asset["uid"]}],
        "locales": ["en-us"],
        "environments": ["staging", "production"],
    }

    answer = await cma.post("/bulk/publish", json=body)
    job = await cma.get(f"/bulk/jobs/{answer.json()['job_id']}", headers=API_VERSION)
    items = await cma.get(f"/bulk/jobs/{answer.json()['job_id']}/items", headers=API_VERSION)

    assert answer.status_code == 200
    assert set(answer.json()) == {"notice", "job_id"}
    details = job.json()
    assert details["status"] == "complete"  # as "CMA | Job Status" shows it, failures or not
    assert details["summary"] == {
        "approvals": 0,
        "skip": 0,
        "state": "completed",
        "success": 9,
        "total_processed": 10,
        "unsuccess": 1,
    }
    assert (details["body"]["environments"], details["body"]["locales"]) == (["staging", "production"], ["en-us"])
    rows = items.json()
    assert rows["total_count"] == 20  # one row per item and environment
    failed = [item for item in rows["items"] if item["publish_details"]["status"] == "failed"]
    assert [(item["uid"], item["content_type"]) for item in failed] == [
        ("blt0000000000000000", {"uid": "blog_post"})
    ] * 2
    assert failed[0]["publish_details"]["failure_reason"]
    for uid in uids:
        assert await cda.entry_version("blog_post", uid, "production", "en-us") is not None
    assert len(await queue(cma)) == 10


async def test_a_bulk_unpublish_takes_every_item_down(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery
) -> None:
    uids = blog_post_uids(state, 3)
    entries = [{"uid": uid, "content_type": "blog_post", "locale": "en-us"} for uid in uids]
    await cma.post("/bulk/publish", json={"entries": entries, "environments": ["staging"]})

    answer = await cma.post("/bulk/unpublish", json={"entries": entries, "environments": ["staging"]})
    job = await cma.get(f"/bulk/jobs/{answer.json()['job_id']}", headers=API_VERSION)

    assert job.json()["status"] == "complete"
    assert job.json()["action"] == "unpublish"
    assert [await cda.entry_version("blog_post", uid, "staging", "en-us") for uid in uids] == [None] * len(uids)


async def test_a_scheduled_bulk_job_completes_when_its_time_comes(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery, sandbox: RunningSandbox
) -> None:
    uids = blog_post_uids(state, 2)
    body = {
        "entries": [{"uid": uid, "content_type": "blog_post", "locale": "en-us"} for uid in uids],
        "environments": ["staging"],
        "scheduled_at": later(state, 600),
    }
    with state.db.transaction() as conn:
        for uid in uids:
            store.clear_published(conn, "entry", "blog_post", uid, "staging", "en-us")

    job_id = (await cma.post("/bulk/publish", json=body)).json()["job_id"]
    before = (await cma.get(f"/bulk/jobs/{job_id}", headers=API_VERSION)).json()
    await advance_clock(cma, sandbox, 601)
    after = (await cma.get(f"/bulk/jobs/{job_id}", headers=API_VERSION)).json()

    assert before["status"] == "scheduled"
    assert after["status"] == "complete"
    assert None not in [await cda.entry_version("blog_post", uid, "staging", "en-us") for uid in uids]


async def test_a_bulk_job_that_does_not_exist_answers_not_found(cma: httpx2.AsyncClient) -> None:
    answer = await cma.get("/bulk/jobs/blt0000000000000000", headers=API_VERSION)

    assert (answer.status_code, answer.json()["error_code"]) == (422, endpoint.NOT_FOUND_CODE)


async def test_bulk_job_requests_without_the_bulk_api_version_are_refused(
    state: SandboxState, cma: httpx2.AsyncClient
) -> None:
    entries = [{"uid": uid, "content_type": "blog_post", "locale": "en-us"} for uid in blog_post_uids(state, 1)]
    job_id = (await cma.post("/bulk/publish", json={"entries": entries, "environments": ["staging"]})).json()["job_id"]

    status = await cma.get(f"/bulk/jobs/{job_id}")
    items = await cma.get(f"/bulk/jobs/{job_id}/items")

    assert (status.status_code, items.status_code) == (400, 400)


async def test_a_scheduled_publish_survives_a_restart_with_a_file_database_and_fires_after_it(
    tmp_path: Path,
) -> None:
    config = SandboxConfig(db_path=str(tmp_path / "stack.db"), rate_limits=False)
    async with running_sandbox(config, SandboxClock(NOW)) as first:
        uid, latest = unpublished_entry(first.state)
        async with httpx2.AsyncClient(base_url=f"{first.base_url}/cma/v3", headers=CMA_HEADERS) as client:
            body = {"entry": {"environments": ["staging"]}, "scheduled_at": later(first.state, 600)}
            assert (await publish(client, uid, body)).status_code == 200

    async with running_sandbox(config, SandboxClock(NOW)) as second:
        async with httpx2.AsyncClient(base_url=f"{second.base_url}/cma/v3", headers=CMA_HEADERS) as client:
            [waiting] = await queue(client)
            await advance_clock(client, second, 601)
            [fired] = await queue(client)
        with second.state.db.read() as conn:
            live = store.published_version(conn, "entry", "page", uid, "staging", "en-us")

    assert waiting["publish_details"]["status"] == "scheduled"
    assert fired["publish_details"]["status"] == "success"
    assert live == latest


async def test_publish_queue_requests_without_the_documented_api_version_are_refused(
    state: SandboxState, cma: httpx2.AsyncClient
) -> None:
    uid, _latest = unpublished_entry(state)
    body = {"entry": {"environments": ["staging"], "locales": ["en-us"]}, "scheduled_at": later(state, 600)}
    await publish(cma, uid, body)
    (row,) = await queue(cma)

    answers = [
        await cma.get("/publish-queue"),
        await cma.get(f"/publish-queue/{row['uid']}"),
        await cma.get(f"/publish-queue/{row['uid']}/unschedule"),
    ]

    assert [a.status_code for a in answers] == [400, 400, 400]
    assert (await queue(cma))[0]["publish_details"]["status"] == "scheduled"
