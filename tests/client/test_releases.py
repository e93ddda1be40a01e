"""The releases area of the client against httpx2.MockTransport and Contentstack's own fixtures."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import httpx2
import pytest

from cs_mcp.client import ContentstackClient, NotFoundError, PermitRequiredError
from cs_mcp.client._releases import ASSET_CONTENT_TYPE, ReleaseArgumentError, ReleaseItem
from cs_mcp.config import Settings
from cs_mcp.guard import Permit, PermitAuthority
from tests.client._mock import MANAGEMENT, Handler, mock_client
from tests.helpers import sdk_fixture

pytestmark = pytest.mark.anyio

# Contentstack's answers as its management SDK's test fixtures record them.


def fixture(name: str) -> dict[str, Any]:
    return sdk_fixture(name if name.endswith(".json") else f"{name}.json")


class Recorder:
    """Answers each request with the next canned answer and keeps what was sent."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return httpx2.Response(status, json=body)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def make_client(handler: Handler) -> ContentstackClient:
    return mock_client(handler, MANAGEMENT)


def permit(client: ContentstackClient, operation: str, targets: Mapping[str, Iterable[str]]) -> Permit:
    """A permit for `operation` on `targets` (on the main branch), from the client's authority."""
    return client.permits.issue("tester", "test", operation, {**targets, "branch": ["main"]})


def entry_item(uid: str, ct: str = "blog_post", locale: str = "en-us", version: int = 1) -> ReleaseItem:
    return ReleaseItem(uid=uid, content_type_uid=ct, locale=locale, version=version, action="publish")


async def test_list_asks_for_counts_and_reads_contentstacks_answer() -> None:
    answer = {**fixture("mock_releases/find.json"), "count": 2}
    rec = Recorder((200, answer))
    async with make_client(rec) as client:
        page = await client.releases.list(skip=0, limit=10)
    sent = rec.requests[0]
    assert sent.method == "GET"
    assert sent.url.path == "/v3/releases"
    assert sent.url.params["include_count"] == "true"
    assert sent.url.params["include_items_count"] == "true"
    assert sent.url.params["limit"] == "10"
    assert [r.name for r in page.items] == ["testing", "New Clone Name"]
    assert page.total == 2
    assert page.next_skip is None


async def test_get_release_reads_one_release_and_a_missing_one_is_not_found() -> None:
    rec = Recorder(
        (200, fixture("mock_releases/fetch.json")),
        (422, {"error_message": "The requested object doesn't exist.", "error_code": 141}),
    )
    async with make_client(rec) as client:
        release = await client.releases.get_release("release_uid")
        with pytest.raises(NotFoundError) as caught:
            await client.releases.get_release("nope")
    assert release.uid == "release_uid"
    assert release.locked is False
    assert caught.value.error_code == 141
    assert rec.requests[1].url.path == "/v3/releases/nope"


async def test_items_pages_follow_until_the_count_is_reached() -> None:
    def page(n: int, start: int) -> dict[str, Any]:
        items = [
            {"uid": f"e{i}", "version": 1, "locale": "en-us", "content_type_uid": "blog_post", "action": "publish"}
            for i in range(start, start + n)
        ]
        return {"items": items, "count": 130}

    rec = Recorder((200, page(100, 0)), (200, page(30, 100)))
    async with make_client(rec) as client:
        items = await client.releases.all_items("rel1")
    assert len(items) == 130
    assert [r.url.params["skip"] for r in rec.requests] == ["0", "100"]
    assert rec.requests[0].url.path == "/v3/releases/rel1/items"


async def test_item_pages_stop_when_a_page_adds_nothing_new() -> None:
    repeated = {
        "items": [{"uid": "e1", "version": 1, "locale": "en-us", "content_type_uid": "blog_post", "action": "publish"}],
        "count": 5000,  # a server that ignores skip and promises more
    }
    rec = Recorder((200, repeated))
    async with make_client(rec) as client:
        items = await client.releases.all_items("rel1")
    assert [i.uid for i in items] == ["e1"]
    assert len(rec.requests) == 2


async def test_content_type_pages_stop_when_a_page_adds_nothing_new() -> None:
    rec = Recorder((200, {"content_types": [{"uid": "blog_post", "title": "Blog post"}], "count": 5000}))
    async with make_client(rec) as client:
        found = await client.stack.all_content_types()
    assert [ct.uid for ct in found] == ["blog_post"]
    assert len(rec.requests) == 2


async def test_items_reads_the_documented_item_shape() -> None:
    rec = Recorder((200, fixture("mock_release_items/find.json")))
    async with make_client(rec) as client:
        page = await client.releases.items("release_uid", limit=5)
    item = page.items[0]
    assert (item.uid, item.content_type_uid, item.locale, item.version, item.action) == (
        "items_uid",
        "text_section",
        "en-us",
        1,
        "publish",
    )
    assert not item.is_asset


