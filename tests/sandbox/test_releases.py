"""The sandbox's releases over HTTP: seed, CRUD, the 25-item limit, locks, deploy, clone."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from cs_mcp.sandbox import endpoint, releases, store
from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxClock, SandboxConfig, SandboxState
from tests.sandbox._delivery import API_VERSION, Delivery, advance_clock

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
# Keys of the management SDK's fixtures (sdk-fixtures/mock_releases, mock_release_items,
# mock_publish_queue), which the sandbox's answers must carry.
RELEASE_KEYS = {
    "name",
    "description",
    "locked",
    "uid",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
    "status",
    "_deploy_latest",
}
ITEM_TYPES = {
    "action": str,
    "title": str,
    "uid": str,
    "locale": str,
    "version": int,
    "content_type_uid": str,
}


@pytest.fixture
async def sandbox() -> AsyncGenerator[RunningSandbox]:
    """A seeded sandbox over real loopback HTTP with its rate limits off: these tests are about
    publishing, and a burst of them would otherwise wait on the CMA's 10 requests a second."""
    async with running_sandbox(SandboxConfig(rate_limits=False), SandboxClock(NOW)) as running:
        yield running


def blog_items(state: SandboxState, count: int, *, version: int | None = None) -> list[dict[str, Any]]:
    with state.db.read() as conn:
        uids = store.entry_uids(conn, "blog_post")[:count]
    assert len(uids) == count
    items: list[dict[str, Any]] = []
    for uid in uids:
        item: dict[str, Any] = {"uid": uid, "content_type_uid": "blog_post", "locale": "en-us", "action": "publish"}
        if version is not None:
            item["version"] = version
        items.append(item)
    return items


async def live_version(cda: Delivery, item: dict[str, Any], environment: str) -> int | None:
    """The version of a release item the CDA serves in `environment`, or None."""
    if item["content_type_uid"] == store.ASSET_CONTENT_TYPE:
        return await cda.asset_version(item["uid"], environment, item["locale"])
    return await cda.entry_version(item["content_type_uid"], item["uid"], environment, item["locale"])


async def create_release(cma: httpx2.AsyncClient, name: str = "Launch", **extra: Any) -> dict[str, Any]:
    answer = await cma.post("/releases", json={"release": {"name": name, "description": "For the launch", **extra}})
    assert answer.status_code == 201
    return answer.json()["release"]


async def all_releases(cma: httpx2.AsyncClient) -> list[dict[str, Any]]:
    answer = await cma.get("/releases", params={"include_count": "true", "include_items_count": "true"})
    assert answer.status_code == 200
    return answer.json()["releases"]


async def seeded(cma: httpx2.AsyncClient, name: str) -> dict[str, Any]:
    return next(release for release in await all_releases(cma) if release["name"] == name)


async def test_the_seed_has_a_release_with_items_a_locked_one_and_an_empty_one(cma: httpx2.AsyncClient) -> None:
    answer = await cma.get("/releases", params={"include_count": "true", "include_items_count": "true"})

    found = answer.json()["releases"]
    assert answer.json()["count"] == 3
    assert sorted((r["locked"], r["items_count"] > 0) for r in found) == [(False, False), (False, True), (True, True)]


async def test_release_answers_have_the_keys_of_the_sdk_fixtures(cma: httpx2.AsyncClient) -> None:
    created = await cma.post("/releases", json={"release": {"name": "Shape", "description": "d"}})
    listed = await cma.get("/releases")
    release_uid = created.json()["release"]["uid"]
    fetched = await cma.get(f"/releases/{release_uid}")
    items = await cma.get(f"/releases/{(await seeded(cma, 'Spring campaign'))['uid']}/items")

    assert created.json().keys() == {"notice", "release"}
    assert created.json()["release"].keys() >= RELEASE_KEYS
    for release in listed.json()["releases"]:
        assert release.keys() >= RELEASE_KEYS
    assert RELEASE_KEYS | {"items"} <= fetched.json()["release"].keys()
    for item in items.json()["items"]:
        assert {key: type(value) for key, value in item.items()} == ITEM_TYPES


async def test_a_release_is_created_read_renamed_and_deleted(cma: httpx2.AsyncClient) -> None:
    release = await create_release(cma)

    fetched = await cma.get(f"/releases/{release['uid']}")
    renamed = await cma.put(f"/releases/{release['uid']}", json={"release": {"name": "Launch v2"}})
    deleted = await cma.delete(f"/releases/{release['uid']}")
    gone = await cma.get(f"/releases/{release['uid']}")

    assert fetched.json()["release"]["items"] == []
    assert fetched.json()["release"]["locked"] is False
    assert renamed.json()["release"]["name"] == "Launch v2"
    assert renamed.json()["release"]["description"] == "For the launch"
    assert deleted.json() == {"notice": "Release deleted successfully."}
    assert (gone.status_code, gone.json()["error_code"]) == (422, endpoint.NOT_FOUND_CODE)


