"""The entries toolset through an in-memory client on the sandbox: queries, reads, the budget,
schema checks, versions, and the guard. The tests add two content types of their own
(`article`, `writer`) so that what they assert does not depend on the demo content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from mcp import Client
from mcp.client.client import ConnectMode
from mcp_types import CallToolResult

from cs_mcp.guard import AuditLog, Guard, Policy, read_audit
from cs_mcp.guard.policy import BUILTIN_ROLE_SPECS, ConfirmSpec, RoleSpec, resolve_roles
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.toolkit.query import ACCEPTED_FORM
from tests.conftest import SandboxStack
from tests.helpers import text_of

pytestmark = pytest.mark.anyio

BLOG_SCHEMA: list[dict[str, Any]] = [
    {"uid": "title", "data_type": "text", "mandatory": True},
    {"uid": "body", "data_type": "text", "field_metadata": {"allow_rich_text": True}},
    {"uid": "rating", "data_type": "number"},
    {"uid": "published_on", "data_type": "isodate"},
    {"uid": "featured", "data_type": "boolean"},
    {"uid": "author", "data_type": "reference", "reference_to": ["writer"]},
    {
        "uid": "seo",
        "data_type": "group",
        "schema": [{"uid": "keywords", "data_type": "text", "multiple": True}, {"uid": "title", "data_type": "text"}],
    },
    {
        "uid": "sections",
        "data_type": "blocks",
        "multiple": True,
        "blocks": [
            {"uid": "hero", "title": "Hero", "schema": [{"uid": "heading", "data_type": "text", "mandatory": True}]},
            {"uid": "quote", "title": "Quote", "schema": [{"uid": "text", "data_type": "text"}]},
        ],
    },
]
AUTHOR_SCHEMA: list[dict[str, Any]] = [{"uid": "title", "data_type": "text", "mandatory": True}]


@pytest.fixture
def stack(on_sandbox: SandboxStack) -> SandboxStack:
    """The sandbox with `article` (art0..art4, newest first) and `writer` (blt_jane)."""
    on_sandbox.save_content_type("article", BLOG_SCHEMA)
    on_sandbox.save_content_type("writer", AUTHOR_SCHEMA)
    for i in range(5):
        on_sandbox.save_entry("article", f"art{i}", {"title": f"Post {i}", "rating": i})
    on_sandbox.save_entry("writer", "blt_jane", {"title": "Jane"})
    return on_sandbox


def policy(confirm: ConfirmSpec | None = None) -> Policy:
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["article-editor"] = RoleSpec(inherits=["editor"], content_types=["article"], locales=["en-us"])
    return Policy(roles=resolve_roles(specs), confirm=confirm or ConfirmSpec())


def connect(stack: SandboxStack, role: str = "editor", confirm: ConfirmSpec | None = None, **env: str) -> Client:
    return stack.client(role, guard=Guard(policy(confirm)), env=env)


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return cast(dict[str, Any], result.structured_content)


def entry_reads(stack: SandboxStack, content_type: str) -> list[Any]:
    return [
        r for r in stack.transport.requests if r.method == "GET" and r.url.path.endswith(f"/{content_type}/entries")
    ]


def schema_reads(stack: SandboxStack, content_type: str) -> int:
    return sum(
        1
        for method, path in stack.transport.sent
        if method == "GET" and path.endswith(f"/content_types/{content_type}")
    )


def cda_requests(stack: SandboxStack) -> list[Any]:
    return [r for r in stack.transport.requests if r.url.path.startswith("/cdn/")]


def stored(stack: SandboxStack, content_type: str, uid: str, locale: str = "en-us") -> dict[str, Any] | None:
    rows = stack.rows(
        "SELECT data_json FROM entries WHERE content_type = ? AND uid = ? AND locale = ?", content_type, uid, locale
    )
    return json.loads(rows[0]["data_json"]) if rows else None


# -- query_entries ----------------------------------------------------------------------


async def test_query_entries_answers_what_the_query_projection_references_and_sort_select(stack: SandboxStack) -> None:
    stack.save_entry(
        "article",
        "art1",
        {"title": "Post 1", "rating": 1, "author": [{"uid": "blt_jane", "_content_type_uid": "writer"}]},
    )
    query = {"$or": [{"rating": {"$gte": 3}}, {"title": {"$regex": "^post 1", "$options": "i"}}]}
    arguments: dict[str, Any] = {
        "content_type": "article",
        "query": query,
        "fields": ["title", "rating", "author"],
        "include_references": ["author"],
        "sort": "-rating",
        "limit": 2,
    }
    async with connect(stack) as client:
        data = ok(await client.call_tool("query_entries", arguments))
        rest = ok(await client.call_tool("query_entries", {**arguments, "cursor": data["next_cursor"]}))
    assert data["total"] == 3
    assert [e["uid"] for e in data["entries"]] == ["art4", "art3"]
    assert set(data["entries"][0]) <= {"uid", "title", "rating", "author"}
    (post_1,) = rest["entries"]
    assert post_1["uid"] == "art1"
    assert post_1["author"][0]["title"] == "Jane"  # resolved inline
    assert rest["next_cursor"] is None


async def test_the_cursor_reads_the_next_page_and_the_last_page_has_none(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        first = ok(await client.call_tool("query_entries", {"content_type": "article", "limit": 3}))
        second = ok(
            await client.call_tool(
                "query_entries", {"content_type": "article", "limit": 3, "cursor": first["next_cursor"]}
            )
        )
    assert [e["uid"] for e in first["entries"]] == ["art0", "art1", "art2"]
    assert [e["uid"] for e in second["entries"]] == ["art3", "art4"]
    assert second["next_cursor"] is None


async def test_a_cursor_of_another_query_is_refused(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        first = ok(await client.call_tool("query_entries", {"content_type": "article", "limit": 1}))
        other = await client.call_tool(
            "query_entries", {"content_type": "writer", "limit": 1, "cursor": first["next_cursor"]}
        )
    assert other.is_error


@pytest.mark.parametrize(
    "query",
    [{"title": {"$where": "1"}}, '{"title": ', {"tags": ["a"]}, {"$nor": [{"a": 1}]}, "7"],
    ids=["unknown-operator", "malformed-json", "list-value", "unknown-logical", "not-an-object"],
)
async def test_a_query_outside_the_language_is_refused_before_anything_is_sent(stack: SandboxStack, query: Any) -> None:
    async with connect(stack) as client:
        result = await client.call_tool("query_entries", {"content_type": "article", "query": query})
    assert result.is_error
    assert ACCEPTED_FORM in text_of(result)
    assert stack.transport.sent == []


async def test_more_than_ten_references_or_a_bad_sort_are_refused(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        many = await client.call_tool(
            "query_entries", {"content_type": "article", "include_references": [f"r{i}" for i in range(11)]}
        )
        sort = await client.call_tool("query_entries", {"content_type": "article", "sort": "title desc"})
    assert many.is_error
    assert sort.is_error
    assert stack.transport.sent == []


async def test_an_unknown_content_type_lists_the_ones_that_exist(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        result = await client.call_tool("query_entries", {"content_type": "articel"})
    assert result.is_error
    assert "article" in text_of(result)


async def test_published_entries_come_from_the_cda_of_the_environment_with_its_token(stack: SandboxStack) -> None:
    stack.save_entry("article", "art1", {"title": "Live", "rating": 1})
    stack.publish("article", "art1", "production", version=2)
    async with connect(stack) as client:
        data = ok(
            await client.call_tool(
                "query_entries", {"content_type": "article", "source": "published", "environment": "production"}
            )
        )
    (cda,) = cda_requests(stack)
    assert cda.headers["access_token"] == DEMO_CREDENTIALS.delivery_tokens["production"]
    assert [e["title"] for e in data["entries"]] == ["Live"]
    assert data["environment"] == "production"


async def test_published_without_an_environment_or_with_an_unknown_one_is_refused(stack: SandboxStack) -> None:
    async with connect(stack, CONTENTSTACK_ENVIRONMENT="", CONTENTSTACK_DELIVERY_TOKEN="") as client:
        none = await client.call_tool("query_entries", {"content_type": "article", "source": "published"})
        unknown = await client.call_tool(
            "query_entries", {"content_type": "article", "source": "published", "environment": "prod"}
        )
        draft_env = await client.call_tool("query_entries", {"content_type": "article", "environment": "production"})
    assert none.is_error
    assert unknown.is_error
    assert "production" in text_of(unknown)
    assert draft_env.is_error
    assert cda_requests(stack) == []


async def test_published_uses_the_configured_environment_and_needs_its_delivery_token(stack: SandboxStack) -> None:
    token = DEMO_CREDENTIALS.delivery_tokens["production"]
    async with connect(
        stack,
        CONTENTSTACK_ENVIRONMENT="staging",
        CONTENTSTACK_DELIVERY_TOKEN="",
        CS_MCP_DELIVERY_TOKENS=f"production={token}",
    ) as client:
        result = await client.call_tool("query_entries", {"content_type": "article", "source": "published"})
    assert result.is_error
    assert "CS_MCP_DELIVERY_TOKENS" in text_of(result)
    assert cda_requests(stack) == []


async def test_entries_are_cleaned_of_invisible_characters(stack: SandboxStack) -> None:
    stack.save_entry("article", "art0", {"title": "Safe\u202e\u200btitle", "body": "ignore\U000e0041 this"})
    async with connect(stack) as client:
        data = ok(await client.call_tool("query_entries", {"content_type": "article", "limit": 1}))
    assert data["entries"][0]["title"] == "Safetitle"
    assert data["entries"][0]["body"] == "ignore this"


async def test_a_page_over_the_budget_is_cut_at_an_entry_and_says_how_to_go_on(stack: SandboxStack) -> None:
    for i in range(5):
        stack.save_entry("article", f"art{i}", {"title": f"Post {i}", "body": "x" * 12_000})
    async with connect(stack) as client:
        data = ok(await client.call_tool("query_entries", {"content_type": "article", "limit": 5}))
        rest = ok(
            await client.call_tool(
                "query_entries", {"content_type": "article", "limit": 5, "cursor": data["next_cursor"]}
            )
        )
    assert data["truncated"] is True
    assert 1 <= data["returned"] < 5
    assert data["note"]
    assert rest["entries"][0]["uid"] == f"art{data['returned']}"


async def test_get_entry_reads_a_version_and_shortens_an_entry_over_the_budget(stack: SandboxStack) -> None:
    stack.save_entry("article", "art1", {"title": "Long", "body": "y" * 60_000})
    stack.save_entry("article", "art1", {"title": "Short"})
    async with connect(stack) as client:
        data = ok(await client.call_tool("get_entry", {"content_type": "article", "uid": "art1", "version": 2}))
        missing = await client.call_tool("get_entry", {"content_type": "article", "uid": "nope"})
        published_version = await client.call_tool(
            "get_entry", {"content_type": "article", "uid": "art1", "source": "published", "version": 1}
        )
    assert data["entry"]["_version"] == 2
    assert data["entry"]["title"] == "Long"
    assert data["truncated"] is True
    assert len(json.dumps(data)) < 8000 * 4
    assert missing.is_error
    assert published_version.is_error


async def test_query_assets_checks_its_query_and_pages(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        everything = ok(await client.call_tool("query_assets", {"limit": 100}))
        data = ok(
            await client.call_tool("query_assets", {"query": {"content_type": {"$regex": "^image/"}}, "limit": 2})
        )
        bad = await client.call_tool("query_assets", {"query": {"title": {"$like": "x"}}})
    images = [a for a in everything["assets"] if str(a.get("content_type", "")).startswith("image/")]
    assert data["total"] == len(images)
    assert data["returned"] == min(2, len(images))
    assert all(a["content_type"].startswith("image/") for a in data["assets"])
    assert bad.is_error


# -- create, update, delete --------------------------------------------------------------


async def test_create_entry_checks_the_schema_and_stores_the_entry(stack: SandboxStack) -> None:
    fields: dict[str, Any] = {
        "title": "Hello",
        "rating": 4.5,
        "published_on": "2025-01-31",
        "author": [{"uid": "blt_jane", "_content_type_uid": "writer"}],
        "seo": {"keywords": ["cms"]},
        "sections": [{"hero": {"heading": "Hi"}}],
        "tags": ["news"],
    }
    async with connect(stack) as client:
        data = ok(
            await client.call_tool("create_entry", {"content_type": "article", "fields": fields, "locale": "en-us"})
        )
    assert data["written"] is True
    assert data["entry"]["version"] == 1
    assert data["verdict"]["decision"] == "allow"
    saved = stored(stack, "article", data["entry"]["uid"])
    assert saved is not None
    assert {k: saved[k] for k in fields} == fields


async def test_create_entry_reports_every_schema_problem_at_once_and_sends_nothing(stack: SandboxStack) -> None:
    fields: dict[str, Any] = {
        "titel": "typo",
        "rating": "five",
        "published_on": "31/01/2025",
        "featured": "yes",
        "author": [{"uid": "x", "_content_type_uid": "product"}],
        "seo": {"keywords": "cms"},
        "sections": [{"banner": {}}, {"hero": {}}],
        "_version": 3,
    }
    async with connect(stack) as client:
        result = await client.call_tool(
            "create_entry", {"content_type": "article", "fields": fields, "locale": "en-us"}
        )
    assert result.is_error
    text = text_of(result)
    for path in (
        "titel",
        "rating",
        "published_on",
        "featured",
        "author[0]",
        "seo.keywords",
        "sections[0]",
        "sections[1].hero.heading",
        "_version",
        "title",
    ):
        assert f"{path}:" in text, path
    assert stack.writes() == []


async def test_a_stale_cached_schema_is_read_again_once_before_refusing(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        ok(await client.call_tool("get_content_type", {"content_type": "writer"}))
        stack.save_content_type("writer", [*AUTHOR_SCHEMA, {"uid": "bio", "data_type": "text"}])
        data = ok(
            await client.call_tool(
                "create_entry",
                {"content_type": "writer", "fields": {"title": "Ann", "bio": "Writes."}, "locale": "en-us"},
            )
        )
    assert schema_reads(stack, "writer") == 2
    assert data["written"] is True
    assert (stored(stack, "writer", data["entry"]["uid"]) or {}).get("bio") == "Writes."


async def test_a_refusal_by_contentstack_rereads_the_schema_and_reaches_the_model_in_plain_words(
    stack: SandboxStack,
) -> None:
    stack.save_content_type("writer", [{"uid": "title", "data_type": "text", "mandatory": True, "unique": True}])
    async with connect(stack) as client:
        result = await client.call_tool(
            "create_entry", {"content_type": "writer", "fields": {"title": "Jane"}, "locale": "en-us"}
        )
    assert result.is_error
    assert "not unique" in text_of(result)
    assert schema_reads(stack, "writer") == 2


async def test_create_entry_dry_run_answers_the_plan_and_sends_nothing(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        data = ok(
            await client.call_tool(
                "create_entry", {"content_type": "writer", "fields": {"title": "A"}, "locale": "fr-fr", "dry_run": True}
            )
        )
    assert data["dry_run"] is True
    assert data["written"] is False
    assert data["plan"]["requests"][0]["method"] == "POST"
    assert data["plan"]["targets"] == {"content_type": ["writer"], "locale": ["fr-fr"]}
    assert stack.writes() == []


async def test_update_entry_keeps_the_other_fields_and_answers_the_new_version(stack: SandboxStack) -> None:
    stack.save_entry("article", "art2", {"title": "Post 2", "rating": 2, "seo": {"title": "s"}})
    async with connect(stack) as client:
        data = ok(
            await client.call_tool(
                "update_entry",
                {
                    "content_type": "article",
                    "uid": "art2",
                    "fields": {"rating": 5},
                    "expected_version": 2,
                    "locale": "en-us",
                },
            )
        )
    assert data["entry"]["version"] == 3
    saved = stored(stack, "article", "art2")
    assert saved is not None
    assert (saved["_version"], saved["title"], saved["rating"], saved["seo"]) == (3, "Post 2", 5, {"title": "s"})


async def test_a_stale_update_is_refused_with_the_current_version_and_nothing_is_sent(stack: SandboxStack) -> None:
    stack.save_entry("article", "art2", {"title": "Edited by someone else"})
    async with connect(stack) as client:
        result = await client.call_tool(
            "update_entry",
            {
                "content_type": "article",
                "uid": "art2",
                "fields": {"rating": 5},
                "expected_version": 1,
                "locale": "en-us",
            },
        )
    assert result.is_error
    assert "expected_version=2" in text_of(result)
    assert stack.writes() == []


async def test_an_update_that_empties_a_mandatory_field_is_refused(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        result = await client.call_tool(
            "update_entry",
            {
                "content_type": "article",
                "uid": "art1",
                "fields": {"title": ""},
                "expected_version": 1,
                "locale": "en-us",
            },
        )
    assert result.is_error
    assert stack.writes() == []


async def test_delete_entry_listed_for_confirmation_answers_a_token_then_deletes_with_it(stack: SandboxStack) -> None:
    confirm = ConfirmSpec(tools=["delete_entry"], fallback="token")
    args = {"content_type": "article", "uid": "art3", "locale": "en-us"}
    async with connect(stack, confirm=confirm) as client:
        first = ok(await client.call_tool("delete_entry", args))
        assert first["written"] is False
        assert stack.writes() == []
        token = first["confirmation"]["confirmation_token"]
        second = ok(await client.call_tool("delete_entry", {**args, "confirmation_token": token}))
        replay = await client.call_tool("delete_entry", {**args, "confirmation_token": token})
    assert second["written"] is True
    assert second["verdict"]["decision"] == "confirmed"
    assert [m for m, _ in stack.writes()] == ["DELETE"]
    assert stored(stack, "article", "art3") is None
    assert replay.is_error


async def test_delete_entry_of_a_missing_entry_is_refused_without_a_write(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        result = await client.call_tool("delete_entry", {"content_type": "article", "uid": "gone", "locale": "en-us"})
    assert result.is_error
    assert stack.writes() == []


async def test_deleting_the_master_version_is_checked_against_where_its_localized_versions_are_live(
    stack: SandboxStack,
) -> None:
    # Contentstack deletes the localized versions with the master, taking each off the
    # environments it is published to: the French version's production is reached too.
    stack.save_entry("article", "art1", {"title": "Post 1 (fr)"}, locale="fr-fr")
    stack.publish("article", "art1", "production", locale="fr-fr")
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["development-publisher"] = RoleSpec(inherits=["publisher"], environments=["development"])
    guard = Guard(Policy(roles=resolve_roles(specs)))
    async with stack.client("development-publisher", guard=guard) as client:
        result = await client.call_tool("delete_entry", {"content_type": "article", "uid": "art1", "locale": "en-us"})
    assert result.is_error
    assert stack.writes() == []


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(("tool", "locale"), [("delete_entry", "en-us"), ("unlocalize_entry", "fr-fr")])
async def test_an_entry_whose_translation_went_live_while_its_human_agreed_is_neither_deleted_nor_unlocalized(
    stack: SandboxStack, mode: ConnectMode, tool: str, locale: str, tmp_path: Path
) -> None:
    stack.save_entry("article", "art1", {"title": "Post 1 (fr)"}, locale="fr-fr")
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["development-publisher"] = RoleSpec(inherits=["publisher"], environments=["development"])
    audit = tmp_path / "audit.jsonl"
    guard = Guard(Policy(roles=resolve_roles(specs), confirm=ConfirmSpec(tools=[tool])), audit=AuditLog(audit))
    refusal = await stack.refused_after_agreeing(
        lambda: stack.publish("article", "art1", "production", locale="fr-fr"),
        tool,
        {"content_type": "article", "uid": "art1", "locale": locale},
        role="development-publisher",
        guard=guard,
        toolsets="entries,entries_extra",
        mode=mode,
    )
    assert "environment production" in refusal
    lines = [(line.decision, line.outcome) for line in read_audit(audit)]
    # Asked in the middle of the call, its one line; asked between two calls, the second is denied.
    assert lines == ([("confirmed", "refused")] if mode == "legacy" else [("confirm", None), ("deny", None)])


# -- the guard ---------------------------------------------------------------------------

WRITES: list[tuple[str, dict[str, Any]]] = [
    ("create_entry", {"content_type": "article", "fields": {"title": "x"}}),
    ("update_entry", {"content_type": "article", "uid": "art1", "fields": {"title": "x"}, "expected_version": 1}),
    ("delete_entry", {"content_type": "article", "uid": "art1"}),
]


# Writes a role may not make: (the role, what the call changes, what the refusal names).
DENIED: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "a role without the write scope": ("viewer", {"locale": "en-us"}, None),
    "a content type outside the role": ("article-editor", {"content_type": "writer", "locale": "en-us"}, "writer"),
    "a locale outside the role": ("article-editor", {"locale": "fr-fr"}, "fr-fr"),
}


@pytest.mark.parametrize(("tool", "args"), WRITES, ids=[w[0] for w in WRITES])
@pytest.mark.parametrize(("role", "changed", "named"), DENIED.values(), ids=DENIED.keys())
async def test_a_write_the_role_may_not_make_is_denied_and_nothing_is_sent(
    stack: SandboxStack, tool: str, args: dict[str, Any], role: str, changed: dict[str, Any], named: str | None
) -> None:
    async with connect(stack, role=role) as client:
        result = await client.call_tool(tool, {**args, **changed})
    assert result.is_error
    if named is not None:
        assert named in text_of(result)
    assert stack.transport.sent == []


async def test_the_role_inside_its_constraints_may_write(stack: SandboxStack) -> None:
    async with connect(stack, role="article-editor") as client:
        data = ok(
            await client.call_tool(
                "create_entry", {"content_type": "article", "fields": {"title": "x"}, "locale": "en-us"}
            )
        )
    assert data["written"] is True
    assert len(stack.writes()) == 1