async def test_create_sends_the_documented_body_with_a_permit() -> None:
    rec = Recorder((200, fixture("mock_releases/create.json")))
    async with make_client(rec) as client:
        release = await client.releases.create(
            "Release_Name", "2023-09-27", permit=permit(client, "release.create", {})
        )
    assert rec.requests[0].method == "POST"
    assert rec.body() == {
        "release": {"name": "Release_Name", "description": "2023-09-27", "locked": False, "archived": False}
    }
    assert release.uid == "release_uid"


async def test_a_write_without_a_permit_for_its_operation_sends_nothing() -> None:
    rec = Recorder((200, fixture("mock_releases/create.json")))
    async with make_client(rec) as client:
        wrong = permit(client, "release.delete", {"release": ["r1"]})
        with pytest.raises(PermitRequiredError):
            await client.releases.create("n", None, permit=wrong)
    assert rec.requests == []


async def test_update_sends_only_the_fields_given_and_needs_the_releases_permit() -> None:
    rec = Recorder((200, fixture("mock_releases/update.json")))
    async with make_client(rec) as client:
        mine = permit(client, "release.update", {"release": ["r1"]})
        await client.releases.update("r1", locked=True, permit=mine)
        with pytest.raises(PermitRequiredError):
            await client.releases.update("r2", locked=True, permit=mine)
        with pytest.raises(ReleaseArgumentError):
            await client.releases.update("r1", permit=mine)
    assert len(rec.requests) == 1
    assert rec.requests[0].method == "PUT"
    assert rec.requests[0].url.path == "/v3/releases/r1"
    assert rec.body() == {"release": {"locked": True}}


async def test_add_items_refuses_more_than_25_before_sending() -> None:
    rec = Recorder((200, fixture("mock_release_items/create_multiple.json")))
    items = [entry_item(f"e{i}") for i in range(26)]
    async with make_client(rec) as client:
        granted = permit(
            client, "release.add_items", {"release": ["r1"], "content_type": ["blog_post"], "locale": ["en-us"]}
        )
        with pytest.raises(ReleaseArgumentError):
            await client.releases.add_items("r1", items, permit=granted)
        notice = await client.releases.add_items("r1", items[:25], permit=granted)
    assert len(rec.requests) == 1
    assert rec.requests[0].url.path == "/v3/releases/r1/items"
    sent = rec.body()["items"]
    assert len(sent) == 25
    assert sent[0] == {
        "uid": "e0",
        "content_type_uid": "blog_post",
        "version": 1,
        "locale": "en-us",
        "action": "publish",
    }
    assert notice.startswith("Item(s) send")


async def test_add_items_needs_a_permit_covering_every_items_content_type_and_locale() -> None:
    rec = Recorder((200, fixture("mock_release_items/create_multiple.json")))
    items = [entry_item("e1"), entry_item("e2", ct="product", locale="fr-fr")]
    async with make_client(rec) as client:
        narrow = permit(
            client, "release.add_items", {"release": ["r1"], "content_type": ["blog_post"], "locale": ["en-us"]}
        )
        with pytest.raises(PermitRequiredError):
            await client.releases.add_items("r1", items, permit=narrow)
    assert rec.requests == []


async def test_an_asset_item_needs_no_content_type_in_the_permit() -> None:
    rec = Recorder((200, fixture("mock_release_items/create.json")))
    asset = ReleaseItem(uid="a1", content_type_uid=ASSET_CONTENT_TYPE, locale="en-us", version=2, action="publish")
    async with make_client(rec) as client:
        granted = permit(client, "release.add_items", {"release": ["r1"], "locale": ["en-us"]})
        await client.releases.add_items("r1", [asset], permit=granted)
    assert rec.body()["items"][0]["content_type_uid"] == "built_io_upload"


async def test_remove_all_items_sends_all_true_with_the_documented_json_body() -> None:
    rec = Recorder((200, fixture("mock_release_items/delete.json")))
    items = [entry_item("e1", version=3), entry_item("e2", ct="author")]
    async with make_client(rec) as client:
        narrow = permit(client, "release.remove_items", {"release": ["r1"]})
        with pytest.raises(PermitRequiredError):
            await client.releases.remove_items("r1", items, all=True, permit=narrow)
        granted = permit(
            client,
            "release.remove_items",
            {"release": ["r1"], "content_type": ["author", "blog_post"], "locale": ["en-us"]},
        )
        await client.releases.remove_items("r1", items, all=True, permit=granted)
        with pytest.raises(ReleaseArgumentError):
            await client.releases.remove_items("r1", permit=granted)
    (sent,) = rec.requests
    assert (sent.method, sent.url.path, sent.url.params["all"]) == ("DELETE", "/v3/releases/r1/items", "true")
    assert sent.headers["content-type"] == "application/json"
    assert rec.body() == {"items": [i.body() for i in items]}


