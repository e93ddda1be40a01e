"""Entries end to end: the MCP tools, the client and the sandbox over real loopback HTTP.

An entry is created, updated, and a stale update is refused with nothing sent; then every
operator of the query language goes through `query_entries`, and each answer is compared with
the same filter worked out here over every entry (two independent readings of the language).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

import pytest
from mcp import Client

from cs_mcp.sandbox.runner import RunningSandbox
from tests.helpers import structured, text_of
from tests.integration._mcp import mcp_client

pytestmark = pytest.mark.anyio


async def test_an_entry_is_created_updated_and_a_stale_update_is_refused(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox, "editor") as client:
        created = structured(
            await client.call_tool(
                "create_entry",
                {
                    "content_type": "blog_post",
                    "fields": {"title": "Launch notes", "publish_date": "2026-01-15", "reading_minutes": 4},
                    "locale": "en-us",
                },
            )
        )
        uid = created["entry"]["uid"]
        assert created["entry"]["version"] == 1
        updated = structured(
            await client.call_tool(
                "update_entry",
                {"content_type": "blog_post", "uid": uid, "fields": {"reading_minutes": 6}, "expected_version": 1},
            )
        )
        assert updated["entry"]["version"] == 2
        writes_before = len([m for _api, m, _p in sandbox.state.request_log if m != "GET"])
        stale = await client.call_tool(
            "update_entry",
            {"content_type": "blog_post", "uid": uid, "fields": {"reading_minutes": 9}, "expected_version": 1},
        )
        assert stale.is_error
        assert "expected_version=2" in text_of(stale)
        assert len([m for _api, m, _p in sandbox.state.request_log if m != "GET"]) == writes_before
        read = structured(await client.call_tool("get_entry", {"content_type": "blog_post", "uid": uid}))
    assert read["entry"]["_version"] == 2
    assert read["entry"]["reading_minutes"] == 6
    assert read["entry"]["title"] == "Launch notes"
    assert read["entry"]["publish_date"] == "2026-01-15"


async def test_a_create_with_schema_problems_reports_them_all_and_writes_nothing(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox, "editor") as client:
        result = await client.call_tool(
            "create_entry",
            {"content_type": "product", "fields": {"title": "Lamp", "price": "cheap", "colour": "red"}},
        )
    assert result.is_error
    text = text_of(result)
    for path in ("price:", "colour:", "sku:"):
        assert path in text
    assert not [m for _api, m, _p in sandbox.state.request_log if m != "GET"]


async def test_deleting_an_entry_removes_it(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox, "editor") as client:
        created = structured(
            await client.call_tool(
                "create_entry",
                {"content_type": "author", "fields": {"title": "Short-lived"}, "locale": "en-us"},
            )
        )
        uid = created["entry"]["uid"]
        # Deleting needs a yes by default: the first call answers a token, the second carries it.
        target = {"content_type": "author", "uid": uid}
        asked = structured(await client.call_tool("delete_entry", target))
        token = asked["confirmation"]["confirmation_token"]
        structured(await client.call_tool("delete_entry", {**target, "confirmation_token": token}))
        gone = await client.call_tool("get_entry", {"content_type": "author", "uid": uid})
    assert gone.is_error


def _get(entry: dict[str, Any], path: str) -> list[Any]:
    """Every value at a dot path (lists along the way are searched through)."""
    values: list[Any] = [entry]
    for part in path.split("."):
        found: list[Any] = []
        for value in values:
            items = cast(list[Any], value) if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict) and part in item:
                    found.append(cast(dict[str, Any], item)[part])
        values = found
    flat: list[Any] = []
    for value in values:
        flat.extend(cast(list[Any], value) if isinstance(value, list) else [value])
    return flat


async def _all_entries(client: Client, content_type: str) -> list[dict[str, Any]]:
    """Every entry, following cursors (the response budget cuts pages of long entries)."""
    found: list[dict[str, Any]] = []
    args: dict[str, Any] = {"content_type": content_type, "limit": 100}
    while True:
        data = structured(await client.call_tool("query_entries", args))
        found.extend(cast(list[dict[str, Any]], data["entries"]))
        if not data["next_cursor"]:
            assert len(found) == data["total"]
            return found
        args["cursor"] = data["next_cursor"]


async def _uids(client: Client, query: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    cursor: str | None = None
    while True:
        args: dict[str, Any] = {"content_type": "blog_post", "query": query, "limit": 100, "fields": ["title"]}
        if cursor:
            args["cursor"] = cursor
        data = structured(await client.call_tool("query_entries", args))
        found |= {e["uid"] for e in data["entries"]}
        cursor = data["next_cursor"]
        if not cursor:
            return found


async def test_every_query_operator_through_the_tool_matches_the_same_filter_worked_out_here(
    sandbox: RunningSandbox,
) -> None:
    async with mcp_client(sandbox, "viewer") as client:
        posts = await _all_entries(client, "blog_post")
        authors = await _all_entries(client, "author")
        first = posts[0]
        minutes = sorted({m for p in posts for m in _get(p, "reading_minutes")})
        middle = minutes[len(minutes) // 2]
        keyword = _get(first, "seo.keywords")[0]
        author_uid = _get(first, "author.uid")[0]
        author_title = next(a["title"] for a in authors if a["uid"] == author_uid)
        tag = first["tags"][0]

        def where(test: Callable[[dict[str, Any]], bool]) -> set[str]:
            return {p["uid"] for p in posts if test(p)}

        def by_author(titles: set[str]) -> Callable[[dict[str, Any]], bool]:
            uids = {a["uid"] for a in authors if a["title"] in titles}
            return lambda p: bool(set(_get(p, "author.uid")) & uids)

        cases: list[tuple[str, dict[str, Any], set[str]]] = [
            ("equality", {"title": first["title"]}, where(lambda p: p["title"] == first["title"])),
            ("dot path", {"seo.keywords": keyword}, where(lambda p: keyword in _get(p, "seo.keywords"))),
            ("$ne", {"title": {"$ne": first["title"]}}, where(lambda p: p["title"] != first["title"])),
            ("$in", {"tags": {"$in": [tag]}}, where(lambda p: tag in p["tags"])),
            ("$nin", {"tags": {"$nin": [tag]}}, where(lambda p: tag not in p["tags"])),
            ("$lt", {"reading_minutes": {"$lt": middle}}, where(lambda p: p["reading_minutes"] < middle)),
            ("$lte", {"reading_minutes": {"$lte": middle}}, where(lambda p: p["reading_minutes"] <= middle)),
            ("$gt", {"reading_minutes": {"$gt": middle}}, where(lambda p: p["reading_minutes"] > middle)),
            ("$gte", {"reading_minutes": {"$gte": middle}}, where(lambda p: p["reading_minutes"] >= middle)),
            ("$exists", {"hero_image": {"$exists": True}}, where(lambda p: "hero_image" in p)),
            ("$exists false", {"hero_image": {"$exists": False}}, where(lambda p: "hero_image" not in p)),
            (
                "$regex",
                {"title": {"$regex": "^getting", "$options": "i"}},
                where(lambda p: re.search("^getting", p["title"], re.I) is not None),
            ),
            (
                "$and",
                {"$and": [{"tags": {"$in": [tag]}}, {"reading_minutes": {"$gte": middle}}]},
                where(lambda p: tag in p["tags"] and p["reading_minutes"] >= middle),
            ),
            (
                "$or",
                {"$or": [{"title": first["title"]}, {"reading_minutes": {"$lt": middle}}]},
                where(lambda p: p["title"] == first["title"] or p["reading_minutes"] < middle),
            ),
            ("$in_query", {"author": {"$in_query": {"title": author_title}}}, where(by_author({author_title}))),
            (
                "$nin_query",
                {"author": {"$nin_query": {"title": author_title}}},
                where(lambda p: not by_author({author_title})(p)),
            ),
        ]
        for name, query, expected in cases:
            assert expected, f"{name}: the seed should give this filter something to match"
            assert await _uids(client, query) == expected, name
