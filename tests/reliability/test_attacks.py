"""The attacks of a hostile principal on the guard, each replayed on the sandbox: a path in a
queue uid, a deploy that reaches more (item, locale) pairs than it showed, an item slipped into
a release during a deploy, a confirmation token outliving its target, a release that skips the
items' publish scopes, and a cancelled deployment checked against the release's current items."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver.tools import Tool

from cs_mcp.config import Settings
from cs_mcp.guard import AuditLog, AuditRecord, Guard, parse_policy, read_audit
from cs_mcp.sandbox import store
from cs_mcp.sandbox.app import create_app
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.runner import sandbox_env
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState
from cs_mcp.server import build_server
from cs_mcp.toolkit.registry import registered_tools
from tests.helpers import UNPACED, structured, text_of

pytestmark = pytest.mark.anyio

POLICY = """
[roles.scheduler]
inherits = ["viewer"]
scopes = ["cm.entry:publish", "cm.publish-queue.management:write"]
content_types = ["blog_post"]
environments = ["staging"]

[roles.releaser]
inherits = ["viewer"]
scopes = ["cm.release:write", "cm.release:deploy", "cm.release:clone", "cm.entry:publish"]

[roles.publisher]
inherits = ["viewer"]
scopes = ["cm.entry:publish", "cm.release:write", "cm.release:deploy", "cm.publish-queue.management:write"]
content_types = ["product"]
environments = ["development"]

[confirm]
tools = ["delete_entry"]
fallback = "token"
"""
ROLES = ("admin", "scheduler", "releaser", "publisher")
LATER = "2099-01-01T00:00:00Z"

Hook = Callable[[httpx2.Request], Awaitable[None]]


class HookedTransport(httpx2.AsyncBaseTransport):
    """The sandbox app in process; records every request, and runs `hook` before each."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[tuple[str, str]] = []
        self.hook: Hook | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append((request.method, request.url.raw_path.decode()))
        if self.hook is not None:
            await self.hook(request)
        return await self.inner.handle_async_request(request)

    def sent(self, path_part: str, method: str | None = None) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if path_part in p and (method is None or m == method)]


