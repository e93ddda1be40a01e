"""The sandbox's CDA: only what was published, per environment and locale, in that version."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable

import httpx2
import pytest

from cs_mcp.sandbox import store
from cs_mcp.sandbox.runner import RunningSandbox

pytestmark = pytest.mark.anyio

CdaFor = Callable[[str], httpx2.AsyncClient]


@pytest.fixture
async def cda(sandbox: RunningSandbox) -> AsyncGenerator[CdaFor]:
    """Clients to the CDA, one per environment, each with that environment's delivery token."""
    clients: list[httpx2.AsyncClient] = []

    def client_for(environment: str) -> httpx2.AsyncClient:
        creds = sandbox.credentials
        headers = {"api_key": creds.api_key, "access_token": creds.delivery_tokens[environment]}
        client = httpx2.AsyncClient(
            base_url=f"{sandbox.base_url}/cdn/v3", headers=headers, params={"environment": environment}
        )
        clients.append(client)
        return client

    yield client_for
    for client in clients:
        await client.aclose()


def _new_author(sandbox: RunningSandbox, uid: str, versions: int, locale: str = "en-us") -> None:
    with sandbox.state.db.transaction() as conn:
        for version in range(1, versions + 1):
            store.save_entry(
                conn,
                "author",
                {
                    "uid": uid,
                    "locale": locale,
                    "_version": version,
                    "title": f"Version {version} of {uid} in {locale}",
                    "created_at": "2025-01-01T00:00:00.000Z",
                    "updated_at": f"2025-01-0{version}T00:00:00.000Z",
                    "tags": [],
                },
            )


def _publish(sandbox: RunningSandbox, uid: str, environment: str, locale: str, version: int) -> None:
    with sandbox.state.db.transaction() as conn:
        store.set_published(conn, "entry", "author", uid, environment, locale, version, "2025-01-05T00:00:00.000Z", "u")


async def test_an_entry_is_served_only_where_it_was_published_in_the_published_version(
    sandbox: RunningSandbox, cda: CdaFor
) -> None:
    _new_author(sandbox, "blttestauthor", versions=3)
    path = "/content_types/author/entries/blttestauthor"
    staging, production = cda("staging"), cda("production")
    unpublished = await staging.get(path)
    assert unpublished.status_code == 422
    assert unpublished.json()["error_code"] == 141
    _publish(sandbox, "blttestauthor", "staging", "en-us", 2)
    served = (await staging.get(path)).json()["entry"]
    assert served["_version"] == 2
    assert served["title"] == "Version 2 of blttestauthor in en-us"
    assert served["publish_details"]["locale"] == "en-us"
    assert (await production.get(path)).status_code == 422
    assert (await staging.get(path, params={"locale": "fr-fr"})).status_code == 422
    with sandbox.state.db.transaction() as conn:
        store.clear_published(conn, "entry", "author", "blttestauthor", "staging", "en-us")
    assert (await staging.get(path)).status_code == 422


async def test_a_locale_is_served_from_its_own_publication_or_through_fallback(
    sandbox: RunningSandbox, cda: CdaFor
) -> None:
    _new_author(sandbox, "bltbilingual", versions=1)
    _new_author(sandbox, "bltbilingual", versions=1, locale="fr-fr")
    _publish(sandbox, "bltbilingual", "development", "en-us", 1)
    development = cda("development")
    path = "/content_types/author/entries/bltbilingual"
    assert (await development.get(path, params={"locale": "fr-fr"})).status_code == 422
    fallback = await development.get(path, params={"locale": "fr-fr", "include_fallback": "true"})
    assert fallback.json()["entry"]["locale"] == "en-us"
    _publish(sandbox, "bltbilingual", "development", "fr-fr", 1)
    french = await development.get(path, params={"locale": "fr-fr"})
    assert french.json()["entry"]["title"] == "Version 1 of bltbilingual in fr-fr"


async def test_lists_hold_exactly_the_published_entries_of_the_environment(
    sandbox: RunningSandbox, cda: CdaFor
) -> None:
    for environment in ("development", "staging", "production"):
        with sandbox.state.db.read() as conn:
            expected = dict(store.published_uids(conn, "entry", "blog_post", environment, "en-us"))
        answer = await cda(environment).get("/content_types/blog_post/entries", params={"include_count": "true"})
        body = answer.json()
        assert body["count"] == len(expected)
        assert {e["uid"]: e["_version"] for e in body["entries"]} == expected