async def test_a_release_needs_a_name(cma: httpx2.AsyncClient) -> None:
    answer = await cma.post("/releases", json={"release": {"name": "  "}})

    assert answer.status_code == 422
    assert answer.json()["error_code"] == endpoint.INVALID_DATA_CODE
    assert "name" in answer.json()["errors"]


async def test_twenty_five_items_are_added_in_one_request_but_twenty_six_are_refused(
    state: SandboxState, cma: httpx2.AsyncClient
) -> None:
    release = await create_release(cma)
    items = blog_items(state, 26)

    refused = await cma.post(f"/releases/{release['uid']}/items", json={"items": items})
    added = await cma.post(f"/releases/{release['uid']}/items", json={"items": items[:25]})
    listed = await cma.get(f"/releases/{release['uid']}/items", params={"include_count": "true", "limit": "10"})

    assert refused.status_code == 422
    assert refused.json()["error_code"] == endpoint.INVALID_DATA_CODE
    assert "items" in refused.json()["errors"]
    assert added.status_code == 200
    assert len(added.json()["release"]["items"]) == 25
    assert listed.json()["count"] == 25
    assert len(listed.json()["items"]) == 10


async def test_an_item_is_added_with_the_entrys_latest_version_and_title_when_none_is_given(
    state: SandboxState, cma: httpx2.AsyncClient
) -> None:
    release = await create_release(cma)
    [item] = blog_items(state, 1)
    with state.db.read() as conn:
        entry = store.get_entry(conn, "blog_post", item["uid"], "en-us")
    assert entry is not None

    answer = await cma.post(f"/releases/{release['uid']}/item", json={"item": item})

    assert answer.json()["notice"] == "Item added to release successfully."
    [stored] = answer.json()["release"]["items"]
    assert (stored["version"], stored["title"]) == (entry["_version"], entry["title"])


@pytest.mark.parametrize(
    "item",
    [
        {"uid": "blt0000000000000000", "content_type_uid": "blog_post", "locale": "en-us", "version": 1},
        {"uid": "FIRST", "content_type_uid": "blog_post", "locale": "en-us", "version": 99},
        {"uid": "FIRST", "content_type_uid": "no_such_type", "locale": "en-us", "version": 1},
        {"uid": "FIRST", "content_type_uid": "blog_post", "locale": "xx-xx", "version": 1},
        {"uid": "blt0000000000000000", "content_type_uid": "built_io_upload", "locale": "en-us"},
        {"uid": "FIRST", "content_type_uid": "blog_post", "locale": "en-us", "action": "archive"},
    ],
)
async def test_an_item_that_does_not_exist_in_that_version_and_locale_is_refused(
    state: SandboxState, cma: httpx2.AsyncClient, item: dict[str, Any]
) -> None:
    release = await create_release(cma)
    [first] = blog_items(state, 1)
    body = {**item, "uid": first["uid"] if item["uid"] == "FIRST" else item["uid"]}

    answer = await cma.post(f"/releases/{release['uid']}/items", json={"items": [body]})

    assert answer.status_code == 422
    assert answer.json()["error_code"] == endpoint.INVALID_DATA_CODE
    assert (await cma.get(f"/releases/{release['uid']}/items")).json()["items"] == []


