"""The entries toolset in memory, against a small stateful fake of the CMA and the CDA on
httpx2.MockTransport: queries, reads, the budget, schema checks, versions, and the guard."""

from __future__ import annotations

import json
from typing import Any, cast

import httpx2
import pytest
from mcp import Client
from mcp_types import CallToolResult

from cs_mcp.client import RateLimits
from cs_mcp.config import Settings
from cs_mcp.guard import Guard, Policy
from cs_mcp.guard.policy import BUILTIN_ROLE_SPECS, ConfirmSpec, RoleSpec, resolve_roles
from cs_mcp.server import build_server
from cs_mcp.toolkit.query import ACCEPTED_FORM
from tests.helpers import text_of

pytestmark = pytest.mark.anyio

ENV = {
    "CONTENTSTACK_API_KEY": "blt_api_key_1234",
    "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_management_token_1234",
    "CS_MCP_DELIVERY_TOKENS": "development=cs_dev_token_1234,production=cs_prod_token_1234",
}
FAST = RateLimits(
    cma_read=100_000, cma_write=100_000, cma_bulk=100_000, cda=100_000, analytics=100_000, automate=100_000
)
BLOG_SCHEMA: list[dict[str, Any]] = [
    {"uid": "title", "data_type": "text", "mandatory": True},
    {"uid": "body", "data_type": "text", "field_metadata": {"allow_rich_text": True}},
    {"uid": "rating", "data_type": "number"},
    {"uid": "published_on", "data_type": "isodate"},
    {"uid": "featured", "data_type": "boolean"},
    {"uid": "author", "data_type": "reference", "reference_to": ["author"]},
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
NOT_FOUND = {"error_message": "The requested object doesn't exist.", "error_code": 141}


class FakeStack:
    """Enough of the CMA and the CDA for the entries tools. Records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.schemas: dict[str, list[dict[str, Any]]] = {"blog_post": BLOG_SCHEMA, "author": AUTHOR_SCHEMA}
        self.entries: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.published: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.refuse_writes: dict[str, Any] | None = None
        for i in range(5):
            self.save("blog_post", f"blt{i}", {"title": f"Post {i}", "rating": i})
        self.save("author", "blt_jane", {"title": "Jane"})

    def save(self, content_type: str, uid: str, fields: dict[str, Any], locale: str = "en-us") -> dict[str, Any]:
        old = self.entries.get((content_type, uid, locale))
        entry: dict[str, Any] = {
            "uid": uid,
            "locale": locale,
            "_version": (old["_version"] + 1) if old else 1,
            "tags": [],
            **fields,
        }
        self.entries[(content_type, uid, locale)] = entry
        return entry

    def sent(self, method: str | None = None) -> list[httpx2.Request]:
        return [r for r in self.requests if method is None or r.method == method]

    def writes(self) -> list[httpx2.Request]:
        return [r for r in self.requests if r.method != "GET"]

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        parts = request.url.path.split("/")[2:]  # after /v3
        params = dict(request.url.params.multi_items())
        if request.url.host.startswith("cdn"):
            return self._cda(parts, params)
        if parts == ["environments"]:
            return httpx2.Response(
                200, json={"environments": [{"name": "development", "uid": "e1"}, {"name": "production", "uid": "e2"}]}
            )
        if parts == ["locales"]:
            return httpx2.Response(
                200, json={"locales": [{"code": "en-us"}, {"code": "fr-fr", "fallback_locale": "en-us"}]}
            )
        if parts == ["content_types"]:
            cts = [{"uid": u, "title": u, "schema": s} for u, s in self.schemas.items()]
            return httpx2.Response(200, json={"content_types": cts, "count": len(cts)})
        if parts == ["assets"]:
            assets = [{"uid": f"asset{i}", "title": f"Image {i}", "_version": 1} for i in range(3)]
            return httpx2.Response(200, json={"assets": assets, "count": 3})
        if len(parts) >= 2 and parts[0] == "content_types":
            ct = parts[1]
            if ct not in self.schemas:
                return httpx2.Response(
                    422, json={"error_message": "The Content Type was not found.", "error_code": 118}
                )
            if len(parts) == 2:
                return httpx2.Response(200, json={"content_type": {"uid": ct, "title": ct, "schema": self.schemas[ct]}})
            return self._entries(request, ct, parts[3:], params)
        return httpx2.Response(404, json={"error_message": "no route", "error_code": 0})

    def _entries(self, request: httpx2.Request, ct: str, rest: list[str], params: dict[str, str]) -> httpx2.Response:
        locale = params.get("locale", "en-us")
        if not rest and request.method == "GET":
            found = [e for (c, _, loc), e in self.entries.items() if c == ct and loc == locale]
            skip, limit = int(params.get("skip", 0)), int(params.get("limit", 100))
            return httpx2.Response(200, json={"entries": found[skip : skip + limit], "count": len(found)})
        if self.refuse_writes is not None and request.method != "GET":
            return httpx2.Response(422, json=self.refuse_writes)
        if not rest and request.method == "POST":
            body = json.loads(request.content)["entry"]
            entry = self.save(ct, f"blt_new{len(self.entries)}", body, locale)
            return httpx2.Response(201, json={"notice": "Entry created successfully.", "entry": entry})
        if rest[1:] == ["locales"] and request.method == "GET":
            held = {loc for (c, uid, loc) in self.entries if c == ct and uid == rest[0]}
            french = {"code": "fr-fr", "localized": True} if "fr-fr" in held else {"code": "fr-fr"}
            listed = [{"code": "en-us"}, french]
            return httpx2.Response(200, json={"locales": listed})
        key = (ct, rest[0], locale)
        if key not in self.entries:
            return httpx2.Response(422, json=NOT_FOUND)
        if request.method == "GET":
            return httpx2.Response(200, json={"entry": self.entries[key]})
        if request.method == "PUT":
            body = json.loads(request.content)["entry"]
            entry = self.save(ct, rest[0], body, locale)
            return httpx2.Response(200, json={"notice": "Entry updated successfully.", "entry": entry})
        del self.entries[key]
        return httpx2.Response(200, json={"notice": "Entry deleted successfully."})

    def _cda(self, parts: list[str], params: dict[str, str]) -> httpx2.Response:
        env, locale = params["environment"], params.get("locale", "en-us")
        ct = parts[1]
        if len(parts) == 3:
            found = [e for (c, _, en, loc), e in self.published.items() if (c, en, loc) == (ct, env, locale)]
            return httpx2.Response(200, json={"entries": found, "count": len(found)})
        entry = self.published.get((ct, parts[3], env, locale))
        if entry is None:
            return httpx2.Response(422, json={"error_message": "UID is not valid", "error_code": 141})
        return httpx2.Response(200, json={"entry": entry})


def policy(confirm: ConfirmSpec | None = None) -> Policy:
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["blog-editor"] = RoleSpec(inherits=["editor"], content_types=["blog_post"], locales=["en-us"])
    return Policy(roles=resolve_roles(specs), confirm=confirm or ConfirmSpec())


def connect(
    stack: FakeStack, role: str = "editor", env: dict[str, str] | None = None, confirm: ConfirmSpec | None = None
) -> Client:
    server = build_server(
        Settings.from_env(env or ENV),
        guard=Guard(policy(confirm)),
        stdio_role=role,
        transport=httpx2.MockTransport(stack),
        rate_limits=FAST,
    )
    return Client(server)


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return cast(dict[str, Any], result.structured_content)


def sent_params(request: httpx2.Request) -> list[tuple[str, str]]:
    return list(request.url.params.multi_items())


# -- query_entries ----------------------------------------------------------------------


async def test_query_entries_sends_the_checked_query_projection_references_and_sort() -> None:
    stack = FakeStack()
    query = {"$or": [{"rating": {"$gte": 3}}, {"title": {"$regex": "^post", "$options": "i"}}]}
    async with connect(stack) as client:
        data = ok(
            await client.call_tool(
                "query_entries",
                {
                    "content_type": "blog_post",
                    "query": query,
                    "fields": ["title", "rating"],
                    "include_references": ["author"],
                    "sort": "-rating",
                    "limit": 2,
                },
            )
        )
    (request,) = [r for r in stack.requests if r.url.path.endswith("/entries")]
    sent = sent_params(request)
    assert json.loads(dict(sent)["query"]) == query
    assert ("only[BASE][]", "title") in sent
    assert ("only[BASE][]", "rating") in sent
    assert ("include[]", "author") in sent
    assert ("desc", "rating") in sent
    assert ("limit", "2") in sent
    assert data["total"] == 5
    assert data["returned"] == 2
    assert data["next_cursor"]
    assert [e["uid"] for e in data["entries"]] == ["blt0", "blt1"]


async def test_the_cursor_reads_the_next_page_and_the_last_page_has_none() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        first = ok(await client.call_tool("query_entries", {"content_type": "blog_post", "limit": 3}))
        second = ok(
            await client.call_tool(
                "query_entries", {"content_type": "blog_post", "limit": 3, "cursor": first["next_cursor"]}
            )
        )
    assert [e["uid"] for e in second["entries"]] == ["blt3", "blt4"]
    assert second["next_cursor"] is None
    assert ("skip", "3") in sent_params(stack.requests[-1])


async def test_a_cursor_of_another_query_is_refused() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        first = ok(await client.call_tool("query_entries", {"content_type": "blog_post", "limit": 1}))
        other = await client.call_tool(
            "query_entries", {"content_type": "author", "limit": 1, "cursor": first["next_cursor"]}
        )
    assert other.is_error


@pytest.mark.parametrize(
    "query",
    [{"title": {"$where": "1"}}, '{"title": ', {"tags": ["a"]}, {"$nor": [{"a": 1}]}, "7"],
    ids=["unknown-operator", "malformed-json", "list-value", "unknown-logical", "not-an-object"],
)
async def test_a_query_outside_the_language_is_refused_before_anything_is_sent(query: Any) -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        result = await client.call_tool("query_entries", {"content_type": "blog_post", "query": query})
    assert result.is_error
    assert ACCEPTED_FORM in text_of(result)
    assert stack.requests == []


async def test_more_than_ten_references_or_a_bad_sort_are_refused() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        many = await client.call_tool(
            "query_entries", {"content_type": "blog_post", "include_references": [f"r{i}" for i in range(11)]}
        )
        sort = await client.call_tool("query_entries", {"content_type": "blog_post", "sort": "title desc"})
    assert many.is_error
    assert sort.is_error
    assert stack.requests == []


async def test_an_unknown_content_type_lists_the_ones_that_exist() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        result = await client.call_tool("query_entries", {"content_type": "blogpost"})
    assert result.is_error
    assert "blog_post" in text_of(result)


async def test_published_entries_come_from_the_cda_of_the_environment_with_its_token() -> None:
    stack = FakeStack()
    stack.published[("blog_post", "blt1", "production", "en-us")] = {"uid": "blt1", "title": "Live", "_version": 1}
    async with connect(stack) as client:
        data = ok(
            await client.call_tool(
                "query_entries", {"content_type": "blog_post", "source": "published", "environment": "production"}
            )
        )
    cda = [r for r in stack.requests if r.url.host.startswith("cdn")]
    assert len(cda) == 1
    assert cda[0].headers["access_token"] == "cs_prod_token_1234"
    assert [e["title"] for e in data["entries"]] == ["Live"]
    assert data["environment"] == "production"


async def test_published_without_an_environment_or_with_an_unknown_one_is_refused() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        none = await client.call_tool("query_entries", {"content_type": "blog_post", "source": "published"})
        unknown = await client.call_tool(
            "query_entries", {"content_type": "blog_post", "source": "published", "environment": "prod"}
        )
        draft_env = await client.call_tool("query_entries", {"content_type": "blog_post", "environment": "production"})
    assert none.is_error
    assert unknown.is_error
    assert "production" in text_of(unknown)
    assert draft_env.is_error
    assert not any(r.url.host.startswith("cdn") for r in stack.requests)


async def test_published_uses_the_configured_environment_and_needs_its_delivery_token() -> None:
    stack = FakeStack()
    env = {**ENV, "CONTENTSTACK_ENVIRONMENT": "development", "CS_MCP_DELIVERY_TOKENS": "production=cs_prod_token_1234"}
    async with connect(stack, env=env) as client:
        result = await client.call_tool("query_entries", {"content_type": "blog_post", "source": "published"})
    assert result.is_error
    assert "CS_MCP_DELIVERY_TOKENS" in text_of(result)
    assert not any(r.url.host.startswith("cdn") for r in stack.requests)


async def test_entries_are_cleaned_of_invisible_characters() -> None:
    stack = FakeStack()
    stack.save("blog_post", "blt0", {"title": "Safe\u202e\u200btitle", "body": "ignore\U000e0041 this"})
    async with connect(stack) as client:
        data = ok(await client.call_tool("query_entries", {"content_type": "blog_post", "limit": 1}))
    assert data["entries"][0]["title"] == "Safetitle"
    assert data["entries"][0]["body"] == "ignore this"


async def test_a_page_over_the_budget_is_cut_at_an_entry_and_says_how_to_go_on() -> None:
    stack = FakeStack()
    for i in range(5):
        stack.save("blog_post", f"blt{i}", {"title": f"Post {i}", "body": "x" * 12_000})
    async with connect(stack) as client:
        data = ok(await client.call_tool("query_entries", {"content_type": "blog_post", "limit": 5}))
        rest = ok(
            await client.call_tool(
                "query_entries", {"content_type": "blog_post", "limit": 5, "cursor": data["next_cursor"]}
            )
        )
    assert data["truncated"] is True
    assert 1 <= data["returned"] < 5
    assert data["note"]
    assert rest["entries"][0]["uid"] == f"blt{data['returned']}"


async def test_get_entry_reads_a_version_and_shortens_an_entry_over_the_budget() -> None:
    stack = FakeStack()
    stack.save("blog_post", "blt1", {"title": "Long", "body": "y" * 60_000})
    async with connect(stack) as client:
        data = ok(await client.call_tool("get_entry", {"content_type": "blog_post", "uid": "blt1", "version": 2}))
        missing = await client.call_tool("get_entry", {"content_type": "blog_post", "uid": "nope"})
        published_version = await client.call_tool(
            "get_entry", {"content_type": "blog_post", "uid": "blt1", "source": "published", "version": 1}
        )
    assert ("version", "2") in sent_params(stack.requests[0])
    assert data["truncated"] is True
    assert len(json.dumps(data)) < 8000 * 4
    assert data["entry"]["_version"] == 2
    assert missing.is_error
    assert published_version.is_error


async def test_query_assets_checks_its_query_and_pages() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        data = ok(await client.call_tool("query_assets", {"query": {"title": {"$regex": "^Image"}}, "limit": 2}))
        bad = await client.call_tool("query_assets", {"query": {"title": {"$like": "x"}}})
    assert [a["uid"] for a in data["assets"]] == ["asset0", "asset1", "asset2"][: data["returned"]]
    assert data["total"] == 3
    assert bad.is_error


# -- create, update, delete --------------------------------------------------------------


async def test_create_entry_checks_the_schema_and_sends_the_entry() -> None:
    stack = FakeStack()
    fields: dict[str, Any] = {
        "title": "Hello",
        "rating": 4.5,
        "published_on": "2025-01-31",
        "author": [{"uid": "blt_jane", "_content_type_uid": "author"}],
        "seo": {"keywords": ["cms"]},
        "sections": [{"hero": {"heading": "Hi"}}],
        "tags": ["news"],
    }
    async with connect(stack) as client:
        data = ok(
            await client.call_tool("create_entry", {"content_type": "blog_post", "fields": fields, "locale": "en-us"})
        )
    (post,) = stack.writes()
    assert json.loads(post.content) == {"entry": fields}
    assert data["written"] is True
    assert data["entry"]["version"] == 1
    assert data["guard"]["decision"] == "allow"


async def test_create_entry_reports_every_schema_problem_at_once_and_sends_nothing() -> None:
    stack = FakeStack()
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
            "create_entry", {"content_type": "blog_post", "fields": fields, "locale": "en-us"}
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


async def test_a_stale_cached_schema_is_read_again_once_before_refusing() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        ok(await client.call_tool("get_content_type", {"content_type": "author"}))
        stack.schemas["author"] = [*AUTHOR_SCHEMA, {"uid": "bio", "data_type": "text"}]
        data = ok(
            await client.call_tool(
                "create_entry",
                {"content_type": "author", "fields": {"title": "Ann", "bio": "Writes."}, "locale": "en-us"},
            )
        )
    schema_reads = [r for r in stack.requests if r.url.path == "/v3/content_types/author"]
    assert len(schema_reads) == 2
    assert data["written"] is True


async def test_a_refusal_by_contentstack_rereads_the_schema_and_reaches_the_model_in_plain_words() -> None:
    stack = FakeStack()
    stack.refuse_writes = {
        "error_message": "Entry creation failed.",
        "error_code": 119,
        "errors": {"title": ["is not unique"]},
    }
    async with connect(stack) as client:
        result = await client.call_tool(
            "create_entry", {"content_type": "author", "fields": {"title": "Jane"}, "locale": "en-us"}
        )
    assert result.is_error
    assert "not unique" in text_of(result)
    assert len([r for r in stack.requests if r.url.path == "/v3/content_types/author"]) == 2


async def test_create_entry_dry_run_answers_the_plan_and_sends_nothing() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        data = ok(
            await client.call_tool(
                "create_entry", {"content_type": "author", "fields": {"title": "A"}, "locale": "fr-fr", "dry_run": True}
            )
        )
    assert data["dry_run"] is True
    assert data["written"] is False
    assert data["plan"]["requests"][0]["method"] == "POST"
    assert data["plan"]["targets"] == {"content_type": ["author"], "locale": ["fr-fr"]}
    assert stack.writes() == []


async def test_update_entry_sends_the_whole_entry_with_the_change_and_answers_the_new_version() -> None:
    stack = FakeStack()
    stack.save("blog_post", "blt2", {"title": "Post 2", "rating": 2, "seo": {"title": "s"}})
    async with connect(stack) as client:
        data = ok(
            await client.call_tool(
                "update_entry",
                {
                    "content_type": "blog_post",
                    "uid": "blt2",
                    "fields": {"rating": 5},
                    "expected_version": 2,
                    "locale": "en-us",
                },
            )
        )
    (put,) = stack.writes()
    assert json.loads(put.content) == {"entry": {"title": "Post 2", "rating": 5, "seo": {"title": "s"}, "tags": []}}
    assert data["entry"]["version"] == 3


async def test_a_stale_update_is_refused_with_the_current_version_and_nothing_is_sent() -> None:
    stack = FakeStack()
    stack.save("blog_post", "blt2", {"title": "Edited by someone else"})
    async with connect(stack) as client:
        result = await client.call_tool(
            "update_entry",
            {
                "content_type": "blog_post",
                "uid": "blt2",
                "fields": {"rating": 5},
                "expected_version": 1,
                "locale": "en-us",
            },
        )
    assert result.is_error
    assert "expected_version=2" in text_of(result)
    assert stack.writes() == []


async def test_an_update_that_empties_a_mandatory_field_is_refused() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        result = await client.call_tool(
            "update_entry",
            {
                "content_type": "blog_post",
                "uid": "blt1",
                "fields": {"title": ""},
                "expected_version": 1,
                "locale": "en-us",
            },
        )
    assert result.is_error
    assert stack.writes() == []


async def test_delete_entry_listed_for_confirmation_answers_a_token_then_deletes_with_it() -> None:
    stack = FakeStack()
    confirm = ConfirmSpec(tools=["delete_entry"], fallback="token")
    args = {"content_type": "blog_post", "uid": "blt3", "locale": "en-us"}
    async with connect(stack, confirm=confirm) as client:
        first = ok(await client.call_tool("delete_entry", args))
        assert first["written"] is False
        assert stack.writes() == []
        token = first["confirmation"]["confirmation_token"]
        second = ok(await client.call_tool("delete_entry", {**args, "confirmation_token": token}))
        replay = await client.call_tool("delete_entry", {**args, "confirmation_token": token})
    assert second["written"] is True
    assert second["guard"]["decision"] == "confirmed"
    assert len(stack.sent("DELETE")) == 1
    assert replay.is_error


async def test_delete_entry_of_a_missing_entry_is_refused_without_a_write() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        result = await client.call_tool("delete_entry", {"content_type": "blog_post", "uid": "gone", "locale": "en-us"})
    assert result.is_error
    assert stack.writes() == []


# -- the guard ---------------------------------------------------------------------------

WRITES: list[tuple[str, dict[str, Any]]] = [
    ("create_entry", {"content_type": "blog_post", "fields": {"title": "x"}}),
    ("update_entry", {"content_type": "blog_post", "uid": "blt1", "fields": {"title": "x"}, "expected_version": 1}),
    ("delete_entry", {"content_type": "blog_post", "uid": "blt1"}),
]


@pytest.mark.parametrize(("tool", "args"), WRITES, ids=[w[0] for w in WRITES])
async def test_a_role_without_the_write_scope_is_denied_and_nothing_is_sent(tool: str, args: dict[str, Any]) -> None:
    stack = FakeStack()
    async with connect(stack, role="viewer") as client:
        result = await client.call_tool(tool, {**args, "locale": "en-us"})
    assert result.is_error
    assert stack.requests == []


@pytest.mark.parametrize(("tool", "args"), WRITES, ids=[w[0] for w in WRITES])
async def test_a_content_type_outside_the_role_is_denied_and_nothing_is_sent(tool: str, args: dict[str, Any]) -> None:
    stack = FakeStack()
    async with connect(stack, role="blog-editor") as client:
        result = await client.call_tool(tool, {**args, "content_type": "author", "locale": "en-us"})
    assert result.is_error
    assert "author" in text_of(result)
    assert stack.requests == []


@pytest.mark.parametrize(("tool", "args"), WRITES, ids=[w[0] for w in WRITES])
async def test_a_locale_outside_the_role_is_denied_and_nothing_is_sent(tool: str, args: dict[str, Any]) -> None:
    stack = FakeStack()
    async with connect(stack, role="blog-editor") as client:
        result = await client.call_tool(tool, {**args, "locale": "fr-fr"})
    assert result.is_error
    assert "fr-fr" in text_of(result)
    assert stack.requests == []


async def test_the_role_inside_its_constraints_may_write() -> None:
    stack = FakeStack()
    async with connect(stack, role="blog-editor") as client:
        data = ok(
            await client.call_tool(
                "create_entry", {"content_type": "blog_post", "fields": {"title": "x"}, "locale": "en-us"}
            )
        )
    assert data["written"] is True
    assert len(stack.writes()) == 1
