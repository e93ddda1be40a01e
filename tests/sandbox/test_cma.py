"""The sandbox's CMA over loopback: content types, entries CRUD and versions, locales, queries,
projections, references, assets, environments and locales."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from cs_mcp.sandbox import store
from cs_mcp.sandbox.runner import RunningSandbox

pytestmark = pytest.mark.anyio

ENTRIES = "/cma/v3/content_types/{ct}/entries"


async def _entries(http: httpx2.AsyncClient, ct: str, **params: Any) -> dict[str, Any]:
    answer = await http.get(ENTRIES.format(ct=ct), params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _all_entries(http: httpx2.AsyncClient, ct: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = (await _entries(http, ct, skip=len(found), limit=100, **params))["entries"]
        found += page
        if len(page) < 100:
            return found


async def test_content_types_list_with_count_and_paging(sandbox_http: httpx2.AsyncClient) -> None:
    answer = (await sandbox_http.get("/cma/v3/content_types", params={"include_count": "true", "limit": 2})).json()
    assert answer["count"] == 4
    assert len(answer["content_types"]) == 2
    one = (await sandbox_http.get("/cma/v3/content_types/blog_post")).json()["content_type"]
    types = {field["uid"]: field["data_type"] for field in one["schema"]}
    assert types["author"] == "reference"
    assert types["seo"] == "group"
    assert types["publish_date"] == "isodate"


async def test_an_unknown_content_type_answers_422_code_118(sandbox_http: httpx2.AsyncClient) -> None:
    for path in ("/cma/v3/content_types/recipe", ENTRIES.format(ct="recipe")):
        answer = await sandbox_http.get(path)
        assert answer.status_code == 422
        assert answer.json()["error_code"] == 118


async def test_creating_answers_version_1_and_each_update_raises_the_version(sandbox_http: httpx2.AsyncClient) -> None:
    created = await sandbox_http.post(
        ENTRIES.format(ct="product"),
        json={"entry": {"title": "Test Kettle", "sku": "SKU-TEST-1", "price": 42.5, "unknown_field": 1}},
    )
    assert created.status_code == 201
    body = created.json()
    assert body["notice"] == "Entry created successfully."
    entry = body["entry"]
    assert entry["_version"] == 1
    assert entry["locale"] == "en-us"
    assert "unknown_field" not in entry
    uid = entry["uid"]
    for expected in (2, 3):
        updated = await sandbox_http.put(f"{ENTRIES.format(ct='product')}/{uid}", json={"entry": {"price": expected}})
        assert updated.status_code == 200
        assert updated.json()["entry"]["_version"] == expected
        assert updated.json()["entry"]["sku"] == "SKU-TEST-1"
    first = await sandbox_http.get(f"{ENTRIES.format(ct='product')}/{uid}", params={"version": 1})
    assert first.json()["entry"]["price"] == 42.5
    latest = await sandbox_http.get(f"{ENTRIES.format(ct='product')}/{uid}")
    assert latest.json()["entry"]["price"] == 3


@pytest.mark.parametrize(
    ("entry", "bad_fields"),
    [
        ({"sku": "SKU-X", "price": 1}, {"title"}),
        ({"title": "Trail Runner Classic", "sku": "SKU-Y", "price": 1}, {"title"}),
        ({"title": "Odd", "sku": "SKU-Z", "price": "cheap", "in_stock": "yes"}, {"price", "in_stock"}),
        ({"title": "Odd", "sku": "SKU-Z", "price": 1, "release_date": "tomorrow"}, {"release_date"}),
        ({"title": "Odd", "sku": "SKU-Z", "price": 1, "related": [{"uid": "bltnothing"}]}, {"related"}),
        ({"title": "Odd", "sku": "SKU-Z", "price": 1, "image": "bltnoasset"}, {"image"}),
        ({"title": "Odd", "sku": "SKU-Z", "price": 1, "seo": {"keywords": "one"}}, {"seo"}),
    ],
)
async def test_an_invalid_entry_answers_422_code_119_naming_each_bad_field(
    sandbox_http: httpx2.AsyncClient, entry: dict[str, Any], bad_fields: set[str]
) -> None:
    answer = await sandbox_http.post(ENTRIES.format(ct="product"), json={"entry": entry})
    assert answer.status_code == 422
    assert answer.json()["error_code"] == 119
    assert set(answer.json()["errors"]) == bad_fields


@pytest.mark.parametrize(
    ("release_date", "accepted"),
    [
        ("2024-05-01", True),
        ("2024-05-01Z", True),
        ("2024-05-01T10:00:00Z", True),
        ("2024-05-01T10:00:00.123+02:00", True),
        ("2024-02-30", False),
        ("2024-05-01T25:00", False),
        ("01/05/2024", False),
    ],
)
async def test_an_isodate_field_takes_a_date_or_a_timestamp_and_refuses_an_impossible_one(
    sandbox_http: httpx2.AsyncClient, release_date: str, accepted: bool
) -> None:
    entry = {"title": f"Dated {release_date}", "sku": f"SKU-{release_date}", "price": 1, "release_date": release_date}
    answer = await sandbox_http.post(ENTRIES.format(ct="product"), json={"entry": entry})
    assert answer.status_code == (201 if accepted else 422), answer.text
    if not accepted:
        assert set(answer.json()["errors"]) == {"release_date"}


async def test_a_body_without_an_entry_object_is_refused(sandbox_http: httpx2.AsyncClient) -> None:
    for body in (b"not json", b"[]", b'{"title": "x"}'):
        answer = await sandbox_http.post(
            ENTRIES.format(ct="author"), content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422
        assert answer.json()["error_code"] == 119


async def test_a_refused_write_changes_nothing(sandbox: RunningSandbox, sandbox_http: httpx2.AsyncClient) -> None:
    with sandbox.state.db.read() as conn:
        before = len(store.entry_uids(conn, "product"))
    await sandbox_http.post(ENTRIES.format(ct="product"), json={"entry": {"title": "No price", "sku": "SKU-N"}})
    with sandbox.state.db.read() as conn:
        assert len(store.entry_uids(conn, "product")) == before


async def test_localizing_creates_a_locale_version_and_fallback_reads_the_master(
    sandbox_http: httpx2.AsyncClient,
) -> None:
    authors = (await _entries(sandbox_http, "author", asc="title", limit=1))["entries"]
    uid = authors[0]["uid"]
    path = f"{ENTRIES.format(ct='author')}/{uid}"
    missing = await sandbox_http.get(path, params={"locale": "fr-fr"})
    assert missing.status_code == 422
    assert missing.json()["error_code"] == 141
    fallback = await sandbox_http.get(path, params={"locale": "fr-fr", "include_fallback": "true"})
    assert fallback.json()["entry"]["locale"] == "en-us"
    localized = await sandbox_http.put(path, params={"locale": "fr-fr"}, json={"entry": {"twitter": "@fr"}})
    assert localized.json()["entry"]["_version"] == 1
    assert localized.json()["entry"]["locale"] == "fr-fr"
    french = await sandbox_http.get(path, params={"locale": "fr-fr"})
    assert french.json()["entry"]["twitter"] == "@fr"
    master = await sandbox_http.get(path)
    assert master.json()["entry"]["twitter"] != "@fr"


async def test_unlocalizing_drops_the_locale_version_and_refuses_the_master_or_an_unlocalized_one(
    sandbox_http: httpx2.AsyncClient,
) -> None:
    uid = (await _entries(sandbox_http, "author", asc="title", limit=1))["entries"][0]["uid"]
    path = f"{ENTRIES.format(ct='author')}/{uid}"
    not_yet = await sandbox_http.post(f"{path}/unlocalize", params={"locale": "fr-fr"})
    localized = await sandbox_http.put(path, params={"locale": "fr-fr"}, json={"entry": {"twitter": "@fr"}})
    done = await sandbox_http.post(f"{path}/unlocalize", params={"locale": "fr-fr"})
    master = await sandbox_http.post(f"{path}/unlocalize", params={"locale": "en-us"})
    assert localized.json()["notice"] == "Entry localized successfully."
    assert (done.status_code, done.json()) == (200, {"notice": "Entry unlocalized successfully."})
    assert [(r.status_code, r.json()["error_code"]) for r in (not_yet, master)] == [(422, 141), (422, 141)]
    assert (await sandbox_http.get(path, params={"locale": "fr-fr"})).status_code == 422


async def test_the_references_of_an_entry_are_the_entries_that_name_it(sandbox_http: httpx2.AsyncClient) -> None:
    posts = await _all_entries(sandbox_http, "blog_post")
    author = posts[0]["author"][0]["uid"]
    answer = await sandbox_http.get(f"{ENTRIES.format(ct='author')}/{author}/references")
    naming = {p["uid"] for p in posts if any(ref["uid"] == author for ref in p["author"])}
    body = answer.json()
    assert {(r["content_type_uid"], r["entry_uid"]) for r in body["references"]} == {("blog_post", u) for u in naming}
    assert body["count"] == len(naming)
    assert all("publish_details" not in r for r in body["references"])  # only with include_publish_details


async def test_lists_read_one_locale_or_fall_back_to_the_master(sandbox_http: httpx2.AsyncClient) -> None:
    french = await _entries(sandbox_http, "blog_post", locale="fr-fr", include_count="true")
    assert french["count"] == 20
    assert {e["locale"] for e in french["entries"]} == {"fr-fr"}
    with_fallback = await _entries(
        sandbox_http, "blog_post", locale="fr-fr", include_fallback="true", include_count="true"
    )
    assert with_fallback["count"] == 60
    assert {e["locale"] for e in with_fallback["entries"]} == {"fr-fr", "en-us"}


async def test_deleting_one_locale_keeps_the_others_and_deleting_all_removes_the_entry(
    sandbox_http: httpx2.AsyncClient,
) -> None:
    french = (await _entries(sandbox_http, "page", locale="fr-fr", limit=1))["entries"][0]
    path = f"{ENTRIES.format(ct='page')}/{french['uid']}"
    deleted = await sandbox_http.delete(path, params={"locale": "fr-fr"})
    assert deleted.json() == {"notice": "Entry deleted successfully."}
    assert (await sandbox_http.get(path, params={"locale": "fr-fr"})).status_code == 422
    assert (await sandbox_http.get(path)).status_code == 200
    assert (await sandbox_http.delete(path)).status_code == 200
    gone = await sandbox_http.get(path)
    assert gone.status_code == 422
    assert gone.json()["errors"] == {"uid": ["is not valid."]}
    assert (await sandbox_http.delete(path)).status_code == 422


async def test_limit_is_capped_at_100_and_counts_cover_the_whole_match(sandbox_http: httpx2.AsyncClient) -> None:
    too_many = await sandbox_http.get(ENTRIES.format(ct="blog_post"), params={"limit": 101})
    assert too_many.status_code == 400
    assert too_many.json()["errors"]["limit"]
    negative = await sandbox_http.get(ENTRIES.format(ct="blog_post"), params={"skip": -1})
    assert negative.status_code == 400
    page = await _entries(sandbox_http, "blog_post", skip=50, limit=20, include_count="true")
    assert page["count"] == 60
    assert len(page["entries"]) == 10


async def test_asc_and_desc_order_by_a_field(sandbox_http: httpx2.AsyncClient) -> None:
    ascending = [e["reading_minutes"] for e in await _all_entries(sandbox_http, "blog_post", asc="reading_minutes")]
    assert ascending == sorted(ascending)
    descending = [e["title"] for e in await _all_entries(sandbox_http, "author", desc="title")]
    assert descending == sorted(descending, reverse=True)


def _keywords(entry: dict[str, Any]) -> list[str]:
    return entry["seo"]["keywords"]


# Each query beside an independent reading of it in Python.
QUERIES: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
    ({"featured": True}, lambda e: e["featured"] is True),
    ({"reading_minutes": {"$gte": 10}}, lambda e: e["reading_minutes"] >= 10),
    ({"reading_minutes": {"$lt": 5}}, lambda e: e["reading_minutes"] < 5),
    ({"tags": {"$in": ["news", "ops"]}}, lambda e: bool({"news", "ops"} & set(e["tags"]))),
    ({"tags": {"$nin": ["news"]}}, lambda e: "news" not in e["tags"]),
    ({"tags": {"$ne": "news"}}, lambda e: "news" not in e["tags"]),
    ({"seo.keywords": "headless"}, lambda e: "headless" in _keywords(e)),
    ({"title": {"$regex": "^what", "$options": "i"}}, lambda e: e["title"].lower().startswith("what")),
    ({"title": {"$regex": "^What"}}, lambda e: e["title"].startswith("What")),
    ({"hero_image": {"$exists": False}}, lambda e: "hero_image" not in e),
    ({"publish_date": {"$gt": "2025-03-01"}}, lambda e: e["publish_date"] > "2025-03-01"),
    ({"$or": [{"featured": True}, {"reading_minutes": 3}]}, lambda e: e["featured"] or e["reading_minutes"] == 3),
    ({"$and": [{"featured": False}, {"tags": "tutorial"}]}, lambda e: not e["featured"] and "tutorial" in e["tags"]),
]


@pytest.mark.parametrize(("query", "oracle"), QUERIES)
async def test_queries_over_http_select_exactly_the_seeded_entries_that_match(
    sandbox_http: httpx2.AsyncClient, query: dict[str, Any], oracle: Callable[[dict[str, Any]], bool]
) -> None:
    everything = await _all_entries(sandbox_http, "blog_post")
    selected = await _all_entries(sandbox_http, "blog_post", query=json.dumps(query))
    expected = {e["uid"] for e in everything if oracle(e)}
    assert expected, "the seed should hold entries for every query"
    assert len(expected) < len(everything), "the seed should hold entries against every query"
    assert {e["uid"] for e in selected} == expected


async def test_reference_queries_find_posts_by_their_author(sandbox_http: httpx2.AsyncClient) -> None:
    author = (await _entries(sandbox_http, "author", asc="title", limit=1))["entries"][0]
    query = json.dumps({"author": {"$in_query": {"title": author["title"]}}})
    posts = await _all_entries(sandbox_http, "blog_post", query=query)
    assert posts
    assert all(p["author"] == [{"uid": author["uid"], "_content_type_uid": "author"}] for p in posts)
    others = await _all_entries(sandbox_http, "blog_post", query=query.replace("$in_query", "$nin_query"))
    assert len(posts) + len(others) == 60


@pytest.mark.parametrize(
    "query",
    [
        "{not json",
        '["title"]',
        '{"title": {"$near": 1}}',
        '{"title": {"$in_query": {"title": "x"}}}',
        '{"$or": {}}',
        # What JSON cannot carry, which Python's reader takes (or overflows its stack on).
        '{"n": NaN}',
        '{"n": 1e999}',
        '{"title": "\\ud800"}',
        '{"title": ' + "[" * 1500 + "]" * 1500 + "}",
    ],
)
async def test_an_invalid_query_answers_400_never_a_server_error(sandbox_http: httpx2.AsyncClient, query: str) -> None:
    answer = await sandbox_http.get(ENTRIES.format(ct="blog_post"), params={"query": query})
    assert answer.status_code == 400
    assert answer.json()["error_code"] == 400
    assert answer.json()["errors"]


async def test_only_and_except_shape_the_answer(sandbox_http: httpx2.AsyncClient) -> None:
    only = await _entries(sandbox_http, "blog_post", limit=3, **{"only[BASE][]": ["title", "seo.keywords"]})
    for entry in only["entries"]:
        assert set(entry) == {"uid", "title", "seo"}
        assert set(entry["seo"]) == {"keywords"}
    excepted = await _entries(sandbox_http, "blog_post", limit=3, **{"except[BASE][]": ["body", "seo.meta_title"]})
    for entry in excepted["entries"]:
        assert "body" not in entry
        assert "meta_title" not in entry["seo"]
        assert "keywords" in entry["seo"]


async def test_include_replaces_references_with_the_referenced_entries(sandbox_http: httpx2.AsyncClient) -> None:
    posts = await _entries(sandbox_http, "blog_post", limit=5, **{"include[]": "author"})
    for post in posts["entries"]:
        [author] = post["author"]
        assert author["_content_type_uid"] == "author"
        assert author["title"]
    products = await _entries(sandbox_http, "product", limit=20, **{"include[]": "related.related"})
    nested = [r for p in products["entries"] for r in p["related"] if r["related"]]
    assert nested
    assert all("title" in rr for r in nested for rr in r["related"])
    too_many = await sandbox_http.get(ENTRIES.format(ct="product"), params={"include[]": ["related"] * 11})
    assert too_many.status_code == 400


async def test_publish_details_name_the_environment_by_uid_when_asked(sandbox_http: httpx2.AsyncClient) -> None:
    environments = (await sandbox_http.get("/cma/v3/environments")).json()["environments"]
    uids = {e["uid"] for e in environments}
    plain = await _entries(sandbox_http, "page", limit=1)
    assert "publish_details" not in plain["entries"][0]
    detailed = await _entries(sandbox_http, "page", include_publish_details="true")
    details = [d for e in detailed["entries"] for d in e["publish_details"]]
    assert details
    assert {d["environment"] for d in details} <= uids
    assert all(set(d) == {"environment", "locale", "version", "time", "user"} for d in details)


async def test_assets_environments_and_locales_are_listed_and_read_one_by_one(
    sandbox_http: httpx2.AsyncClient,
) -> None:
    assets = (await sandbox_http.get("/cma/v3/assets", params={"include_count": "true"})).json()
    assert assets["count"] == 10
    uid = assets["assets"][0]["uid"]
    assert (await sandbox_http.get(f"/cma/v3/assets/{uid}")).json()["asset"]["uid"] == uid
    assert (await sandbox_http.get("/cma/v3/assets/bltnothing")).json()["error_code"] == 141
    environment = (await sandbox_http.get("/cma/v3/environments/staging")).json()["environment"]
    assert environment["name"] == "staging"
    assert (await sandbox_http.get("/cma/v3/environments/qa")).status_code == 422
    locale = (await sandbox_http.get("/cma/v3/locales/fr-fr")).json()["locale"]
    assert locale["fallback_locale"] == "en-us"
    assert (await sandbox_http.get("/cma/v3/locales/de-de")).json()["error_code"] == 141
