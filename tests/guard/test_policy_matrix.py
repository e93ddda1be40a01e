"""The policy matrix: every write tool x every role x inside and outside each constraint,
through the real server on the sandbox. An allowed call is dry-run and answers the guard's
verdict; for every deny, not a single HTTP request leaves the client."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from mcp import Client

from cs_mcp.guard import Guard
from cs_mcp.guard.loader import load_policy
from cs_mcp.sandbox.state import SandboxClock
from cs_mcp.toolkit.registry import registered_tools
from tests.conftest import new_sandbox
from tests.helpers import CountingTransport, structured, text_of

pytestmark = pytest.mark.anyio

ROLES = ("viewer", "editor", "publisher", "operator", "settings", "admin")


@dataclass
class Stack:
    clients: dict[str, Client]
    transport: CountingTransport
    ids: dict[str, Any]


def policy_text(project: str) -> str:
    return f"""
[roles.editor]
inherits = ["viewer"]
scopes = ["cm.entry:write", "cm.assets.management:write", "cm.content-types.management:write"]
content_types = ["product"]
locales = ["en-us"]

[roles.publisher]
inherits = ["editor"]
scopes = ["cm.entry:publish", "cm.entry:unpublish", "cm.asset:publish", "cm.asset:unpublish",
          "cm.release:write", "cm.release:deploy", "cm.release:clone", "cm.publish-queue.management:write"]
environments = ["development"]

[roles.operator]
inherits = ["viewer"]
scopes = ["automationhub.automations:write", "automationhub.projects.management:write",
          "automationhub.variables:read", "automationhub.variables:write"]
automation_projects = ["{project}"]

[roles.settings]
inherits = ["viewer"]
scopes = ["cm.environments.management:write", "cm.languages.management:write",
          "cm.labels.management:read", "cm.labels.management:write"]
