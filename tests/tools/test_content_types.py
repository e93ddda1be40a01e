"""The content_types toolset through the MCP client on the sandbox: create with the schema
checked first, update with its field-by-field diff and the confirmation for removing fields
entries use, delete always confirmed."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.client import ConnectMode

from cs_mcp.guard import Guard, parse_policy
from cs_mcp.sandbox import store
from tests.conftest import Fault, SandboxStack, new_sandbox
from tests.helpers import structured, text_of
from tests.tools._on_sandbox import OnSandbox, on_sandbox

pytestmark = pytest.mark.anyio

# A role that may change content types and whose policy asks for no confirmation at all: what
# is confirmed below is what the tools insist on themselves.
DESIGNER = """
[roles.designer]
scopes = ["cm.content-type:read", "cm.entry:read", "cm.content-types.management:write"]

[roles.product-designer]
inherits = ["designer"]
content_types = ["product"]

[confirm]
tools = []
"""
TITLE = {"uid": "title", "display_name": "Title", "data_type": "text", "mandatory": True, "unique": True}
ANSWER = {"uid": "answer", "display_name": "Answer", "data_type": "text"}


async def call(sandbox: OnSandbox, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return structured(await sandbox.client.call_tool(tool, arguments))


def schema_of(sandbox: OnSandbox, content_type: str) -> list[dict[str, Any]]:
    """The content type's schema as the sandbox stores it (what Contentstack would answer)."""
    with sandbox.state.db.read() as conn:
        found = store.get_content_type(conn, content_type)
    return [] if found is None else found["schema"]


async def test_a_created_content_type_is_served_with_its_fields() -> None:
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        planned = await call(
            sandbox,
            "create_content_type",
            {"uid": "faq", "title": "FAQ", "schema": json.dumps([TITLE, ANSWER]), "dry_run": True},
        )
        writes = len(sandbox.transport.writes())
        assert writes == 0
        created = await call(sandbox, "create_content_type", {"uid": "faq", "title": "FAQ", "schema": [TITLE, ANSWER]})
        fields = schema_of(sandbox, "faq")
    assert planned["plan"]["items"] == ["+ title (text)", "+ answer (text)"]
    assert not planned["written"]
    assert created["content_type"] == {"uid": "faq", "title": "FAQ", "fields": 2}
    assert [f["uid"] for f in fields] == ["title", "answer"]


async def test_every_problem_of_a_schema_is_named_at_once_and_nothing_is_sent() -> None:
    bad = [TITLE, {"uid": "Answer", "data_type": "text"}, {"uid": "n", "display_name": "N", "data_type": "decimal"}]
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        result = await sandbox.client.call_tool("create_content_type", {"uid": "faq", "title": "FAQ", "schema": bad})
        taken = await sandbox.client.call_tool(
            "create_content_type", {"uid": "product", "title": "P", "schema": [TITLE]}
        )
        assert len(sandbox.transport.writes()) == 0
    assert result.is_error
    text = text_of(result)
    assert "3 problems" in text
    assert "Answer" in text
    assert "display_name" in text
    assert "decimal" in text
    assert taken.is_error
    assert "exists already" in text_of(taken)


async def test_a_group_holding_something_other_than_fields_is_refused_with_the_problem_named() -> None:
    group = {"uid": "byline", "display_name": "Byline", "data_type": "group", "schema": ["author"]}
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        result = await sandbox.client.call_tool(
            "create_content_type", {"uid": "faq", "title": "FAQ", "schema": [TITLE, group]}
        )
        assert len(sandbox.transport.writes()) == 0
    assert result.is_error
    assert "byline.field 1: a field must be a JSON object" in text_of(result)


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"add_fields": [{"uid": ["sku"], "display_name": "SKU", "data_type": "text"}]}, "uid must be"),
        ({"schema": [TITLE, {"uid": {"a": 1}}], "remove_fields": ["title"]}, "uid must be"),
    ],
    ids=["added", "removed-beside"],
)
async def test_a_uid_that_is_no_text_is_a_problem_of_the_schema_when_fields_are_added_or_removed(
    arguments: dict[str, Any], problem: str
) -> None:
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        result = await sandbox.client.call_tool("update_content_type", {"content_type": "author", **arguments})
        assert len(sandbox.transport.writes()) == 0
    assert result.is_error
    assert problem in text_of(result)
    assert "Nothing was sent" in text_of(result)


