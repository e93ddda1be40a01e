"""EntriesAPI against httpx2.MockTransport: what is sent to the CMA and the CDA, and how the
answers (in the shapes of the SDK fixtures) are read."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx2
import pytest

from cs_mcp.client import (
    ContentstackClient,
    MalformedResponseError,
    NotFoundError,
    PermitRequiredError,
)
from cs_mcp.guard import PermitAuthority
from tests.client._mock import MANAGEMENT, Handler, Recorder, mock_client
from tests.helpers import sdk_fixture

pytestmark = pytest.mark.anyio

CONFIG = replace(
    MANAGEMENT,
    delivery_tokens={"development": "cs_dev_token", "production": "cs_prod_token"},
    default_environment="development",
)


def make_client(handler: Handler, authority: PermitAuthority | None = None) -> ContentstackClient:
    return mock_client(handler, CONFIG, permits=authority)


def params(request: httpx2.Request) -> list[tuple[str, str]]:
    return list(request.url.params.multi_items())


async def test_a_draft_query_goes_to_the_cma_with_count_publish_details_and_every_option() -> None:
    rec = Recorder(lambda _r: httpx2.Response(200, json={**sdk_fixture("mock_entries/get_all.json"), "count": 1}))
    async with make_client(rec) as client:
        page = await client.entries.query(
            "blog_post",
            locale="fr-fr",
            query={"title": {"$regex": "^é", "$options": "i"}},
            only=["title", "url"],
            include=["author"],
            sort=("updated_at", "desc"),
            skip=25,
            limit=25,
        )
    (request,) = rec.requests
    assert request.url.host == "api.contentstack.io"
    assert request.url.path == "/v3/content_types/blog_post/entries"
    sent = params(request)
    assert ("include_count", "true") in sent
    assert ("include_publish_details", "true") in sent
    assert ("locale", "fr-fr") in sent
    assert ("skip", "25") in sent
    assert ("limit", "25") in sent
    assert ("only[BASE][]", "title") in sent
    assert ("only[BASE][]", "url") in sent
    assert ("include[]", "author") in sent
    assert ("desc", "updated_at") in sent
    assert json.loads(dict(sent)["query"]) == {"title": {"$regex": "^é", "$options": "i"}}
    assert "environment" not in dict(sent)
    assert request.headers["authorization"] == "cs_management_secret"
    assert page.total == 1
    assert page.items[0].uid == "entry-uid"
    assert page.items[0].version == 4


async def test_a_published_query_goes_to_the_cda_with_the_environment_and_its_delivery_token() -> None:
    rec = Recorder(lambda _r: httpx2.Response(200, json={"entries": [], "count": 0}))
    async with make_client(rec) as client:
        page = await client.entries.query("blog_post", source="published", environment="production")
    (request,) = rec.requests
    assert request.url.host == "cdn.contentstack.io"
    assert ("environment", "production") in params(request)
    assert request.headers["access_token"] == "cs_prod_token"
    assert "include_publish_details" not in dict(params(request))
    assert page.items == []
    assert page.total == 0


async def test_a_published_read_without_an_environment_uses_the_configured_one() -> None:
    rec = Recorder(lambda _r: httpx2.Response(200, json={"entry": {"uid": "blt1", "_version": 2}}))
    async with make_client(rec) as client:
        entry = await client.entries.get("blog_post", "blt1", source="published")
    assert ("environment", "development") in params(rec.requests[0])
    assert rec.requests[0].headers["access_token"] == "cs_dev_token"
    assert entry.version == 2


async def test_get_sends_version_and_locale_with_the_uid_as_its_own_segment() -> None:
    rec = Recorder(lambda _r: httpx2.Response(200, json={"entry": sdk_fixture("mock_entries/export.json")}))
    async with make_client(rec) as client:
        entry = await client.entries.get("blog_post", "blt0123abcd", locale="en-us", version=3, only=["title"])
    request = rec.requests[0]
    assert request.url.raw_path.decode().startswith("/v3/content_types/blog_post/entries/blt0123abcd?")
    assert ("version", "3") in params(request)
    assert ("only[BASE][]", "title") in params(request)
    assert entry.title == "Home"
    assert entry.version == 3


async def test_a_missing_entry_is_not_found() -> None:
    def missing(_r: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(422, json={"error_message": "The requested object doesn't exist.", "error_code": 141})

    async with make_client(missing) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.entries.get("blog_post", "nope")
    assert caught.value.error_code == 141


async def test_an_answer_without_entries_is_malformed() -> None:
    async with make_client(lambda _r: httpx2.Response(200, json={"unexpected": []})) as client:
        with pytest.raises(MalformedResponseError):
            await client.entries.query("blog_post")


async def test_latest_versions_asks_for_uids_in_pieces_of_one_hundred() -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        uids = json.loads(dict(params(request))["query"])["uid"]["$in"]
        return httpx2.Response(200, json={"entries": [{"uid": u, "_version": 2} for u in uids if u != "blt7"]})

    rec = Recorder(answer)
    uids = [f"blt{i}" for i in range(150)]
    async with make_client(rec) as client:
        versions = await client.entries.latest_versions("blog_post", [*uids, "blt1"], locale="fr-fr")
    assert len(rec.requests) == 2
    assert all(("locale", "fr-fr") in params(r) for r in rec.requests)
    assert len(json.loads(dict(params(rec.requests[0]))["query"])["uid"]["$in"]) == 100
    assert len(versions) == 149
    assert "blt7" not in versions


async def test_writes_without_a_permit_send_nothing() -> None:
    rec = Recorder(lambda _r: httpx2.Response(200, json={"entry": {"uid": "x"}}))
    async with make_client(rec) as client:
        with pytest.raises(PermitRequiredError):
            await client.entries.create("blog_post", {"title": "t"}, locale="en-us", permit=None)
        with pytest.raises(PermitRequiredError):
            await client.entries.update("blog_post", "x", {"title": "t"}, locale="en-us", permit=None)
        with pytest.raises(PermitRequiredError):
            await client.entries.delete("blog_post", "x", locale="en-us", permit=None)
    assert rec.requests == []


async def test_a_permit_for_another_content_type_does_not_cover_the_write() -> None:
    authority = PermitAuthority()
    permit = authority.issue("local", "create_entry", "entry.create", {"content_type": ["author"], "locale": ["en-us"]})
    rec = Recorder(lambda _r: httpx2.Response(200, json={"entry": {"uid": "x"}}))
    async with make_client(rec, authority) as client:
        with pytest.raises(PermitRequiredError):
            await client.entries.create("blog_post", {"title": "t"}, locale="en-us", permit=permit)
    assert rec.requests == []


async def test_create_update_and_delete_send_the_documented_requests() -> None:
    authority = PermitAuthority()
    targets = {"content_type": ["blog_post"], "locale": ["en-us"], "branch": ["main"]}

    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.method == "DELETE":
            return httpx2.Response(200, json={"notice": "Entry deleted successfully."})
        body = json.loads(request.content)
        version = 1 if request.method == "POST" else 4
        return httpx2.Response(
            200, json={"notice": "ok", "entry": {"uid": "blt1", **body["entry"], "_version": version}}
        )

    create, update, delete = (
        authority.issue("local", f"{action}_entry", f"entry.{action}", targets)
        for action in ("create", "update", "delete")
    )
    rec = Recorder(answer)
    async with make_client(rec, authority) as client:
        created = await client.entries.create("blog_post", {"title": "New"}, locale="en-us", permit=create)
        updated = await client.entries.update("blog_post", "blt1", {"title": "Newer"}, locale="en-us", permit=update)
        notice = await client.entries.delete("blog_post", "blt1", locale="en-us", permit=delete)
    post, put, delete = rec.requests
    assert (post.method, post.url.path) == ("POST", "/v3/content_types/blog_post/entries")
    assert json.loads(post.content) == {"entry": {"title": "New"}}
    assert post.headers["content-type"] == "application/json"
    assert (put.method, put.url.path) == ("PUT", "/v3/content_types/blog_post/entries/blt1")
    assert ("locale", "en-us") in params(put)
    assert (delete.method, delete.url.path) == ("DELETE", "/v3/content_types/blog_post/entries/blt1")
    assert created.version == 1
    assert updated.title == "Newer"
    assert updated.version == 4
    assert notice == "Entry deleted successfully."


async def test_assets_are_read_in_the_shape_of_the_fixtures() -> None:
    rec = Recorder(lambda _r: httpx2.Response(200, json=sdk_fixture("mock_assets/specific_folder.json")))
    async with make_client(rec) as client:
        page = await client.entries.assets(query={"is_dir": False}, folder="blt0011b00e11ae001f", only=["title"])
    sent = params(rec.requests[0])
    assert rec.requests[0].url.path == "/v3/assets"
    assert ("folder", "blt0011b00e11ae001f") in sent
    assert ("only[BASE][]", "title") in sent
    assert json.loads(dict(sent)["query"]) == {"is_dir": False}
    assert [a.filename for a in page.items] == ["Sample File", "Sample File 2"]
    assert page.items[0].version == 1
    assert page.total is None


async def test_asset_publish_details_of_the_fixture_are_kept() -> None:
    rec = Recorder(lambda _r: httpx2.Response(200, json=sdk_fixture("mock_assets/asset_type.json")))
    async with make_client(rec) as client:
        page = await client.entries.assets()
    details = page.items[0].publish_details
    assert isinstance(details, list)
    assert details[0].locale == "en-us"


async def test_latest_asset_versions_reads_the_version_of_each_asset_found() -> None:
    rec = Recorder(lambda _r: httpx2.Response(200, json=sdk_fixture("mock_assets/specific_folder.json")))
    async with make_client(rec) as client:
        versions = await client.entries.latest_asset_versions(["bltabc555e5a5b55b5d", "blt_missing"])
    assert versions == {"bltabc555e5a5b55b5d": 1}
    assert json.loads(dict(params(rec.requests[0]))["query"]) == {
        "uid": {"$in": ["bltabc555e5a5b55b5d", "blt_missing"]}
    }


@pytest.mark.parametrize(("total", "stored"), [(5, 5), (None, 5), (7, 5)])
async def test_each_follows_the_pages_until_the_count_is_reached_or_a_page_is_empty(
    total: int | None, stored: int
) -> None:
    # Two a page; `total` as the CMA counts it (None: not counted; 7: more than it then answers).
    def answer(request: httpx2.Request) -> httpx2.Response:
        skip = int(request.url.params["skip"])
        entries = [{"uid": f"e{i}", "locale": "fr-fr"} for i in range(skip, min(skip + 2, stored))]
        return httpx2.Response(200, json={"entries": entries, **({"count": total} if total is not None else {})})

    rec = Recorder(answer)
    async with make_client(rec) as client:
        found = [entry.uid async for entry in client.entries.each("blog", locale="fr-fr", limit=2)]
    assert found == ["e0", "e1", "e2", "e3", "e4"]
    skips = [int(r.url.params["skip"]) for r in rec.requests]
    # A short page ends an uncounted list; a count the pages never reach ends at the empty page.
    assert skips == ([0, 2, 4, 5] if total == 7 else [0, 2, 4])