async def holding_the_first_of_two(
    state: SandboxState, cma: httpx2.AsyncClient
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A new release holding the first of two blog post items: its uid, that item and the other."""
    release = await create_release(cma)
    first, second = blog_items(state, 2)
    await cma.post(f"/releases/{release['uid']}/item", json={"item": first})
    return release["uid"], first, second


async def test_an_item_already_in_the_release_is_refused_and_nothing_of_that_request_is_added(
    state: SandboxState, cma: httpx2.AsyncClient
) -> None:
    uid, first, second = await holding_the_first_of_two(state, cma)

    answer = await cma.post(f"/releases/{uid}/items", json={"items": [second, first]})

    assert answer.status_code == 422
    assert len((await cma.get(f"/releases/{uid}/items")).json()["items"]) == 1


async def test_an_asset_is_an_item_with_the_upload_content_type(state: SandboxState, cma: httpx2.AsyncClient) -> None:
    release = await create_release(cma)
    with state.db.read() as conn:
        asset = store.list_assets(conn)[0]
    item = {"uid": asset["uid"], "content_type_uid": "built_io_upload", "locale": "en-us", "action": "publish"}

    answer = await cma.post(f"/releases/{release['uid']}/item", json={"item": item})

    assert answer.status_code == 200
    assert answer.json()["release"]["items"][0]["version"] == asset["_version"]


async def test_items_are_removed_by_name_or_all_at_once(state: SandboxState, cma: httpx2.AsyncClient) -> None:
    release = await create_release(cma)
    items = blog_items(state, 3)
    await cma.post(f"/releases/{release['uid']}/items", json={"items": items})

    one = await cma.request("DELETE", f"/releases/{release['uid']}/items", json={"items": [items[0]]})
    absent = await cma.request("DELETE", f"/releases/{release['uid']}/items", json={"items": [items[0]]})
    bodiless = await cma.delete(f"/releases/{release['uid']}/items", params={"all": "true"})
    everything = await cma.request(
        "DELETE", f"/releases/{release['uid']}/items", params={"all": "true"}, json={"items": items[1:2]}
    )

    assert [item["uid"] for item in one.json()["release"]["items"]] == [items[1]["uid"], items[2]["uid"]]
    assert absent.status_code == 422
    assert bodiless.status_code == 400  # "CMA | Releases" documents a JSON body for ?all=true
    assert everything.json()["release"]["items"] == []


async def test_update_items_moves_every_item_to_its_latest_version(
    state: SandboxState, cma: httpx2.AsyncClient
) -> None:
    release = await create_release(cma)
    items = blog_items(state, 3, version=1)
    await cma.post(f"/releases/{release['uid']}/items", json={"items": items})
    with state.db.read() as conn:
        latest = [store.latest_entry_version(conn, "blog_post", item["uid"], "en-us") for item in items]
    assert any(version != 1 for version in latest)

    answer = await cma.put(f"/releases/{release['uid']}/update_items", json={"items": ["$all"]})

    assert answer.json()["notice"] == "Release items updated to their latest versions successfully."
    assert [item["version"] for item in answer.json()["release"]["items"]] == latest


async def test_a_locked_release_refuses_every_edit_until_it_is_unlocked(
    state: SandboxState, cma: httpx2.AsyncClient
) -> None:
    uid, first, second = await holding_the_first_of_two(state, cma)
    locked = await cma.put(f"/releases/{uid}", json={"release": {"locked": True}})

    refusals = [
        await cma.post(f"/releases/{uid}/item", json={"item": second}),
        await cma.post(f"/releases/{uid}/items", json={"items": [second]}),
        await cma.request("DELETE", f"/releases/{uid}/items", json={"items": [first]}),
        await cma.request("DELETE", f"/releases/{uid}/items", params={"all": "true"}, json={"items": [first]}),
        await cma.put(f"/releases/{uid}/update_items", json={"items": ["$all"]}),
        await cma.put(f"/releases/{uid}", json={"release": {"name": "Renamed"}}),
        await cma.delete(f"/releases/{uid}"),
    ]
    unlocked = await cma.put(f"/releases/{uid}", json={"release": {"locked": False}})
    added = await cma.post(f"/releases/{uid}/item", json={"item": second})

    assert locked.json()["release"]["locked"] is True
    for refusal in refusals:
        assert refusal.status_code == 422
        assert refusal.json()["error_code"] == releases.LOCKED_CODE
        assert "locked" in refusal.json()["errors"]
    assert unlocked.json()["release"]["locked"] is False
    assert len(added.json()["release"]["items"]) == 2


async def test_deploy_publishes_every_item_to_each_environment_and_records_it(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery
) -> None:
    release = await seeded(cma, "Spring campaign")
    items = (await cma.get(f"/releases/{release['uid']}/items")).json()["items"]
    with state.db.transaction() as conn:
        for item in items:
            kind: store.PublishKind = "asset" if item["content_type_uid"] == store.ASSET_CONTENT_TYPE else "entry"
            content_type = "" if kind == "asset" else item["content_type_uid"]
            for environment in ("staging", "production"):
                store.clear_published(conn, kind, content_type, item["uid"], environment, item["locale"])

    answer = await cma.post(
        f"/releases/{release['uid']}/deploy", json={"release": {"environments": ["staging", "production"]}}
    )

    assert answer.json() == {"notice": "Release sent successfully for deployment."}
    for item in items:
        assert await live_version(cda, item, "staging") == item["version"]
        assert await live_version(cda, item, "production") == item["version"]
    [row] = (await cma.get("/publish-queue", params={"type": "release"}, headers=API_VERSION)).json()["queue"]
    assert (row["action"], row["entry"]["release"]["uid"]) == ("deploy", release["uid"])
    assert row["entry"]["uid"] != release["uid"]  # the row's own reference, as Contentstack's rows have it
    status = (await cma.get(f"/releases/{release['uid']}")).json()["release"]["status"]
    assert {entry["environment_name"] for entry in status} == {"staging", "production"}


async def test_an_unpublish_deploy_takes_every_item_down(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery
) -> None:
    release = await seeded(cma, "Spring campaign")
    items = (await cma.get(f"/releases/{release['uid']}/items")).json()["items"]
    await cma.post(f"/releases/{release['uid']}/deploy", json={"release": {"environments": ["staging"]}})

    await cma.post(
        f"/releases/{release['uid']}/deploy", json={"release": {"environments": ["staging"], "action": "unpublish"}}
    )

    assert [await live_version(cda, item, "staging") for item in items] == [None] * len(items)


async def test_deploying_an_empty_release_or_to_an_unknown_environment_is_refused(cma: httpx2.AsyncClient) -> None:
    empty = await seeded(cma, "Holiday sale")
    full = await seeded(cma, "Spring campaign")

    nothing = await cma.post(f"/releases/{empty['uid']}/deploy", json={"release": {"environments": ["staging"]}})
    nowhere = await cma.post(f"/releases/{full['uid']}/deploy", json={"release": {"environments": ["moon"]}})

    assert (nothing.status_code, nothing.json()["error_code"]) == (422, endpoint.INVALID_DATA_CODE)
    assert "items" in nothing.json()["errors"]
    assert "environments" in nowhere.json()["errors"]
    assert (await cma.get("/publish-queue", headers=API_VERSION)).json()["queue"] == []


async def test_a_locked_release_can_be_deployed(state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery) -> None:
    release = await seeded(cma, "Homepage refresh")
    items = (await cma.get(f"/releases/{release['uid']}/items")).json()["items"]

    answer = await cma.post(f"/releases/{release['uid']}/deploy", json={"release": {"environments": ["development"]}})

    assert answer.status_code == 200
    assert [await live_version(cda, item, "development") for item in items] == [item["version"] for item in items]


async def test_a_scheduled_deploy_fires_on_the_clock_and_can_be_unscheduled(
    state: SandboxState, cma: httpx2.AsyncClient, cda: Delivery, sandbox: RunningSandbox
) -> None:
    release = await create_release(cma)
    [item] = blog_items(state, 1)
    await cma.post(f"/releases/{release['uid']}/item", json={"item": item})
    with state.db.transaction() as conn:
        for environment in ("staging", "production"):
            store.clear_published(conn, "entry", "blog_post", item["uid"], environment, "en-us")
    at = (state.clock.now() + timedelta(hours=2)).isoformat()

    await cma.post(
        f"/releases/{release['uid']}/deploy", json={"release": {"environments": ["staging"], "scheduled_at": at}}
    )
    await cma.post(
        f"/releases/{release['uid']}/deploy", json={"release": {"environments": ["production"], "scheduled_at": at}}
    )
    rows = (await cma.get("/publish-queue", params={"type": "release"}, headers=API_VERSION)).json()["queue"]
    with state.db.read() as conn:
        production_uid = store.environment_uid(conn, "production")
    [production_row] = [row for row in rows if row["environment"] == [production_uid]]
    cancelled = await cma.get(f"/publish-queue/{production_row['uid']}/unschedule", headers=API_VERSION)
    await advance_clock(cma, sandbox, 2 * 3600 + 1)

    assert cancelled.json() == {"notice": "Release unscheduled successfully."}
    assert await live_version(cda, {**item, "locale": "en-us"}, "staging") is not None
    assert await live_version(cda, {**item, "locale": "en-us"}, "production") is None


async def test_a_clone_copies_the_items_under_a_new_name_unlocked(cma: httpx2.AsyncClient) -> None:
    source = await seeded(cma, "Homepage refresh")
    source_items = (await cma.get(f"/releases/{source['uid']}/items")).json()["items"]

    answer = await cma.post(f"/releases/{source['uid']}/clone", json={"release": {"name": "Homepage refresh (copy)"}})

    clone = answer.json()["release"]
    assert answer.json()["notice"] == "Release cloned successfully."
    assert clone["uid"] != source["uid"]
    assert (clone["name"], clone["locked"]) == ("Homepage refresh (copy)", False)
    assert clone["items"] == source_items
    assert len(await all_releases(cma)) == 4


async def test_release_routes_need_the_cma_credentials(cma: httpx2.AsyncClient) -> None:
    answer = await cma.get("/releases", headers={"api_key": "wrong"})

    assert answer.status_code == 412
    assert answer.json()["error_code"] == 109