async def test_a_multiple_field_made_single_with_false_as_text_is_refused_before_its_values_go() -> None:
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        with sandbox.state.db.transaction() as conn:
            product = store.get_content_type(conn, "product")
            assert product is not None
            store.save_content_type(conn, product | {"schema": with_sku(sandbox, multiple=True)})
        result = await sandbox.client.call_tool(
            "update_content_type", {"content_type": "product", "schema": with_sku(sandbox, multiple="false")}
        )
        assert len(sandbox.transport.writes()) == 0
    assert result.is_error
    assert "sku: multiple must be true or false" in text_of(result)


async def test_an_update_shows_its_change_field_by_field_and_adding_a_field_needs_no_confirmation() -> None:
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        schema = schema_of(sandbox, "author")
        changed = [dict(f) for f in schema]
        changed[0]["display_name"] = "Name"
        changed.append({"uid": "nickname", "display_name": "Nickname", "data_type": "text"})
        planned = await call(
            sandbox, "update_content_type", {"content_type": "author", "schema": changed, "dry_run": True}
        )
        done = await call(sandbox, "update_content_type", {"content_type": "author", "schema": changed})
        again = await call(sandbox, "update_content_type", {"content_type": "author", "schema": changed})
        after = schema_of(sandbox, "author")
    assert planned["plan"]["items"] == ['~ title: display_name "Title" -> "Name"', "+ nickname (text)"]
    assert planned["verdict"]["decision"] == "allow"
    assert done["written"]
    assert after[-1]["uid"] == "nickname"
    assert not again["written"]
    assert again["notice"] == "No change."


async def test_removing_a_field_that_entries_use_needs_a_yes_and_then_drops_its_values() -> None:
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        schema = schema_of(sandbox, "product")
        asked = await call(sandbox, "update_content_type", {"content_type": "product", "remove_fields": ["sku"]})
        assert len(sandbox.transport.writes()) == 0
        token = asked["confirmation"]["confirmation_token"]
        done = await call(
            sandbox,
            "update_content_type",
            {"content_type": "product", "remove_fields": ["sku"], "confirmation_token": token},
        )
        after = [f["uid"] for f in schema_of(sandbox, "product")]
        entries = (await call(sandbox, "query_entries", {"content_type": "product", "limit": 5}))["entries"]
    assert asked["verdict"]["decision"] == "confirm"
    assert "sku" in asked["verdict"]["reason"]
    assert any(line.startswith("- sku (text) (values in") for line in asked["plan"]["items"])
    assert done["written"]
    assert after == [f["uid"] for f in schema if f["uid"] != "sku"]
    assert entries
    assert all("sku" not in e for e in entries)