async def test_remove_items_sends_the_items_in_the_body() -> None:
    rec = Recorder((200, fixture("mock_release_items/delete.json")))
    async with make_client(rec) as client:
        granted = permit(
            client, "release.remove_items", {"release": ["r1"], "content_type": ["blog_post"], "locale": ["en-us"]}
        )
        await client.releases.remove_items("r1", [entry_item("e1", version=3)], permit=granted)
    assert rec.requests[0].method == "DELETE"
    assert rec.body() == {
        "items": [{"uid": "e1", "content_type_uid": "blog_post", "version": 3, "locale": "en-us", "action": "publish"}]
    }


async def test_deploy_sends_the_documented_body_and_the_permit_covers_environments_and_items() -> None:
    rec = Recorder((200, fixture("mock_releases/deploy.json")))
    items = [entry_item("e1"), entry_item("e2", ct="author")]
    async with make_client(rec) as client:
        granted = permit(
            client,
            "release.deploy",
            {
                "release": ["r1"],
                "environment": ["staging"],
                "content_type": ["blog_post", "author"],
                "locale": ["en-us"],
            },
        )
        notice = await client.releases.deploy(
            "r1",
            environments=["staging"],
            locales=["en-us"],
            scheduled_at="2030-01-01T00:00:00Z",
            items=items,
            permit=granted,
        )
        with pytest.raises(PermitRequiredError):
            await client.releases.deploy("r1", environments=["production"], items=items, permit=granted)
        with pytest.raises(PermitRequiredError):
            await client.releases.deploy(
                "r1", environments=["staging"], items=[*items, entry_item("p1", ct="product")], permit=granted
            )
    assert len(rec.requests) == 1
    assert rec.requests[0].url.path == "/v3/releases/r1/deploy"
    assert rec.body() == {
        "release": {
            "environments": ["staging"],
            "action": "publish",
            "locales": ["en-us"],
            "scheduled_at": "2030-01-01T00:00:00Z",
        }
    }
    assert notice == "Release sent successfully for deployment."


async def test_clone_and_delete_name_the_source_release() -> None:
    rec = Recorder((200, fixture("mock_releases/clone.json")), (200, fixture("mock_releases/delete.json")))
    async with make_client(rec) as client:
        copy = await client.releases.clone(
            "r1", "New_Name", None, permit=permit(client, "release.clone", {"release": ["r1"]})
        )
        notice = await client.releases.delete("r1", permit=permit(client, "release.delete", {"release": ["r1"]}))
    assert rec.requests[0].url.path == "/v3/releases/r1/clone"
    assert json.loads(rec.requests[0].content) == {"release": {"name": "New_Name"}}
    assert copy.name == "New_Name"
    assert rec.requests[1].method == "DELETE"
    assert notice == "Release deleted successfully."


async def test_latest_versions_read_the_entry_in_its_locale_and_the_asset() -> None:
    rec = Recorder(
        (200, {"entry": {"uid": "e1", "_version": 7, "locale": "fr-fr", "publish_details": []}}),
        (200, {"asset": {"uid": "a1", "_version": 3}}),
    )
    async with make_client(rec) as client:
        entry_version = await client.releases.latest_entry_version("blog_post", "e1", "fr-fr")
        asset_version = await client.releases.latest_asset_version("a1")
    assert entry_version == 7
    assert asset_version == 3
    assert rec.requests[0].url.path == "/v3/content_types/blog_post/entries/e1"
    assert rec.requests[0].url.params["locale"] == "fr-fr"
    assert rec.requests[1].url.path == "/v3/assets/a1"


async def test_the_release_version_header_is_sent_by_default_and_omitted_when_the_setting_is_empty() -> None:
    rec = Recorder(
        (200, fixture("mock_releases/fetch.json")),
        (200, fixture("mock_releases/find.json")),
        (200, fixture("mock_release_items/find.json")),
    )
    async with make_client(rec) as client:
        await client.releases.get_release("r1")
        await client.releases.list()
        await client.releases.items("r1")
    assert [r.headers.get("release_version") for r in rec.requests] == ["2.0"] * 3
    env = {"CONTENTSTACK_API_KEY": "blt_key_value", "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_management_secret"}
    omitted = Settings.from_env({**env, "CS_MCP_RELEASE_VERSION": ""})
    assert Settings.from_env(env).client_config().release_version == "2.0"
    assert omitted.client_config().release_version is None
    assert Settings.from_env({**env, "CS_MCP_RELEASE_VERSION": "3.0"}).client_config().release_version == "3.0"
    rec = Recorder((200, fixture("mock_releases/fetch.json")))
    async with ContentstackClient(
        omitted.client_config(), permits=PermitAuthority(), transport=httpx2.MockTransport(rec)
    ) as client:
        await client.releases.get_release("r1")
    assert "release_version" not in rec.requests[0].headers