@dataclass
class Stack:
    state: SandboxState
    transport: HookedTransport
    clients: dict[str, Client]
    audit_path: Path
    ids: dict[str, Any] = field(default_factory=lambda: {})

    async def call(self, role: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return structured(await self.clients[role].call_tool(tool, arguments))

    def audit(self, tool: str) -> list[AuditRecord]:
        return [r for r in read_audit(self.audit_path) if r.tool == tool]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncGenerator[Stack]:
    config = SandboxConfig(rate_limits=False)
    state = SandboxState(config=config, db=Database(config.db_path), clock=SandboxClock())
    transport = HookedTransport(httpx2.ASGITransport(create_app(state)))
    settings = Settings.from_env(sandbox_env("http://sandbox.test", DEMO_CREDENTIALS))
    audit_path = tmp_path / "audit.jsonl"
    guard = Guard(parse_policy(POLICY), audit=AuditLog(audit_path))
    clients = {
        role: Client(
            build_server(
                settings, backend="sandbox", guard=guard, stdio_role=role, transport=transport, rate_limits=UNPACED
            )
        )
        for role in ROLES
    }
    async with AsyncExitStack() as entered:
        for client in clients.values():
            await entered.enter_async_context(client)
        yield Stack(state, transport, clients, audit_path)


async def first_entry(stack: Stack, content_type: str, locale: str = "en-us") -> dict[str, Any]:
    entries = (await stack.call("admin", "query_entries", {"content_type": content_type, "locale": locale}))["entries"]
    return next(e for e in entries if e.get("locale", locale) == locale)


async def localized_products(stack: Stack) -> list[dict[str, Any]]:
    """Products that have a French version, so that both locales of each exist."""
    found = (await stack.call("admin", "query_entries", {"content_type": "product", "locale": "fr-fr"}))["entries"]
    return [e for e in found if e["locale"] == "fr-fr"]


def entry_item(content_type: str, uid: str, locale: str = "en-us") -> dict[str, Any]:
    return {"type": "entry", "content_type": content_type, "uid": uid, "locale": locale}


async def scheduled_row(stack: Stack, what: str) -> dict[str, Any]:
    rows = (await stack.call("admin", "list_publish_queue", {"status": "scheduled"}))["rows"]
    return next(r for r in rows if what in (r.get("item_uid"), r.get("release")))


async def published_in(stack: Stack, content_type: str, uid: str, locale: str) -> set[str]:
    entry = (await stack.call("admin", "get_entry", {"content_type": content_type, "uid": uid, "locale": locale}))[
        "entry"
    ]
    details = cast(list[dict[str, Any]], entry.get("publish_details") or [])
    with stack.state.db.read() as conn:
        names = {str(store.environment_uid(conn, name)): name for name in ("development", "staging", "production")}
    return {names.get(str(d["environment"]), str(d["environment"])) for d in details if d.get("locale") == locale}


# -- attack 1: a path in an identifier --------------------------------------------------------


IDENTIFIER_ARGUMENTS = {
    "content_type", "uid", "locale", "locales", "environment", "environments", "release_uid", "queue_uid",
    "project_id", "automation_id", "execution_id", "job_id", "folder", "stack_api_key",
}  # fmt: skip


def _strings(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The string schemas inside `schema` (through refs, unions and arrays)."""
    if "$ref" in schema:
        return _strings(defs[str(schema["$ref"]).rsplit("/", 1)[-1]], defs)
    found: list[dict[str, Any]] = [schema] if schema.get("type") == "string" else []
    for option in cast(list[dict[str, Any]], schema.get("anyOf", [])):
        found += _strings(option, defs)
    if schema.get("type") == "array":
        found += _strings(cast(dict[str, Any], schema.get("items", {})), defs)
    return found


def _identifier_schemas(schema: dict[str, Any], defs: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name, sub in cast(dict[str, dict[str, Any]], schema.get("properties", {})).items():
        if name in IDENTIFIER_ARGUMENTS:
            found += [(f"{where}.{name}", s) for s in _strings(sub, defs)]
        target = defs[str(sub["$ref"]).rsplit("/", 1)[-1]] if "$ref" in sub else sub
        if target.get("type") == "array":
            # Listed schemas inline their definitions; a `$ref` is followed all the same.
            item = cast(dict[str, Any], target.get("items", {}))
            if "$ref" in item:
                item = defs[str(item["$ref"]).rsplit("/", 1)[-1]]
            if "properties" in item:
                found += _identifier_schemas(item, defs, f"{where}.{name}[]")
    return found


def test_every_identifier_argument_of_every_tool_has_a_pattern_without_path_characters() -> None:
    # The server's own schemas, which it checks every call against (the listed ones leave
    # patterns to that check).
    checked: list[str] = []
    for spec in registered_tools():
        schema = Tool.from_function(spec.fn, name=spec.name, structured_output=True).parameters
        for where, string in _identifier_schemas(schema, cast(dict[str, Any], schema.get("$defs", {})), spec.name):
            pattern = string.get("pattern")
            assert pattern, f"{where} has no pattern"
            for bad in ("a/b", "a%2Fb", "a?b", "a#b", "a b", "a\nb", "a\\b", ".."):
                assert not re.search(pattern, bad), f"{where} allows {bad!r}"
            assert re.search(pattern, "blt0123abcd")
            checked.append(where)
    assert "cancel_scheduled_publish.queue_uid" in checked
    assert "publish.items[].uid" in checked
    assert "deploy_release.locales" in checked


async def scheduled_page_publish(stack: Stack) -> tuple[dict[str, Any], dict[str, Any]]:
    """Another user's scheduled publish of a page to production: the page and its queue row."""
    page = await first_entry(stack, "page")
    await stack.call(
        "admin",
        "publish",
        {"items": [entry_item("page", page["uid"])], "environments": ["production"], "scheduled_at": LATER},
    )
    return page, await scheduled_row(stack, page["uid"])


async def test_a_queue_uid_carrying_a_path_is_refused_and_cancels_nothing(stack: Stack) -> None:
    page, row = await scheduled_page_publish(stack)
    for suffix in ("/unschedule", "%2Funschedule", "/../x", " "):
        for dry_run in (True, False):
            sent_before = len(stack.transport.requests)
            result = await stack.clients["scheduler"].call_tool(
                "cancel_scheduled_publish", {"queue_uid": row["uid"] + suffix, "dry_run": dry_run}
            )
            assert result.is_error, (suffix, dry_run)
            assert len(stack.transport.requests) == sent_before, (suffix, dry_run)
    assert stack.transport.sent("/unschedule") == []
    assert (await scheduled_row(stack, page["uid"]))["status"] == "scheduled"


async def test_cancelling_a_scheduled_publish_outside_the_role_is_denied_from_the_row_read_and_audited(
    stack: Stack,
) -> None:
    page, row = await scheduled_page_publish(stack)
    result = await stack.clients["scheduler"].call_tool("cancel_scheduled_publish", {"queue_uid": row["uid"]})
    assert result.is_error
    assert "denied" in text_of(result)
    # The row was read (a plain GET of the uid), and nothing else was sent for it.
    assert stack.transport.sent("/unschedule") == []
    reads = stack.transport.sent(f"/publish-queue/{row['uid']}")
    assert reads
    assert all(m == "GET" and p.endswith(f"/publish-queue/{row['uid']}") for m, p in reads)
    denied = stack.audit("cancel_scheduled_publish")[-1]
    assert denied.decision == "deny"
    assert "production" in denied.targets.get("environment", [])
    assert (await scheduled_row(stack, page["uid"]))["status"] == "scheduled"


# -- attack 2: a deploy reaches exactly the (item, locale) pairs it shows ---------------------


async def unpublished_french_products(stack: Stack, environment: str) -> list[dict[str, Any]]:
    """Products with a French version that is not published in `environment`."""
    found: list[dict[str, Any]] = []
    for product in await localized_products(stack):
        if environment not in await published_in(stack, "product", product["uid"], "fr-fr"):
            found.append(product)
    return found


async def test_a_deploy_without_locales_of_a_release_in_several_locales_is_refused_and_sends_nothing(
    stack: Stack,
) -> None:
    a, b = (await unpublished_french_products(stack, "staging"))[:2]
    items = [entry_item("product", a["uid"], "en-us"), entry_item("product", b["uid"], "fr-fr")]
    uid = (await stack.call("admin", "create_release", {"name": "Mixed", "items": items}))["release"]["uid"]
    result = await stack.clients["admin"].call_tool("deploy_release", {"release_uid": uid, "environments": ["staging"]})
    assert result.is_error
    assert stack.transport.sent(f"/releases/{uid}/deploy") == []
    assert stack.transport.sent(f"/releases/{uid}", "PUT") == []
    # A's French draft, which the release does not hold, stays unpublished.
    assert "staging" not in await published_in(stack, "product", a["uid"], "fr-fr")


async def test_a_deploy_with_locales_previews_and_checks_every_item_locale_pair(stack: Stack) -> None:
    a, b = (await localized_products(stack))[:2]
    items = [entry_item("product", a["uid"], "en-us"), entry_item("product", b["uid"], "fr-fr")]
    uid = (await stack.call("admin", "create_release", {"name": "Mixed", "items": items}))["release"]["uid"]
    answer = await stack.call(
        "admin",
        "deploy_release",
        {"release_uid": uid, "environments": ["staging"], "locales": ["en-us", "fr-fr"], "dry_run": True},
    )
    shown = answer["plan"]["items"]
    assert len(shown) == 4
    assert any(a["uid"] in s and "in fr-fr, the latest fr-fr version" in s for s in shown)
    assert answer["locales"] == ["en-us", "fr-fr"]


async def test_a_deploy_of_a_release_in_one_locale_publishes_only_that_locale(stack: Stack) -> None:
    a = (await unpublished_french_products(stack, "staging"))[0]
    items = [entry_item("product", a["uid"], "en-us")]
    uid = (await stack.call("admin", "create_release", {"name": "English", "items": items}))["release"]["uid"]
    done = await stack.call("admin", "deploy_release", {"release_uid": uid, "environments": ["staging"]})
    assert done["locales"] == ["en-us"]
    assert "staging" in await published_in(stack, "product", a["uid"], "en-us")
    assert "staging" not in await published_in(stack, "product", a["uid"], "fr-fr")


# -- attack 3: nothing slips into a release between the check and the deploy ------------------


def slip_in(stack: Stack, release_uid: str, entry: dict[str, Any], before: str) -> list[int]:
    """Makes another writer add `entry` (French product) to the release, once, just before the
    first request `before` ("PUT" locks the release, "POST" deploys it). Answers the statuses
    that writer got."""
    statuses: list[int] = []
    release_path = f"/releases/{release_uid}"

    async def add(request: httpx2.Request) -> None:
        target = release_path + ("/deploy" if before == "POST" else "")
        if statuses or request.method != before or not request.url.path.endswith(target):
            return
        item = {"uid": entry["uid"], "content_type_uid": "product", "locale": "fr-fr", "version": entry["_version"]}
        url = str(request.url)
        sneak = httpx2.Request(
            "POST",
            url[: url.index(release_path) + len(release_path)] + "/items",
            headers={k: v for k, v in request.headers.items() if k.lower() != "content-length"},
            content=json.dumps({"items": [{**item, "action": "publish"}]}).encode(),
        )
        response = await stack.transport.inner.handle_async_request(sneak)
        await response.aread()
        statuses.append(response.status_code)

    stack.transport.hook = add
    return statuses


async def test_an_item_added_while_a_deploy_runs_is_not_deployed_and_the_release_is_unlocked_after(
    stack: Stack,
) -> None:
    a, b = (await unpublished_french_products(stack, "staging"))[:2]
    items = [entry_item("product", a["uid"], "fr-fr")]
    uid = (await stack.call("admin", "create_release", {"name": "One", "items": items}))["release"]["uid"]
    slipped = slip_in(stack, uid, b, before="POST")
    done = await stack.call("admin", "deploy_release", {"release_uid": uid, "environments": ["staging"]})
    stack.transport.hook = None
    assert slipped
    assert slipped[0] >= 400  # the release was locked: the other writer was refused
    assert done["notice"]
    assert "staging" in await published_in(stack, "product", a["uid"], "fr-fr")
    assert "staging" not in await published_in(stack, "product", b["uid"], "fr-fr")
    assert (await stack.call("admin", "get_release", {"release_uid": uid}))["release"]["locked"] is False
    line = stack.audit("deploy_release")[-1]
    assert (line.decision, line.outcome) == ("allow", "ok")
    assert all(b["uid"] not in item for item in line.targets["items"])


async def test_a_release_that_changed_after_the_check_is_not_deployed(stack: Stack) -> None:
    a, b = (await unpublished_french_products(stack, "staging"))[:2]
    items = [entry_item("product", a["uid"], "fr-fr")]
    uid = (await stack.call("admin", "create_release", {"name": "One", "items": items}))["release"]["uid"]
    slipped = slip_in(stack, uid, b, before="PUT")
    result = await stack.clients["admin"].call_tool("deploy_release", {"release_uid": uid, "environments": ["staging"]})
    stack.transport.hook = None
    assert slipped
    assert slipped[0] < 300
    assert result.is_error
    assert stack.transport.sent(f"/releases/{uid}/deploy") == []
    assert "staging" not in await published_in(stack, "product", b["uid"], "fr-fr")
    assert (await stack.call("admin", "get_release", {"release_uid": uid}))["release"]["locked"] is False
    assert stack.audit("deploy_release")[-1].outcome == "refused"


async def test_a_deploy_contentstack_refuses_unlocks_the_release_again(stack: Stack) -> None:
    french = {p["uid"] for p in await localized_products(stack)}
    english = (await stack.call("admin", "query_entries", {"content_type": "product"}))["entries"]
    only_english = next(p for p in english if p["uid"] not in french)
    items = [entry_item("product", only_english["uid"])]
    uid = (await stack.call("admin", "create_release", {"name": "No French", "items": items}))["release"]["uid"]
    # The entry has no French version: the sandbox, like Contentstack, refuses the deploy.
    result = await stack.clients["admin"].call_tool(
        "deploy_release", {"release_uid": uid, "environments": ["staging"], "locales": ["fr-fr"]}
    )
    assert result.is_error
    assert len(stack.transport.sent(f"/releases/{uid}/deploy", "POST")) == 1
    assert (await stack.call("admin", "get_release", {"release_uid": uid}))["release"]["locked"] is False
    assert stack.audit("deploy_release")[-1].outcome == "error"


# -- attack 4: a confirmation binds the whole target set -------------------------------------


async def test_a_delete_token_for_an_unpublished_entry_is_refused_once_the_entry_is_published(stack: Stack) -> None:
    fields = {"title": "Short-lived", "sku": "SL-1", "price": 1}
    uid = (await stack.call("admin", "create_entry", {"content_type": "product", "fields": fields}))["entry"]["uid"]
    asked = await stack.call("admin", "delete_entry", {"content_type": "product", "uid": uid})
    token = asked["confirmation"]["confirmation_token"]
    await stack.call("admin", "publish", {"items": [entry_item("product", uid)], "environments": ["production"]})
    result = await stack.clients["admin"].call_tool(
        "delete_entry", {"content_type": "product", "uid": uid, "confirmation_token": token}
    )
    assert result.is_error
    assert stack.transport.sent(f"/entries/{uid}", "DELETE") == []
    line = stack.audit("delete_entry")[-1]
    assert (line.decision, line.rule) == ("deny", "confirm")
    assert line.reason is not None
    assert line.reason.endswith("stale")
    assert "production" in await published_in(stack, "product", uid, "en-us")


# -- attack 8: a release needs the publish scopes of its items ------------------------------


async def first_asset(stack: Stack) -> dict[str, Any]:
    return (await stack.call("admin", "query_assets", {}))["assets"][0]


async def test_a_role_without_asset_publish_cannot_put_an_asset_in_a_release_or_deploy_one(stack: Stack) -> None:
    asset = {"type": "asset", "uid": (await first_asset(stack))["uid"]}
    empty = (await stack.call("admin", "create_release", {"name": "Empty"}))["release"]["uid"]
    with_asset = (await stack.call("admin", "create_release", {"name": "Asset", "items": [asset]}))["release"]["uid"]
    writes_before = [r for r in stack.transport.requests if r[0] != "GET"]
    created = await stack.clients["releaser"].call_tool("create_release", {"name": "Sneaky", "items": [asset]})
    added = await stack.clients["releaser"].call_tool("add_release_items", {"release_uid": empty, "items": [asset]})
    deployed = await stack.clients["releaser"].call_tool(
        "deploy_release", {"release_uid": with_asset, "environments": ["staging"]}
    )
    cloned = await stack.clients["releaser"].call_tool("clone_release", {"release_uid": with_asset, "name": "Copy"})
    for result in (created, added, deployed, cloned):
        assert result.is_error
        assert "cm.asset:publish" in text_of(result)
    assert [r for r in stack.transport.requests if r[0] != "GET"] == writes_before
    assert [r.decision for r in read_audit(stack.audit_path) if r.role == "releaser"] == ["deny"] * 4


async def test_a_role_without_unpublish_cannot_unpublish_through_a_release(stack: Stack) -> None:
    product = await first_entry(stack, "product")
    item = entry_item("product", product["uid"])
    unpublishing = {**item, "action": "unpublish"}
    uid = (await stack.call("admin", "create_release", {"name": "Entries", "items": [item]}))["release"]["uid"]
    added = await stack.clients["releaser"].call_tool("create_release", {"name": "Takedown", "items": [unpublishing]})
    deployed = await stack.clients["releaser"].call_tool(
        "deploy_release", {"release_uid": uid, "environments": ["staging"], "action": "unpublish"}
    )
    allowed = await stack.call(
        "releaser", "deploy_release", {"release_uid": uid, "environments": ["staging"], "dry_run": True}
    )
    assert added.is_error
    assert "cm.entry:unpublish" in text_of(added)
    assert deployed.is_error
    assert "cm.entry:unpublish" in text_of(deployed)
    assert allowed["verdict"]["decision"] == "allow"


# -- attack 9: cancelling a deployment checks what the deployment carries --------------------


async def schedule_release(stack: Stack, items: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    uid = (await stack.call("admin", "create_release", {"name": "Scheduled", "items": items}))["release"]["uid"]
    await stack.call(
        "admin", "deploy_release", {"release_uid": uid, "environments": ["development"], "scheduled_at": LATER}
    )
    return uid, await scheduled_row(stack, uid)


async def test_cancelling_a_deployment_of_a_release_changed_since_is_checked_against_unknown_items(
    stack: Stack,
) -> None:
    product = await first_entry(stack, "product")
    post = await first_entry(stack, "blog_post")
    uid, row = await schedule_release(
        stack, [entry_item("product", product["uid"]), entry_item("blog_post", post["uid"])]
    )
    # The deployment still carries the blog post; the release, changed later, no longer does.
    stack.state.clock.advance(60)
    await stack.call("admin", "update_release", {"release_uid": uid, "locked": False})
    await stack.call(
        "admin", "remove_release_items", {"release_uid": uid, "items": [entry_item("blog_post", post["uid"])]}
    )
    result = await stack.clients["publisher"].call_tool(
        "cancel_scheduled_publish", {"queue_uid": row["uid"], "dry_run": True}
    )
    assert result.is_error
    assert "denied" in text_of(result)
    assert stack.transport.sent("/unschedule") == []
    assert stack.audit("cancel_scheduled_publish")[-1].decision == "deny"


async def test_cancelling_a_deployment_of_an_unchanged_release_is_checked_against_its_items(stack: Stack) -> None:
    product = await first_entry(stack, "product")
    post = await first_entry(stack, "blog_post")
    _, inside = await schedule_release(stack, [entry_item("product", product["uid"])])
    _, mixed = await schedule_release(stack, [entry_item("blog_post", post["uid"])])
    allowed = await stack.call("publisher", "cancel_scheduled_publish", {"queue_uid": inside["uid"], "dry_run": True})
    denied = await stack.clients["publisher"].call_tool(
        "cancel_scheduled_publish", {"queue_uid": mixed["uid"], "dry_run": True}
    )
    assert allowed["guard"]["decision"] == "allow"
    assert denied.is_error
    assert "blog_post" in text_of(denied)