def with_sku(sandbox: OnSandbox, **changes: Any) -> list[dict[str, Any]]:
    """The product schema with `changes` made to its sku field."""
    return [f | changes if f["uid"] == "sku" else f for f in schema_of(sandbox, "product")]


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        ({"data_type": "number"}, '~ sku: data_type "text" -> "number" (values in'),
        ({"multiple": True}, "~ sku: multiple false -> true (values in"),
    ],
    ids=["retyped", "made-multiple"],
)
async def test_changing_how_a_field_entries_use_holds_its_value_needs_a_yes_and_then_drops_its_values(
    changes: dict[str, Any], line: str
) -> None:
    # "Scenarios Where Editing a Content Type Is Unsafe": a field given another data type or
    # marked multiple loses its data in every entry.
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        schema = with_sku(sandbox, **changes)
        asked = await call(sandbox, "update_content_type", {"content_type": "product", "schema": schema})
        assert len(sandbox.transport.writes()) == 0
        token = asked["confirmation"]["confirmation_token"]
        done = await call(
            sandbox, "update_content_type", {"content_type": "product", "schema": schema, "confirmation_token": token}
        )
        entries = (await call(sandbox, "query_entries", {"content_type": "product", "limit": 5}))["entries"]
    assert asked["verdict"]["decision"] == "confirm"
    assert "sku" in asked["verdict"]["reason"]
    assert [item for item in asked["plan"]["items"] if item.startswith(line)]
    assert done["written"]
    assert entries
    assert all("sku" not in e for e in entries)


async def test_renaming_a_field_entries_use_keeps_its_values_and_needs_no_confirmation() -> None:
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        schema = with_sku(sandbox, display_name="Stock keeping unit")
        done = await call(sandbox, "update_content_type", {"content_type": "product", "schema": schema})
        entries = (await call(sandbox, "query_entries", {"content_type": "product", "limit": 5}))["entries"]
    assert done["written"]
    assert done["plan"]["items"] == ['~ sku: display_name "SKU" -> "Stock keeping unit"']
    assert entries
    assert all("sku" in e for e in entries)


async def test_removing_a_field_no_entry_uses_needs_no_confirmation() -> None:
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        await call(sandbox, "create_content_type", {"uid": "faq", "title": "FAQ", "schema": [TITLE, ANSWER]})
        done = await call(sandbox, "update_content_type", {"content_type": "faq", "remove_fields": ["answer"]})
        added = await call(sandbox, "update_content_type", {"content_type": "faq", "add_fields": [ANSWER]})
        twice = await sandbox.client.call_tool("update_content_type", {"content_type": "faq", "add_fields": [ANSWER]})
    assert done["written"]
    assert done["plan"]["items"] == ["- answer (text)"]
    assert added["written"]
    assert added["plan"]["items"] == ["+ answer (text)"]
    assert twice.is_error
    assert "has already" in text_of(twice)


async def test_deleting_a_content_type_always_needs_a_yes_then_deletes_it_and_its_entries() -> None:
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        asked = await call(sandbox, "delete_content_type", {"content_type": "author"})
        assert len(sandbox.transport.writes()) == 0
        token = asked["confirmation"]["confirmation_token"]
        done = await call(sandbox, "delete_content_type", {"content_type": "author", "confirmation_token": token})
        gone = await sandbox.client.call_tool("get_content_type", {"content_type": "author"})
    assert asked["verdict"]["decision"] == "confirm"
    assert "every entry" in asked["verdict"]["reason"]
    assert "entries" in asked["plan"]["summary"]
    assert done["written"]
    assert done["notice"] == "Content Type deleted successfully."
    assert gone.is_error


async def test_a_confirmation_for_one_schema_does_not_carry_over_to_another() -> None:
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        schema = schema_of(sandbox, "product")
        asked = await call(
            sandbox,
            "update_content_type",
            {"content_type": "product", "schema": [f for f in schema if f["uid"] != "sku"]},
        )
        token = asked["confirmation"]["confirmation_token"]
        other = await sandbox.client.call_tool(
            "update_content_type",
            {
                "content_type": "product",
                "schema": [f for f in schema if f["uid"] != "price"],
                "confirmation_token": token,
            },
        )
        assert len(sandbox.transport.writes()) == 0
    assert other.is_error
    assert "confirmation refused" in text_of(other)