async def test_the_production_seed_pins_some_entries_to_an_older_version(sandbox: RunningSandbox, cda: CdaFor) -> None:
    entries = (await cda("production").get("/content_types/blog_post/entries")).json()["entries"]
    with sandbox.state.db.read() as conn:
        latest = {e["uid"]: e["_version"] for e in store.list_entries(conn, "blog_post", "en-us")}
    assert any(e["_version"] < latest[e["uid"]] for e in entries)


async def test_queries_paging_and_projection_work_on_published_entries(cda: CdaFor) -> None:
    development = cda("development")
    query = json.dumps({"reading_minutes": {"$gte": 8}})
    found = (await development.get("/content_types/blog_post/entries", params={"query": query})).json()["entries"]
    assert found
    assert all(e["reading_minutes"] >= 8 for e in found)
    page = await development.get(
        "/content_types/blog_post/entries",
        params={"limit": 2, "skip": 1, "asc": "title", "only[BASE][]": "title", "include_count": "true"},
    )
    body = page.json()
    assert len(body["entries"]) == 2
    assert all(set(e) == {"uid", "title"} for e in body["entries"])
    assert (await development.get("/content_types/blog_post/entries", params={"limit": 101})).status_code == 400
    assert (await development.get("/content_types/blog_post/entries", params={"query": "{"})).status_code == 400


async def test_include_expands_only_references_published_in_the_same_environment(
    sandbox: RunningSandbox, cda: CdaFor
) -> None:
    development = cda("development")
    posts = (await development.get("/content_types/blog_post/entries", params={"include[]": "author"})).json()
    with sandbox.state.db.read() as conn:
        live_authors = dict(store.published_uids(conn, "entry", "author", "development", "en-us"))
    for post in posts["entries"]:
        for author in post["author"]:
            assert author["uid"] in live_authors
            assert author["_version"] == live_authors[author["uid"]]
    assert any(not post["author"] for post in posts["entries"]), "some authors are not live in development"
    too_many = await development.get("/content_types/blog_post/entries", params={"include[]": ["author"] * 11})
    assert too_many.status_code == 400


async def test_file_fields_are_served_as_the_published_assets(sandbox: RunningSandbox, cda: CdaFor) -> None:
    pages = (await cda("production").get("/content_types/page/entries")).json()["entries"]
    hero_images = [s["hero"]["image"] for p in pages for s in p["sections"] if "hero" in s]
    assert hero_images
    assert all(image is None or image["filename"] for image in hero_images)


async def test_assets_are_served_only_where_published(sandbox: RunningSandbox, cda: CdaFor) -> None:
    for environment in ("development", "production"):
        with sandbox.state.db.read() as conn:
            expected = dict(store.published_uids(conn, "asset", "", environment, "en-us"))
        client = cda(environment)
        listed = (await client.get("/assets", params={"include_count": "true"})).json()
        assert {a["uid"]: a["_version"] for a in listed["assets"]} == expected
        with sandbox.state.db.read() as conn:
            unpublished = [a["uid"] for a in store.list_assets(conn) if a["uid"] not in expected]
        assert (await client.get(f"/assets/{unpublished[0]}")).status_code == 422
        one = next(iter(expected))
        assert (await client.get(f"/assets/{one}")).json()["asset"]["uid"] == one


async def test_the_environment_parameter_is_required_and_content_types_must_exist(
    sandbox: RunningSandbox, cda: CdaFor
) -> None:
    creds = sandbox.credentials
    headers = {"api_key": creds.api_key, "access_token": creds.delivery_tokens["development"]}
    async with httpx2.AsyncClient(base_url=f"{sandbox.base_url}/cdn/v3", headers=headers) as http:
        missing = await http.get("/content_types/page/entries")
    assert missing.status_code == 400
    assert missing.json()["errors"]["environment"]
    unknown = await cda("development").get("/content_types/recipe/entries")
    assert unknown.status_code == 422
    definition = await cda("development").get("/content_types/page")
    assert definition.json()["content_type"]["uid"] == "page"


async def test_the_cda_lists_content_types_with_a_count(cda: CdaFor) -> None:
    answer = await cda("staging").get("/content_types", params={"include_count": "true", "limit": 2})

    assert answer.status_code == 200
    body = answer.json()
    assert len(body["content_types"]) == 2
    assert body["count"] >= 4
