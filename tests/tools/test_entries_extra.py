"""The entries_extra toolset through the MCP client, on the sandbox's CMA: which entries refer to
an entry, its languages, and localizing and unlocalizing it under the guard's locale rules."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from mcp import Client

from cs_mcp.guard import Guard
from cs_mcp.guard.policy import BUILTIN_ROLE_SPECS, ConfirmSpec, Policy, RoleSpec, resolve_roles
from cs_mcp.sandbox.state import SandboxState
from tests.helpers import CountingTransport, structured, text_of
from tests.tools._on_sandbox import InProcessSandbox

pytestmark = pytest.mark.anyio


@dataclass
class Stack:
    admin: Client
    english_editor: Client  # may write in en-us only
    transport: CountingTransport
    state: SandboxState

    def rows(self, sql: str, *args: str) -> list[dict[str, Any]]:
        with self.state.db.read() as conn:
            return [dict(r) for r in conn.execute(sql, args)]

    def locales_of(self, content_type: str, uid: str) -> set[str]:
        found = self.rows("SELECT DISTINCT locale FROM entries WHERE content_type = ? AND uid = ?", content_type, uid)
        return {r["locale"] for r in found}


@pytest.fixture
async def stack() -> AsyncGenerator[Stack]:
    sandbox = InProcessSandbox.start()
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["english-editor"] = RoleSpec(inherits=["viewer"], scopes=["cm.entry:write"], locales=["en-us"])
    guard = Guard(Policy(roles=resolve_roles(specs), confirm=ConfirmSpec()))

    async with AsyncExitStack() as entered:
        admin = await entered.enter_async_context(sandbox.client(guard, "admin"))
        editor = await entered.enter_async_context(sandbox.client(guard, "english-editor"))
        yield Stack(admin, editor, sandbox.transport, sandbox.state)


async def ok(client: Client, name: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, text_of(result)
    return structured(result)


async def first(client: Client, content_type: str, locale: str = "en-us") -> dict[str, Any]:
    listed = await ok(client, "query_entries", content_type=content_type, locale=locale, limit=100)
    return next(e for e in listed["entries"] if e["locale"] == locale)


async def test_the_references_of_an_author_are_the_posts_that_name_it(stack: Stack) -> None:
    post = await first(stack.admin, "blog_post")
    author = post["author"][0]["uid"]
    answer = await ok(stack.admin, "get_entry_references", content_type="author", uid=author)
    posts = await ok(stack.admin, "query_entries", content_type="blog_post", fields=["author"], limit=100)
    assert posts["next_cursor"] is None
    naming = {p["uid"] for p in posts["entries"] if author in json.dumps(p.get("author"))}
    assert {(r["content_type"], r["uid"]) for r in answer["references"]} == {("blog_post", uid) for uid in naming}
    assert answer["total"] == len(naming) > 0
    assert any(r["published_to"] for r in answer["references"])


async def test_an_unknown_entry_has_no_references_and_says_so(stack: Stack) -> None:
    result = await stack.admin.call_tool("get_entry_references", {"content_type": "author", "uid": "blt_missing"})
    assert result.is_error
    assert "does not exist" in text_of(result)


async def test_the_languages_of_an_entry_mark_the_master_and_where_it_is_localized(stack: Stack) -> None:
    product = await first(stack.admin, "product", "fr-fr")
    answer = await ok(stack.admin, "get_entry_locales", content_type="product", uid=product["uid"])
    locales = {loc["code"]: loc for loc in answer["locales"]}
    assert (locales["en-us"]["master"], locales["en-us"]["localized"]) == (True, True)
    assert (locales["fr-fr"]["localized"], locales["fr-fr"]["fallback_locale"]) == (True, "en-us")


async def test_localizing_creates_the_locales_own_version_from_the_master(stack: Stack) -> None:
    author = await first(stack.admin, "author")
    answer = await ok(
        stack.admin,
        "localize_entry",
        content_type="author",
        uid=author["uid"],
        locale="fr-fr",
        fields={"title": "Auteur"},
    )
    assert (answer["written"], answer["entry"]["locale"], answer["entry"]["version"]) == (True, "fr-fr", 1)
    assert "from its en-us version" in answer["plan"]["summary"]
    french = await ok(stack.admin, "get_entry", content_type="author", uid=author["uid"], locale="fr-fr")
    assert french["entry"]["title"] == "Auteur"
    languages = await ok(stack.admin, "get_entry_locales", content_type="author", uid=author["uid"])
    assert {loc["code"]: loc["localized"] for loc in languages["locales"]}["fr-fr"] is True


async def test_a_dry_run_localization_plans_and_sends_nothing(stack: Stack) -> None:
    author = await first(stack.admin, "author")
    answer = await ok(
        stack.admin, "localize_entry", content_type="author", uid=author["uid"], locale="fr-fr", dry_run=True
    )
    assert (answer["dry_run"], answer["written"]) == (True, False)
    assert all(method == "GET" for method, _ in stack.transport.sent)
    assert stack.locales_of("author", author["uid"]) == {"en-us"}


async def test_localizing_where_it_is_localized_already_or_in_the_master_is_refused(stack: Stack) -> None:
    product = await first(stack.admin, "product", "fr-fr")
    again = await stack.admin.call_tool(
        "localize_entry", {"content_type": "product", "uid": product["uid"], "locale": "fr-fr"}
    )
    master = await stack.admin.call_tool(
        "localize_entry", {"content_type": "product", "uid": product["uid"], "locale": "en-us"}
    )
    assert again.is_error
    assert master.is_error
    assert "update_entry" in text_of(again)
    assert all(method == "GET" for method, _ in stack.transport.sent)


async def test_the_locale_rule_applies_to_the_target_locale_and_a_deny_sends_nothing(stack: Stack) -> None:
    author = await first(stack.admin, "author")
    product = await first(stack.admin, "product", "fr-fr")
    before = len(stack.transport.sent)
    localize = await stack.english_editor.call_tool(
        "localize_entry", {"content_type": "author", "uid": author["uid"], "locale": "fr-fr"}
    )
    unlocalize = await stack.english_editor.call_tool(
        "unlocalize_entry", {"content_type": "product", "uid": product["uid"], "locale": "fr-fr"}
    )
    for result in (localize, unlocalize):
        assert result.is_error
        assert "locale fr-fr" in text_of(result)
    assert len(stack.transport.sent) == before


async def test_unlocalizing_drops_the_locales_own_version(stack: Stack) -> None:
    product = await first(stack.admin, "product", "fr-fr")
    answer = await ok(stack.admin, "unlocalize_entry", content_type="product", uid=product["uid"], locale="fr-fr")
    assert answer["written"] is True
    assert "production" in answer["plan"]["targets"]["environment"]  # its French version was published there
    assert stack.locales_of("product", product["uid"]) == {"en-us"}
    languages = await ok(stack.admin, "get_entry_locales", content_type="product", uid=product["uid"])
    assert {loc["code"]: loc["localized"] for loc in languages["locales"]}["fr-fr"] is False


async def test_unlocalizing_where_the_entry_only_falls_back_sends_nothing(stack: Stack) -> None:
    author = await first(stack.admin, "author")
    answer = await ok(stack.admin, "unlocalize_entry", content_type="author", uid=author["uid"], locale="fr-fr")
    assert answer["written"] is False
    assert "not localized" in answer["notice"]
    assert all(method == "GET" for method, _ in stack.transport.sent)