async def test_a_role_limited_to_some_content_types_may_change_only_those() -> None:
    async with on_sandbox(role="product-designer", policy=DESIGNER) as sandbox:
        sent = len(sandbox.transport.sent)
        denied = await sandbox.client.call_tool(
            "update_content_type", {"content_type": "author", "title": "Writers", "dry_run": True}
        )
        assert len(sandbox.transport.sent) == sent
        allowed = await call(
            sandbox, "update_content_type", {"content_type": "product", "title": "Goods", "dry_run": True}
        )
    assert denied.is_error
    assert "denied" in text_of(denied)
    assert allowed["plan"]["items"] == ["~ title: 'Product' -> 'Goods'"]


# A designer that may also publish, but only to development.
DEVELOPMENT_DESIGNER = """
[roles.designer]
scopes = ["cm.content-type:read", "cm.entry:read", "cm.content-types.management:write", "cm.entry:publish"]
environments = ["development"]

[confirm]
tools = []
"""


async def test_a_role_limited_to_some_environments_may_not_delete_a_content_type_whose_entries_are_live_elsewhere() -> (
    None
):
    async with on_sandbox(role="designer", policy=DEVELOPMENT_DESIGNER) as sandbox:
        sent = len(sandbox.transport.writes())
        denied = await sandbox.client.call_tool("delete_content_type", {"content_type": "product"})
        writes = len(sandbox.transport.writes()) - sent
        kept = schema_of(sandbox, "product")
    assert denied.is_error
    assert "denied" in text_of(denied)
    assert "production" in text_of(denied)
    assert writes == 0
    assert kept


async def test_deleting_a_content_type_names_the_locales_and_environments_its_entries_reach() -> None:
    async with on_sandbox(role="designer", policy=DESIGNER) as sandbox:
        asked = await call(sandbox, "delete_content_type", {"content_type": "product", "dry_run": True})
    assert asked["plan"]["targets"]["environment"] == ["development", "production", "staging"]
    assert asked["plan"]["targets"]["locale"] == ["en-us", "fr-fr"]
    assert "production" in asked["plan"]["summary"]


# An editor of products in en-us who may also change the product content type.
EN_US_PRODUCT_DESIGNER = DESIGNER.replace(
    'content_types = ["product"]', 'scopes = ["cm.entry:write"]\ncontent_types = ["product"]\nlocales = ["en-us"]'
)


async def test_a_role_limited_to_the_master_locale_may_not_delete_a_content_type_with_localized_entries() -> None:
    async with on_sandbox(role="product-designer", policy=EN_US_PRODUCT_DESIGNER) as sandbox:
        denied = await sandbox.client.call_tool("delete_content_type", {"content_type": "product", "dry_run": True})
    assert denied.is_error
    assert "may not write to locale fr-fr" in text_of(denied)


@pytest.mark.parametrize("change", ["remove", "retype", "make-multiple"])
async def test_a_role_limited_to_the_master_locale_may_not_drop_the_values_localized_entries_hold(change: str) -> None:
    async with on_sandbox(role="product-designer", policy=EN_US_PRODUCT_DESIGNER) as sandbox:
        arguments: dict[str, Any] = {
            "remove": {"remove_fields": ["sku"]},
            "retype": {"schema": with_sku(sandbox, data_type="number")},
            "make-multiple": {"schema": with_sku(sandbox, multiple=True)},
        }[change]
        denied = await sandbox.client.call_tool(
            "update_content_type", {"content_type": "product", "dry_run": True, **arguments}
        )
        fields = schema_of(sandbox, "product")
    assert denied.is_error
    assert "may not write to locale fr-fr" in text_of(denied)
    assert fields == with_sku(sandbox)


# A designer of news who edits it in en-us only.
NEWS_DESIGNER = """
[roles.news-designer]
scopes = ["cm.content-type:read", "cm.entry:read", "cm.entry:write", "cm.content-types.management:write"]
content_types = ["news"]
locales = ["en-us"]

[confirm]
tools = []
"""
SUMMARY = {"uid": "summary", "display_name": "Summary", "data_type": "text"}