environments = ["qa"]
locales = ["de-de"]
"""


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncGenerator[Stack]:
    sandbox = new_sandbox(SandboxClock())
    every_toolset = {"CS_MCP_TOOLSETS": "all"}
    async with sandbox.client("admin", env=every_toolset) as admin:
        ids = await discover(admin)
        path = tmp_path_factory.mktemp("policy") / "policy.toml"
        path.write_text(policy_text(ids["project_in"]))
        guard = Guard(load_policy(path))
        clients = {role: sandbox.client(role, guard=guard, env=every_toolset) for role in ROLES}
        async with AsyncExitStack() as entered:  # exits in reverse order, as the clients nest
            for client in clients.values():
                await entered.enter_async_context(client)
            yield Stack(clients, sandbox.transport, ids)


async def discover(admin: Client) -> dict[str, Any]:
    """Uids of seeded objects, and one scheduled publish to cancel."""
    products = structured(await admin.call_tool("query_entries", {"content_type": "product", "locale": "fr-fr"}))
    # A product localized in French, so that fr-fr items exist and only the guard refuses them.
    product = next(e for e in products["entries"] if e["locale"] == "fr-fr")
    post = structured(await admin.call_tool("query_entries", {"content_type": "blog_post", "limit": 1}))["entries"][0]
    releases = structured(await admin.call_tool("list_releases", {}))["releases"]
    release = next(r for r in releases if not r["locked"] and r["items_count"] > 0)
    projects = structured(await admin.call_tool("list_automation_projects", {}))["projects"]
    automations = {
        p["id"]: structured(await admin.call_tool("list_automations", {"project_id": p["id"]}))["automations"]
        for p in projects
    }
    item = {"type": "entry", "content_type": "product", "uid": product["uid"], "locale": "en-us"}
    structured(
        await admin.call_tool(
            "publish", {"items": [item], "environments": ["development"], "scheduled_at": "2099-01-01T00:00:00Z"}
        )
    )
    queue = structured(await admin.call_tool("list_publish_queue", {"status": "scheduled"}))["rows"]
    own = structured(await admin.call_tool("create_release", {"name": "Products only", "items": [item]}))
    english = structured(
        await admin.call_tool(
            "query_entries", {"content_type": "product", "locale": "en-us", "fields": ["title"], "limit": 100}
        )
    )
    french = {e["uid"] for e in products["entries"] if e["locale"] == "fr-fr"}
    variables = {
        p["id"]: structured(await admin.call_tool("list_project_variables", {"project_id": p["id"]}))["variables"][0]
        for p in projects
    }
    assets = structured(await admin.call_tool("query_assets", {"limit": 100}))["assets"]
    # An asset published to more than one environment: deleting it takes it off all of them.
    spread = next(a for a in assets if len(a.get("publish_details") or []) > 1)
    return {
        "asset": assets[0]["uid"],
        "spread_asset": spread["uid"],
        "product": product,
        "post": post,
        "release": release["uid"],
        "own_release": own["release"]["uid"],
        "queue": queue[0]["uid"],
        "project_in": projects[0]["id"],
        "automation_in": automations[projects[0]["id"]][0],
        "project_out": projects[1]["id"],
        "automation_out": automations[projects[1]["id"]][0],
        "product_en_only": next(e["uid"] for e in english["entries"] if e["uid"] not in french),
        "variable_in": variables[projects[0]["id"]]["id"],
        "variable_out": variables[projects[1]["id"]]["id"],
        "label": structured(await admin.call_tool("list_labels", {}))["labels"][0]["uid"],
        "webhook": structured(await admin.call_tool("list_webhooks", {}))["webhooks"][0]["uid"],
    }


NEW_PRODUCT = {"title": "M", "sku": "M-1", "price": 1}


def product_item(ids: dict[str, Any], locale: str = "en-us") -> dict[str, Any]:
    return {"type": "entry", "content_type": "product", "uid": ids["product"]["uid"], "locale": locale}


def post_item(ids: dict[str, Any]) -> dict[str, Any]:
    return {"type": "entry", "content_type": "blog_post", "uid": ids["post"]["uid"], "locale": "en-us"}


# Denials that depend on what a release holds: the release's items must be read to know them.
# Those may read, never write; every other denial is decided from the arguments alone.
NEED_READS: dict[str, set[str]] = {
    "remove items of a mixed release": {"publisher"},
    "deploy mixed release": {"publisher"},
    "clone mixed release": {"publisher"},
    "unlock a mixed release": {"publisher"},
    "delete a mixed release": {"publisher"},
    # Deleting takes the entry off every environment it is published to and, in the master
    # locale, deletes its localized versions: both must be read first.
    "delete an entry published outside development": {"editor", "publisher"},
    # Likewise where an asset is published.
    "delete an asset published outside development": {"publisher"},
    # Deleting a content type deletes its entries in every locale and every environment.
    "delete the role's content type": {"editor", "publisher"},
}
PNG = "iVBORw0KGgo="

# (case name, tool, arguments from the discovered ids, the roles allowed)
Arguments = Callable[[dict[str, Any]], dict[str, Any]]
CASES: list[tuple[str, str, Arguments, set[str]]] = [
    ("create inside", "create_entry", lambda i: {"content_type": "product", "fields": NEW_PRODUCT}, {"editor", "publisher", "admin"}),
    ("create other content type", "create_entry", lambda i: {"content_type": "blog_post", "fields": {"title": "M", "publish_date": "2025-01-01"}}, {"admin"}),
    ("create other locale", "create_entry", lambda i: {"content_type": "product", "fields": NEW_PRODUCT, "locale": "fr-fr"}, {"admin"}),
    ("update inside", "update_entry", lambda i: {"content_type": "product", "uid": i["product"]["uid"], "fields": {"title": "N"}, "expected_version": i["product"]["_version"]}, {"editor", "publisher", "admin"}),
    ("update other content type", "update_entry", lambda i: {"content_type": "blog_post", "uid": i["post"]["uid"], "fields": {"title": "N"}, "expected_version": i["post"]["_version"]}, {"admin"}),
    ("delete an entry published outside development", "delete_entry", lambda i: {"content_type": "product", "uid": i["product"]["uid"]}, {"admin"}),
    ("delete other content type", "delete_entry", lambda i: {"content_type": "blog_post", "uid": i["post"]["uid"]}, {"admin"}),
    ("publish inside", "publish", lambda i: {"items": [product_item(i)], "environments": ["development"]}, {"publisher", "admin"}),
    ("publish other environment", "publish", lambda i: {"items": [product_item(i)], "environments": ["staging"]}, {"admin"}),
    ("publish other-case environment", "publish", lambda i: {"items": [product_item(i)], "environments": ["Development"]}, set()),
    ("publish other locale", "publish", lambda i: {"items": [product_item(i, "fr-fr")], "environments": ["development"]}, {"admin"}),
    ("publish other locale by argument", "publish", lambda i: {"items": [product_item(i)], "environments": ["development"], "locales": ["fr-fr"]}, {"admin"}),
    ("publish one bad item", "publish", lambda i: {"items": [product_item(i), post_item(i)], "environments": ["development"]}, {"admin"}),
    ("unpublish inside", "unpublish", lambda i: {"items": [product_item(i)], "environments": ["development"]}, {"publisher", "admin"}),
    ("unpublish other environment", "unpublish", lambda i: {"items": [product_item(i)], "environments": ["production"]}, {"admin"}),
    ("cancel a scheduled publish", "cancel_scheduled_publish", lambda i: {"queue_uid": i["queue"]}, {"publisher", "admin"}),
    ("create release inside", "create_release", lambda i: {"name": "R", "items": [product_item(i)]}, {"publisher", "admin"}),
    ("create release other content type", "create_release", lambda i: {"name": "R", "items": [post_item(i)]}, {"admin"}),
    ("update own release", "update_release", lambda i: {"release_uid": i["own_release"], "description": "d"}, {"publisher", "admin"}),
    ("unlock a mixed release", "update_release", lambda i: {"release_uid": i["release"], "locked": True}, {"admin"}),
    ("add release items inside", "add_release_items", lambda i: {"release_uid": i["own_release"], "items": [product_item(i, "fr-fr")]}, {"admin"}),
    ("add release items other locale", "add_release_items", lambda i: {"release_uid": i["release"], "items": [product_item(i, "fr-fr")]}, {"admin"}),
    ("add release items other content type", "add_release_items", lambda i: {"release_uid": i["own_release"], "items": [post_item(i)]}, {"admin"}),
    ("remove items of an own release", "remove_release_items", lambda i: {"release_uid": i["own_release"], "all": True}, {"publisher", "admin"}),
    ("remove items of a mixed release", "remove_release_items", lambda i: {"release_uid": i["release"], "all": True}, {"admin"}),
    ("deploy own release", "deploy_release", lambda i: {"release_uid": i["own_release"], "environments": ["development"]}, {"publisher", "admin"}),
    ("deploy release other environment", "deploy_release", lambda i: {"release_uid": i["own_release"], "environments": ["production"]}, {"admin"}),
    ("deploy mixed release", "deploy_release", lambda i: {"release_uid": i["release"], "environments": ["development"]}, {"admin"}),
    ("clone own release", "clone_release", lambda i: {"release_uid": i["own_release"], "name": "C"}, {"publisher", "admin"}),
    ("clone mixed release", "clone_release", lambda i: {"release_uid": i["release"], "name": "C"}, {"admin"}),
    ("delete own release", "delete_release", lambda i: {"release_uid": i["own_release"]}, {"publisher", "admin"}),
    ("delete a mixed release", "delete_release", lambda i: {"release_uid": i["release"]}, {"admin"}),
    ("toggle inside project", "set_automation_active", lambda i: {"project_id": i["project_in"], "automation_id": i["automation_in"]["id"], "active": not i["automation_in"]["active"]}, {"operator", "admin"}),
    ("localize in another locale", "localize_entry", lambda i: {"content_type": "product", "uid": i["product_en_only"], "locale": "fr-fr"}, {"admin"}),
    ("unlocalize in another locale", "unlocalize_entry", lambda i: {"content_type": "product", "uid": i["product"]["uid"], "locale": "fr-fr"}, {"admin"}),
    ("create a project", "create_automation_project", lambda i: {"title": "P"}, {"admin"}),
    ("update project inside", "update_automation_project", lambda i: {"project_id": i["project_in"], "description": "d"}, {"operator", "admin"}),
    ("update other project", "update_automation_project", lambda i: {"project_id": i["project_out"], "description": "d"}, {"admin"}),
    ("delete project inside", "delete_automation_project", lambda i: {"project_id": i["project_in"]}, {"operator", "admin"}),
    ("delete other project", "delete_automation_project", lambda i: {"project_id": i["project_out"]}, {"admin"}),
    ("create variable inside", "create_project_variable", lambda i: {"project_id": i["project_in"], "key": "K", "value": "v"}, {"operator", "admin"}),
    ("create variable other project", "create_project_variable", lambda i: {"project_id": i["project_out"], "key": "K", "value": "v"}, {"admin"}),
    ("update variable inside", "update_project_variable", lambda i: {"project_id": i["project_in"], "variable_id": i["variable_in"], "value": "v"}, {"operator", "admin"}),
    ("update variable other project", "update_project_variable", lambda i: {"project_id": i["project_out"], "variable_id": i["variable_out"], "value": "v"}, {"admin"}),
    ("delete variable inside", "delete_project_variable", lambda i: {"project_id": i["project_in"], "variable_id": i["variable_in"]}, {"operator", "admin"}),
    ("delete variable other project", "delete_project_variable", lambda i: {"project_id": i["project_out"], "variable_id": i["variable_out"]}, {"admin"}),
    ("upload an asset", "upload_asset", lambda i: {"content_base64": PNG, "filename": "m.png"}, {"editor", "publisher", "admin"}),
    ("replace an asset", "replace_asset", lambda i: {"uid": i["asset"], "content_base64": PNG, "filename": "m.png"}, {"editor", "publisher", "admin"}),
    ("update an asset", "update_asset", lambda i: {"uid": i["asset"], "title": "M"}, {"editor", "publisher", "admin"}),
    ("delete an asset published outside development", "delete_asset", lambda i: {"uid": i["spread_asset"]}, {"editor", "admin"}),
    ("create an asset folder", "create_asset_folder", lambda i: {"name": "M"}, {"editor", "publisher", "admin"}),
    ("create a content type outside the role's", "create_content_type", lambda i: {"uid": "faq", "title": "FAQ", "schema": [{"uid": "title", "display_name": "Title", "data_type": "text"}]}, {"admin"}),
    ("change the role's content type", "update_content_type", lambda i: {"content_type": "product", "title": "Goods"}, {"editor", "publisher", "admin"}),
    ("change another content type", "update_content_type", lambda i: {"content_type": "author", "title": "Writers"}, {"admin"}),
    # Its entries are localized in fr-fr and live in staging and production, which neither the
    # editor (en-us only) nor the publisher (development only) may reach.
    ("delete the role's content type", "delete_content_type", lambda i: {"content_type": "product"}, {"admin"}),
    ("delete another content type", "delete_content_type", lambda i: {"content_type": "blog_post"}, {"admin"}),
    ("toggle other project", "set_automation_active", lambda i: {"project_id": i["project_out"], "automation_id": i["automation_out"]["id"], "active": not i["automation_out"]["active"]}, {"admin"}),
    ("create environment inside", "create_environment", lambda i: {"name": "qa"}, {"settings", "admin"}),
    ("create environment outside", "create_environment", lambda i: {"name": "preview"}, {"admin"}),
    ("update environment outside", "update_environment", lambda i: {"name": "development", "urls": []}, {"admin"}),
    ("rename environment into reach", "update_environment", lambda i: {"name": "staging", "new_name": "qa"}, {"admin"}),
    ("delete environment", "delete_environment", lambda i: {"name": "staging"}, {"admin"}),
    ("add locale inside", "add_locale", lambda i: {"code": "de-de"}, {"settings", "admin"}),
    ("add locale outside", "add_locale", lambda i: {"code": "es-es"}, {"admin"}),
    ("update locale outside", "update_locale", lambda i: {"code": "fr-fr", "name": "French"}, {"admin"}),
    ("delete locale outside", "delete_locale", lambda i: {"code": "fr-fr"}, {"admin"}),
    ("create label", "create_label", lambda i: {"name": "L"}, {"settings", "admin"}),
    ("update label", "update_label", lambda i: {"uid": i["label"], "name": "L"}, {"settings", "admin"}),
    ("delete label", "delete_label", lambda i: {"uid": i["label"]}, {"settings", "admin"}),
    ("create webhook", "create_webhook", lambda i: {"name": "W", "target_url": "https://h.example.com", "channels": ["assets.create"]}, {"admin"}),
    ("update webhook", "update_webhook", lambda i: {"uid": i["webhook"], "disabled": True}, {"admin"}),
    ("delete webhook", "delete_webhook", lambda i: {"uid": i["webhook"]}, {"admin"}),
]  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("case", "tool", "arguments", "allowed"), CASES, ids=[c[0] for c in CASES])
async def test_the_guard_allows_exactly_the_roles_of_the_matrix_and_a_deny_sends_nothing(
    stack: Stack, role: str, case: str, tool: str, arguments: Arguments, allowed: set[str]
) -> None:
    args = {**arguments(stack.ids), "dry_run": True}
    before, writes_before = len(stack.transport.sent), len(stack.transport.writes())
    result = await stack.clients[role].call_tool(tool, args)
    if case == "publish other-case environment" and role == "admin":
        # Unconstrained, so the guard lets it through; the stack has no such environment.
        assert result.is_error
        assert "does not exist" in text_of(result)
    elif role in allowed:
        answer = structured(result)
        assert answer["verdict"]["decision"] in ("allow", "confirm"), (case, role, answer)
    else:
        assert result.is_error, (case, role)
        assert "denied" in text_of(result) or "not available" in text_of(result), (case, role, text_of(result))
        assert len(stack.transport.writes()) == writes_before, f"{case}: a denied call sent a write for role {role}"
        if role not in NEED_READS.get(case, set()):
            assert len(stack.transport.sent) == before, f"{case}: a denied call sent a request for role {role}"


def test_the_matrix_covers_every_registered_write_tool() -> None:
    writes = {spec.name for spec in registered_tools() if not spec.read_only}
    assert writes <= {tool for _, tool, _, _ in CASES}, sorted(writes - {tool for _, tool, _, _ in CASES})