def news_desk() -> SandboxStack:
    """The sandbox with a `news` content type whose one entry, blt_news, holds a summary in
    en-us and has no other locale."""
    stack = new_sandbox()
    stack.save_content_type("news", [TITLE, SUMMARY])
    stack.save_entry("news", "blt_news", {"title": "News", "summary": "What happened"})
    return stack


def news_designer(stack: SandboxStack, fault: Fault | None = None, *, policy: str = NEWS_DESIGNER) -> Client:
    """A client for the news designer on `stack` (`fault` in front of the sandbox), under
    `policy`."""
    guard = Guard(parse_policy(policy))
    return stack.client("news-designer", guard=guard, env={"CS_MCP_TOOLSETS": "content_types"}, fault=fault)


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [("delete_content_type", {}), ("update_content_type", {"remove_fields": ["summary"]})],
)
async def test_a_language_added_within_the_minute_is_read_afresh_before_a_content_type_change_reaches_it(
    tool: str, arguments: dict[str, Any]
) -> None:
    stack = news_desk()
    async with news_designer(stack) as client:
        allowed = await client.call_tool(tool, {"content_type": "news", "dry_run": True, **arguments})
        # Added elsewhere (the web app, another server) while this server holds the locales it read.
        stack.add_locale("de-de")
        stack.save_entry("news", "blt_news", {"title": "Nachricht", "summary": "Was geschah"}, locale="de-de")
        denied = await client.call_tool(tool, {"content_type": "news", "dry_run": True, **arguments})
    assert not allowed.is_error, text_of(allowed)
    assert denied.is_error
    assert "may not write to locale de-de" in text_of(denied)


@pytest.mark.parametrize("answered_in", ["fr-fr", "en-us"])
async def test_a_role_limited_to_the_master_locale_may_not_delete_a_content_type_published_in_another(
    answered_in: str,
) -> None:
    stack = news_desk()
    fault = stack.publish_unlocalized("news", "blt_news", "development", "fr-fr", answered_in=answered_in)
    async with news_designer(stack, fault) as client:
        denied = await client.call_tool("delete_content_type", {"content_type": "news", "dry_run": True})
    assert denied.is_error
    assert "may not write to locale fr-fr" in text_of(denied)


async def test_entries_answered_from_another_locale_do_not_count_as_using_a_field_there() -> None:
    stack = news_desk()

    async def with_fallbacks(request: httpx2.Request) -> httpx2.Response | None:
        """Answers a query in fr-fr with the entries not localized there read from en-us, as
        the CMA may: the sandbox does when asked to fall back."""
        if request.url.params.get("locale") != "fr-fr" or not request.url.path.endswith("/entries"):
            return None
        fallback = request.url.copy_add_param("include_fallback", "true")
        return await stack.transport.handle_async_request(httpx2.Request("GET", fallback, headers=request.headers))

    async with news_designer(stack, with_fallbacks) as client:
        planned = await client.call_tool(
            "update_content_type", {"content_type": "news", "remove_fields": ["summary"], "dry_run": True}
        )
    assert not planned.is_error, text_of(planned)
    assert structured(planned)["plan"]["targets"]["locale"] == ["en-us"]
    assert structured(planned)["plan"]["items"] == ["- summary (text) (values in 1 entries are deleted)"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("delete_content_type", {}),
        ("update_content_type", {"remove_fields": ["summary"]}),
        ("update_content_type", {"schema": [TITLE, SUMMARY | {"data_type": "json"}]}),
    ],
    ids=["delete", "remove-field", "retype-field"],
)
async def test_a_content_type_change_reaching_a_locale_localized_while_its_human_agrees_is_refused(
    mode: ConnectMode, tool: str, arguments: dict[str, Any]
) -> None:
    stack = news_desk()  # the en-us entry uses the summary: removing it asks a human too

    def localize() -> None:
        stack.save_entry("news", "blt_news", {"title": "Nouvelle", "summary": "Ce qui arriva"}, locale="fr-fr")

    guard = Guard(parse_policy(NEWS_DESIGNER))
    refusal = await stack.refused_after_agreeing(
        localize,
        tool,
        {"content_type": "news", **arguments},
        role="news-designer",
        guard=guard,
        toolsets="content_types",
        mode=mode,
    )
    assert "locale fr-fr" in refusal


# Contentstack's "Content Type Change Management": schema changes do not touch published
# entries, except their references, read by the latest schema until they are published again.
RELATED = {"uid": "related", "display_name": "Related", "data_type": "reference", "reference_to": ["news"]}
BYLINE = {
    "uid": "byline",
    "display_name": "Byline",
    "data_type": "group",
    "schema": [{"uid": "author", "display_name": "Author", "data_type": "reference", "reference_to": ["author"]}],
}
# The news designer, who may publish, to development only.
DEVELOPMENT_NEWS_DESIGNER = NEWS_DESIGNER.replace('locales = ["en-us"]', 'environments = ["development"]').replace(
    '"cm.entry:write",', '"cm.entry:write", "cm.entry:publish",'
)


def linked_news_desk(*, live: bool = True) -> SandboxStack:
    """`news_desk`'s entry with a related story and a byline, its version 2 live in
    production unless not `live`."""
    stack = news_desk()
    stack.save_content_type("news", [TITLE, SUMMARY, RELATED, BYLINE])
    related = [{"uid": "blt_news", "_content_type_uid": "news"}]
    stack.save_entry("news", "blt_news", {"title": "News", "summary": "What happened", "related": related})
    if live:
        stack.publish("news", "blt_news", "production", version=2)
    return stack


async def plan_of(stack: SandboxStack, arguments: dict[str, Any]) -> tuple[bool, str, dict[str, Any] | None]:
    """Whether the development-only designer's dry run of `update_content_type` on news was
    refused, its text, and its plan when it was not."""
    async with news_designer(stack, policy=DEVELOPMENT_NEWS_DESIGNER) as client:
        answer = await client.call_tool("update_content_type", {"content_type": "news", "dry_run": True, **arguments})
    assert stack.writes() == []
    return answer.is_error, text_of(answer), None if answer.is_error else structured(answer)["plan"]


@pytest.mark.parametrize(
    "arguments",
    [
        {"remove_fields": ["related"]},
        {"remove_fields": ["byline"]},
        {"schema": [TITLE, SUMMARY, RELATED | {"reference_to": ["news", "author"]}, BYLINE]},
        {"schema": [TITLE, SUMMARY, RELATED | {"data_type": "text"}, BYLINE]},
        {"schema": [TITLE, SUMMARY, RELATED, BYLINE | {"schema": []}]},
    ],
    ids=["remove", "remove-group-holding-one", "retarget", "retype", "remove-nested"],
)
async def test_a_role_limited_to_development_may_not_change_a_reference_of_entries_live_in_production(
    arguments: dict[str, Any],
) -> None:
    refused, text, _ = await plan_of(linked_news_desk(), arguments)
    assert refused
    assert "may not write to environment production" in text


@pytest.mark.parametrize(
    "arguments",
    [{"remove_fields": ["summary"]}, {"schema": [TITLE, SUMMARY | {"display_name": "Standfirst"}, RELATED, BYLINE]}],
    ids=["remove", "rename"],
)
async def test_changing_a_field_that_is_no_reference_does_not_reach_where_entries_are_published(
    arguments: dict[str, Any],
) -> None:
    refused, text, plan = await plan_of(linked_news_desk(), arguments)
    assert not refused, text
    assert plan is not None
    assert "environment" not in plan["targets"]


async def test_changing_a_reference_names_the_environments_whose_entries_read_it_by_the_new_schema() -> None:
    stack = linked_news_desk()
    stack.publish("news", "blt_news", "development", version=2)
    async with news_designer(stack) as client:
        planned = await client.call_tool(
            "update_content_type", {"content_type": "news", "remove_fields": ["related"], "dry_run": True}
        )
    plan = structured(planned)["plan"]
    assert plan["targets"]["environment"] == ["development", "production"]
    assert plan["targets"]["locale"] == ["en-us"]
    assert "published to development, production read related" in plan["summary"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_removing_a_reference_of_entries_published_to_production_while_its_human_agrees_is_refused(
    mode: ConnectMode,
) -> None:
    stack = linked_news_desk(live=False)

    def go_live() -> None:
        stack.publish("news", "blt_news", "production", version=2)

    refusal = await stack.refused_after_agreeing(
        go_live,
        "update_content_type",
        {"content_type": "news", "remove_fields": ["related"]},
        role="news-designer",
        guard=Guard(parse_policy(DEVELOPMENT_NEWS_DESIGNER)),
        toolsets="content_types",
        mode=mode,
    )
    assert "environment production" in refusal


AUTHOR = {"uid": "author", "display_name": "Author", "data_type": "reference", "reference_to": ["author"]}
# A global field used as a block, as Contentstack answers it with its definition's fields.
PROMO = {"uid": "promo", "title": "Promo", "reference_to": "promo", "schema": [AUTHOR]}
SECTIONS = {"uid": "sections", "display_name": "Sections", "data_type": "blocks", "blocks": [PROMO]}


@pytest.mark.parametrize(
    ("sections", "refusal"),
    [
        (SECTIONS | {"blocks": [PROMO | {"reference_to": "banner"}]}, "may not write to environment production"),
        (
            SECTIONS | {"blocks": [PROMO | {"schema": [AUTHOR | {"reference_to": ["news"]}]}, PROMO]},
            "sections.promo: the block uid is used twice",
        ),
    ],
    ids=["global-field-block-retargeted", "block-uid-used-twice"],
)
async def test_a_role_limited_to_development_may_not_change_a_reference_in_a_block_of_entries_live_in_production(
    sections: dict[str, Any], refusal: str
) -> None:
    stack = news_desk()
    stack.save_content_type("news", [TITLE, SUMMARY, SECTIONS])
    promo = [{"promo": {"author": [{"uid": "blt_author", "_content_type_uid": "author"}]}}]
    stack.save_entry("news", "blt_news", {"title": "News", "summary": "What happened", "sections": promo})
    stack.publish("news", "blt_news", "production", version=2)
    # With a change the plan shows, so that the definition is sent.
    refused, text, plan = await plan_of(stack, {"schema": [TITLE, SUMMARY, sections], "title": "Newsroom"})
    assert refused, plan
    assert refusal in text


async def test_a_role_limited_to_development_may_not_make_a_group_holding_a_live_reference_multiple() -> None:
    byline = BYLINE | {"multiple": True}
    refused, text, plan = await plan_of(linked_news_desk(), {"schema": [TITLE, SUMMARY, RELATED, byline]})
    assert refused, plan
    assert "may not write to environment production" in text


async def test_a_global_field_entries_use_pointed_at_another_definition_needs_a_yes() -> None:
    seo = {"uid": "seo", "display_name": "SEO", "data_type": "global_field", "reference_to": "seo"}
    stack = new_sandbox()
    stack.save_content_type("news", [TITLE, seo])
    stack.save_entry("news", "blt_news", {"title": "News", "seo": {"keywords": "what happened"}})
    async with news_designer(stack) as client:
        asked = await client.call_tool(
            "update_content_type",
            {"content_type": "news", "schema": [TITLE, seo | {"reference_to": "banner"}], "dry_run": True},
        )
    assert not asked.is_error, text_of(asked)
    assert structured(asked)["verdict"]["decision"] == "confirm"
    assert structured(asked)["plan"]["items"] == [
        '~ seo: reference_to "seo" -> "banner" (values in 1 entries are deleted)'
    ]
