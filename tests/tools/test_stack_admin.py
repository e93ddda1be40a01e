"""The stack_admin toolset end to end: the MCP client, the tools, the client and the sandbox over
loopback HTTP. Each collection is listed, written and read back; deletes always wait for a
human; roles without the admin scopes neither see nor call the tools; secrets stay out of
answers, audit lines and errors."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.client import ConnectMode

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy, read_audit
from cs_mcp.guard.audit import AuditLog
from cs_mcp.guard.loader import load_policy
from cs_mcp.guard.policy import BUILTIN_ROLE_SPECS, ConfirmSpec, Policy, resolve_roles
from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxConfig
from cs_mcp.server import build_server
from cs_mcp.toolkit.registry import registered_tools
from tests.conftest import SandboxStack
from tests.helpers import UNPACED, assert_unreadable_in_token, structured, text_of, token_payload

pytestmark = pytest.mark.anyio

ADMIN_TOOLS = {s.name for s in registered_tools() if s.toolset == "stack_admin"}
WRITES = {s.name for s in registered_tools() if s.toolset == "stack_admin" and not s.read_only}
DELETES = {"delete_environment", "delete_locale", "delete_label", "delete_webhook"}


@pytest.fixture
async def sandbox() -> AsyncGenerator[RunningSandbox]:
    async with running_sandbox(SandboxConfig(rate_limits=False)) as running:
        yield running


def mcp_client(sandbox: RunningSandbox, role: str = "admin", guard: Guard | None = None) -> Client:
    settings = Settings.from_env({**sandbox.env(), "CS_MCP_TOOLSETS": "stack_admin"})
    server = build_server(
        settings, backend="sandbox", guard=guard or Guard(builtin_policy()), stdio_role=role, rate_limits=UNPACED
    )
    return Client(server)


def policy_guard(tmp_path: Path, policy: str) -> Guard:
    """A guard under the policy file holding `policy`, loaded as `serve` loads one."""
    return Guard(load_policy(_written(tmp_path, policy)))


def _written(tmp_path: Path, policy: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(policy)
    return path


def writes(sandbox: RunningSandbox) -> int:
    return len([m for _api, m, _p in sandbox.state.request_log if m != "GET"])


async def confirmed(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Calls a delete, which answers a preview and a token, then calls again with the token."""
    first = structured(await client.call_tool(tool, arguments))
    assert first["written"] is False
    assert first["verdict"]["decision"] == "confirm"
    token = first["confirmation"]["confirmation_token"]
    return structured(await client.call_tool(tool, {**arguments, "confirmation_token": token}))


def test_the_toolset_holds_the_eighteen_tools_of_the_issue() -> None:
    expected = {
        *(f"{verb}_environment" for verb in ("create", "update", "delete")),
        *(f"{verb}_label" for verb in ("create", "update", "delete")),
        *(f"{verb}_webhook" for verb in ("create", "update", "delete")),
        "add_locale",
        "update_locale",
        "delete_locale",
        "list_environments",
        "list_locales",
        "list_labels",
        "list_webhooks",
        "list_delivery_tokens",
        "list_roles",
    }
    assert expected == ADMIN_TOOLS


async def test_the_toolset_is_off_by_default(sandbox: RunningSandbox) -> None:
    server = build_server(Settings.from_env(sandbox.env()), backend="sandbox", stdio_role="admin")
    async with Client(server) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
    assert not listed & ADMIN_TOOLS


async def test_an_environment_is_created_renamed_and_deleted_after_confirmation(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox) as client:
        urls = [{"locale": "en-us", "url": "https://qa.example.com/"}]
        created = structured(await client.call_tool("create_environment", {"name": "qa", "urls": urls}))
        assert created["written"] is True
        assert created["notice"] == "Environment created successfully."
        assert created["item"]["urls"] == urls
        renamed = structured(await client.call_tool("update_environment", {"name": "qa", "new_name": "uat"}))
        assert renamed["item"]["name"] == "uat"
        assert set(renamed["plan"]["targets"]["environment"]) == {"qa", "uat"}
        stack = structured(await client.call_tool("describe_stack", {}))
        assert "uat" in stack["environments"]
        deleted = await confirmed(client, "delete_environment", {"name": "uat"})
        assert deleted["notice"] == "Environment deleted successfully."
        listed = structured(await client.call_tool("list_environments", {}))
    assert [e["name"] for e in listed["environments"]] == ["development", "production", "staging"]


async def test_a_locale_is_added_updated_and_deleted_after_confirmation(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox) as client:
        added = structured(await client.call_tool("add_locale", {"code": "de-de", "name": "German"}))
        assert added["item"]["fallback_locale"] == "en-us"
        updated = structured(await client.call_tool("update_locale", {"code": "de-de", "fallback_locale": "fr-fr"}))
        assert (updated["item"]["name"], updated["item"]["fallback_locale"]) == ("German", "fr-fr")
        await confirmed(client, "delete_locale", {"code": "de-de"})
        asked = structured(await client.call_tool("delete_locale", {"code": "en-us"}))
        token = asked["confirmation"]["confirmation_token"]
        master = await client.call_tool("delete_locale", {"code": "en-us", "confirmation_token": token})
        codes = [loc["code"] for loc in structured(await client.call_tool("list_locales", {}))["locales"]]
    assert master.is_error  # the master language cannot be deleted
    assert codes == ["en-us", "fr-fr"]


async def test_a_label_is_created_updated_and_deleted(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox) as client:
        created = structured(await client.call_tool("create_label", {"name": "Authors", "content_types": ["author"]}))
        uid = created["item"]["uid"]
        updated = structured(
            await client.call_tool("update_label", {"uid": uid, "content_types": ["author", "blog_post"]})
        )
        assert updated["item"]["content_types"] == ["author", "blog_post"]
        await confirmed(client, "delete_label", {"uid": uid})
        names = [label["name"] for label in structured(await client.call_tool("list_labels", {}))["labels"]]
    assert names == ["Catalog", "Editorial"]


async def test_a_label_for_an_unknown_content_type_is_refused_in_plain_words(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox) as client:
        result = await client.call_tool("create_label", {"name": "Ghost", "content_types": ["ghost"]})
    assert result.is_error
    assert "ghost" in text_of(result)


async def test_a_missing_item_is_named_with_what_exists_and_nothing_is_sent(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox) as client:
        before = writes(sandbox)
        result = await client.call_tool("update_label", {"uid": "blt_missing", "name": "X"})
    assert result.is_error
    assert "Catalog" not in text_of(result)  # uids are listed, not names
    assert "blt_missing" in text_of(result)
    assert writes(sandbox) == before


async def test_webhook_secrets_stay_out_of_answers_and_the_audit_log(sandbox: RunningSandbox, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    guard = Guard(builtin_policy(), audit=AuditLog(audit))
    secrets = ("bearer-secret-value-1234", "header-secret-value-5678")
    async with mcp_client(sandbox, guard=guard) as client:
        arguments = {
            "name": "Notify search",
            "target_url": "https://search.example.com/hook",
            "channels": ["content_types.entries.create"],
            "authentication_type": "Bearer",
            "bearer_token": secrets[0],
            "secret_headers": [{"header_name": "X-Api-Key", "value": secrets[1]}],
        }
        planned = await client.call_tool("create_webhook", {**arguments, "dry_run": True})
        created = structured(await client.call_tool("create_webhook", arguments))
        uid = created["item"]["uid"]
        updated = await client.call_tool("update_webhook", {"uid": uid, "disabled": True})
        listed = await client.call_tool("list_webhooks", {})
        await confirmed(client, "delete_webhook", {"uid": uid})
    assert created["item"]["destinations"] == [
        {
            "target_url": "https://search.example.com/hook",
            "authentication_type": "Bearer",
            "header_names": ["X-Api-Key"],
        }
    ]
    assert structured(updated)["item"]["disabled"] is True
    seen = [text_of(r) + json.dumps(r.structured_content) for r in (planned, updated, listed)]
    seen += [json.dumps(created), audit.read_text()]
    # The seeded webhooks' own password, bearer token and header value are not shown either.
    seeded = [
        value
        for hook in _stored(sandbox, "webhook")
        for destination in hook["destinations"]
        for value in [
            *(destination.get(k) for k in ("http_basic_password", "bearer_token")),
            *(h["value"] for h in destination["custom_header"]),
        ]
        if value
    ]
    assert len(seeded) >= 3
    assert not [s for s in (*secrets, *seeded) for text in seen if s in text]
    webhooks = structured(listed)["webhooks"]
    assert {w["name"] for w in webhooks} == {"Purge the CDN", "Rebuild the site", "Notify search"}


async def test_a_confirmation_binds_a_webhooks_secrets_without_showing_them(sandbox: RunningSandbox) -> None:
    def asking() -> Guard:
        return Guard(Policy(roles=resolve_roles(dict(BUILTIN_ROLE_SPECS)), confirm=ConfirmSpec(tools=["*_webhook"])))

    arguments = {
        "name": "Notify search",
        "target_url": "https://search.example.com/hook",
        "channels": ["content_types.entries.create"],
        "authentication_type": "Bearer",
        "bearer_token": "bearer-secret-value-1234",
        "secret_headers": [{"header_name": "X-Api-Key", "value": "header-secret-value-5678"}],
    }
    async with mcp_client(sandbox, guard=asking()) as client:
        token = structured(await client.call_tool("create_webhook", arguments))["confirmation"]["confirmation_token"]
        swapped = await client.call_tool(
            "create_webhook", {**arguments, "bearer_token": "attacker-token", "confirmation_token": token}
        )
    async with mcp_client(sandbox, guard=asking()) as elsewhere:  # another server, another key
        again = structured(await elsewhere.call_tool("create_webhook", arguments))["confirmation"]
    assert swapped.is_error
    assert "confirmation refused (altered)" in text_of(swapped)
    assert writes(sandbox) == 0
    for secret in ("bearer-secret-value-1234", "header-secret-value-5678"):
        assert_unreadable_in_token(secret, token)
    # What the token binds of the secrets depends on the server's key: nothing to check a guess against.
    assert json.loads(token_payload(token))["a"] != json.loads(token_payload(again["confirmation_token"]))["a"]


async def test_delivery_tokens_show_names_and_environments_never_the_token(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    guard = Guard(builtin_policy(), audit=AuditLog(audit))
    async with mcp_client(sandbox, guard=guard) as client:
        result = await client.call_tool("list_delivery_tokens", {})
        await client.call_tool("create_label", {"name": "Audited"})  # a line in the audit log
    tokens = [t["token"] for t in _stored(sandbox, "delivery_token")]
    answer = structured(result)
    assert [(t["name"], t["environments"]) for t in answer["delivery_tokens"]] == [
        ("Production site", ["production"]),
        ("Staging site", ["staging"]),
    ]
    assert {"uid", "name", "description", "environments"} == set(answer["delivery_tokens"][0])
    shown = text_of(result) + json.dumps(result.structured_content) + audit.read_text()
    assert tokens
    assert not [t for t in tokens if t in shown]


async def test_an_unreadable_delivery_token_answer_fails_without_the_token() -> None:
    token = "csdeliverytokenvalue0123456789"

    def answer(request: httpx2.Request) -> httpx2.Response:
        # The documented shape with the token, but a token without its name: the answer fails to read.
        return httpx2.Response(200, json={"tokens": [{"uid": "blt1", "token": token, "scope": []}]})

    settings = Settings.from_env(
        {
            "CONTENTSTACK_API_KEY": "blt_key",
            "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_management",
            "CS_MCP_TOOLSETS": "stack_admin",
        }
    )
    server = build_server(settings, stdio_role="admin", transport=httpx2.MockTransport(answer), rate_limits=UNPACED)
    async with Client(server) as client:
        result = await client.call_tool("list_delivery_tokens", {})
    assert result.is_error
    assert token not in text_of(result)


async def test_roles_are_listed_with_how_many_users_hold_them(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox) as client:
        roles = structured(await client.call_tool("list_roles", {}))["roles"]
    assert [(r["name"], r["users"]) for r in roles] == [("Admin", 1), ("Developer", 1), ("Content Manager", 1)]


@pytest.mark.parametrize("role", ["viewer", "editor", "publisher"])
async def test_roles_without_the_admin_scopes_neither_see_nor_call_the_tools(
    sandbox: RunningSandbox, role: str
) -> None:
    async with mcp_client(sandbox, role) as client:
        listed = {t.name for t in (await client.list_tools()).tools} & ADMIN_TOOLS
        before = len(sandbox.state.request_log)
        refused = [await client.call_tool(tool, {"uid": "x"}) for tool in ("create_label", "list_webhooks")]
    # Environment and language reads are viewer scopes (describe_stack shows them already).
    assert listed == {"list_environments", "list_locales"}
    assert all(r.is_error for r in refused)
    assert len(sandbox.state.request_log) == before


async def test_a_dry_run_plans_the_request_and_sends_nothing(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox) as client:
        before = writes(sandbox)
        answer = structured(await client.call_tool("add_locale", {"code": "it-it", "dry_run": True}))
    assert answer["written"] is False
    assert answer["plan"]["action"] == "add_locale"
    assert answer["plan"]["requests"] == [{"method": "POST", "path": "/v3/locales", "summary": "create the locale"}]
    assert writes(sandbox) == before


@pytest.mark.parametrize("tool", sorted(DELETES))
async def test_deletes_ask_a_human_even_when_the_policy_confirms_nothing(
    sandbox: RunningSandbox, tmp_path: Path, tool: str
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[roles.owner]\nscopes = ["cm.environments.management:write", "cm.languages.management:write",'
                    ' "cm.labels.management:write", "cm.webhooks.management:write",'
                    ' "cm.labels.management:read", "cm.webhooks.management:read"]\n')  # fmt: skip
    async with mcp_client(sandbox, "owner", Guard(load_policy(path))) as client:
        key = await _an_item_to_delete(client, tool)
        before = writes(sandbox)
        answer = structured(await client.call_tool(tool, key))
    assert answer["verdict"]["decision"] == "confirm"
    assert answer["confirmation"]["confirmation_token"]
    assert writes(sandbox) == before


async def test_an_environment_constraint_limits_environment_writes_and_a_deny_sends_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    envs = '[roles.envs]\nscopes = ["cm.environments.management:write"]\nenvironments = ["qa"]\n'
    async with mcp_client(sandbox, "envs", policy_guard(tmp_path, envs)) as client:
        before = len(sandbox.state.request_log)
        denied = await client.call_tool("update_environment", {"name": "production", "new_name": "qa"})
        sent = len(sandbox.state.request_log)
        allowed = structured(await client.call_tool("create_environment", {"name": "qa"}))
    assert denied.is_error
    assert "production" in text_of(denied)
    assert sent == before
    assert allowed["written"] is True


# A role that manages webhooks on the main branch only.
MAIN_BRANCH_HOOKS = """
[roles.hooks]
scopes = ["cm.webhooks.management:read", "cm.webhooks.management:write"]
branches = ["main"]
"""
HOOK = {"name": "Deploy", "target_url": "https://example.com/hook", "channels": ["content_types.entries.publish"]}


async def test_a_role_limited_to_some_branches_may_not_write_a_webhook_for_another_branchs_events(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    async with mcp_client(sandbox, "hooks", policy_guard(tmp_path, MAIN_BRANCH_HOOKS)) as client:
        before = writes(sandbox)
        other = await client.call_tool("create_webhook", {**HOOK, "branches": ["release-2"]})
        on_main = structured(await client.call_tool("create_webhook", {**HOOK, "dry_run": True}))
        sent = writes(sandbox) - before
    assert other.is_error
    assert "may not write to branch release-2" in text_of(other)
    assert sent == 0
    assert on_main["verdict"]["decision"] == "allow"
    assert on_main["plan"]["targets"]["branch"] == ["main"]


async def test_a_role_limited_to_some_branches_may_not_redirect_or_delete_a_webhook_of_another_branch(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    async with mcp_client(sandbox) as admin:
        made = structured(await admin.call_tool("create_webhook", {**HOOK, "branches": ["release-2"]}))
    uid = made["item"]["uid"]
    async with mcp_client(sandbox, "hooks", policy_guard(tmp_path, MAIN_BRANCH_HOOKS)) as client:
        before = writes(sandbox)
        redirected = await client.call_tool("update_webhook", {"uid": uid, "target_url": "https://attacker.example/x"})
        deleted = await client.call_tool("delete_webhook", {"uid": uid})
        sent = writes(sandbox) - before
    assert redirected.is_error
    assert "may not write to branch release-2" in text_of(redirected)
    assert deleted.is_error
    assert "may not write to branch release-2" in text_of(deleted)
    assert sent == 0


@pytest.mark.parametrize("target_url", ["https://attacker.example/hook", "https://example.com/hook-copy"])
async def test_a_webhook_may_not_send_outside_the_policys_destinations(
    sandbox: RunningSandbox, tmp_path: Path, target_url: str
) -> None:
    audit = tmp_path / "audit.jsonl"
    policy = MAIN_BRANCH_HOOKS + '\n[webhooks]\ndestinations = ["https://example.com/hook"]\n'
    guard = Guard(load_policy(_written(tmp_path, policy)), audit=AuditLog(audit))
    async with mcp_client(sandbox) as admin:
        uid = structured(await admin.call_tool("create_webhook", HOOK))["item"]["uid"]
    async with mcp_client(sandbox, "hooks", guard) as client:
        before = writes(sandbox)
        created = await client.call_tool("create_webhook", {**HOOK, "target_url": target_url})
        redirected = await client.call_tool("update_webhook", {"uid": uid, "target_url": target_url})
        sent = writes(sandbox) - before
        allowed = structured(
            await client.call_tool("create_webhook", {**HOOK, "target_url": "https://example.com/hook/a"})
        )
    assert created.is_error
    assert redirected.is_error
    assert sent == 0
    assert allowed["written"] is True
    assert [line.outcome for line in read_audit(audit)] == ["refused", "refused", "ok"]


async def test_a_webhook_may_not_carry_a_header_that_routes_it_past_the_policys_destinations(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    policy = MAIN_BRANCH_HOOKS + '\n[webhooks]\ndestinations = ["https://example.com/hook"]\n'
    fronted = {**HOOK, "secret_headers": [{"header_name": "Host", "value": "attacker.example"}]}
    async with mcp_client(sandbox) as admin:
        uid = structured(await admin.call_tool("create_webhook", {**fronted, "disabled": True}))["item"]["uid"]
    async with mcp_client(sandbox, "hooks", policy_guard(tmp_path, policy)) as client:
        before = writes(sandbox)
        created = await client.call_tool("create_webhook", fronted)
        enabled = await client.call_tool("update_webhook", {"uid": uid, "disabled": False})
        sent = writes(sandbox) - before
    assert created.is_error
    assert enabled.is_error
    assert "can route the request" in text_of(created)
    assert "attacker.example" not in text_of(created)
    assert sent == 0


async def test_a_webhook_sending_outside_the_policys_destinations_may_only_be_redirected_inside_or_disabled(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    policy = MAIN_BRANCH_HOOKS + '\n[webhooks]\ndestinations = ["https://example.com/hook"]\n'
    outside = {**HOOK, "target_url": "https://attacker.example/hook", "disabled": True}
    async with mcp_client(sandbox) as admin:
        uid = structured(await admin.call_tool("create_webhook", outside))["item"]["uid"]
    async with mcp_client(sandbox, "hooks", policy_guard(tmp_path, policy)) as client:
        before = writes(sandbox)
        enabled = await client.call_tool("update_webhook", {"uid": uid, "disabled": False})
        widened = await client.call_tool("update_webhook", {"uid": uid, "channels": ["assets.create"]})
        sent = writes(sandbox) - before
        kept_off = structured(await client.call_tool("update_webhook", {"uid": uid, "name": "Old", "disabled": True}))
        moved_in = structured(
            await client.call_tool("update_webhook", {"uid": uid, "target_url": "https://example.com/hook"})
        )
    assert enabled.is_error
    assert "https://attacker.example/hook" in text_of(enabled)
    assert widened.is_error
    assert sent == 0
    assert kept_off["written"] is True
    assert moved_in["written"] is True


# A role that manages the French language, may publish to development only, and write products.
FRENCH_LANGUAGE = """
[roles.french]
scopes = ["cm.languages.management:write", "cm.entry:publish", "cm.entry:write"]
locales = ["fr-fr"]
environments = ["development"]
content_types = ["product"]
"""


async def test_a_role_may_not_delete_a_language_whose_entries_reach_beyond_its_environments_and_content_types(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    async with mcp_client(sandbox, "french", policy_guard(tmp_path, FRENCH_LANGUAGE)) as client:
        before = writes(sandbox)
        denied = await client.call_tool("delete_locale", {"code": "fr-fr"})
        sent = writes(sandbox) - before
    assert denied.is_error
    assert "may not write to content type blog_post" in text_of(denied)
    assert "may not write to environment production" in text_of(denied)
    assert sent == 0


async def test_deleting_a_language_names_what_its_entries_reach(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox) as client:
        planned = structured(await client.call_tool("delete_locale", {"code": "fr-fr", "dry_run": True}))
    assert planned["plan"]["targets"]["environment"] == ["development", "production", "staging"]
    assert "blog_post" in planned["plan"]["targets"]["content_type"]


# The same role for German, a language the seeded stack does not have.
GERMAN_LANGUAGE = FRENCH_LANGUAGE.replace("french", "german").replace("fr-fr", "de-de")
STACK_ADMIN = {"CS_MCP_TOOLSETS": "stack_admin"}


async def test_a_language_and_a_content_type_added_within_the_minute_are_read_afresh_before_the_language_is_deleted(
    on_sandbox: SandboxStack, tmp_path: Path
) -> None:
    # Each added elsewhere (the web app, another server) while this server holds what it read.
    async with on_sandbox.client("german", guard=policy_guard(tmp_path, GERMAN_LANGUAGE), env=STACK_ADMIN) as client:
        missing = await client.call_tool("delete_locale", {"code": "de-de"})
        on_sandbox.add_locale("de-de")
        on_sandbox.save_entry("product", "blt_neu", {"title": "Neu"}, locale="de-de")
        allowed = await client.call_tool("delete_locale", {"code": "de-de", "dry_run": True})
        on_sandbox.save_content_type("news", [{"uid": "title", "data_type": "text", "mandatory": True}])
        on_sandbox.save_entry("news", "blt_neu", {"title": "Neu"}, locale="de-de")
        denied = await client.call_tool("delete_locale", {"code": "de-de"})
    assert "there is no locale 'de-de'" in text_of(missing)
    assert structured(allowed)["plan"]["targets"]["content_type"] == ["product"]
    assert denied.is_error
    assert "may not write to content type news" in text_of(denied)
    assert on_sandbox.writes() == []


# Contentstack does not say which query answers the publish record of an entry published in a
# language it is not localized in: the entry read in that language, or the master version. The
# master is read also when the language's fallbacks loop (de-de to de-at and back).
@pytest.mark.parametrize(("answered_in", "fallback"), [("de-de", "en-us"), ("en-us", "en-us"), ("en-us", "de-at")])
async def test_a_role_may_not_delete_a_language_its_unlocalized_entries_are_published_in_beyond_its_environments(
    on_sandbox: SandboxStack, tmp_path: Path, answered_in: str, fallback: str
) -> None:
    on_sandbox.add_locale("de-de", fallback=fallback)
    on_sandbox.add_locale("de-at", fallback="de-de")
    [product] = on_sandbox.rows("SELECT uid FROM entries WHERE content_type = 'product' AND locale = 'en-us' LIMIT 1")
    fault = on_sandbox.publish_unlocalized("product", product["uid"], "production", "de-de", answered_in=answered_in)
    guard = policy_guard(tmp_path, GERMAN_LANGUAGE)
    async with on_sandbox.client("german", guard=guard, env=STACK_ADMIN, fault=fault) as client:
        denied = await client.call_tool("delete_locale", {"code": "de-de"})
    assert denied.is_error
    assert "may not write to environment production" in text_of(denied)
    assert on_sandbox.writes() == []


async def _an_item_to_delete(client: Client, tool: str) -> dict[str, Any]:
    if tool == "delete_environment":
        return {"name": "staging"}
    if tool == "delete_locale":
        return {"code": "fr-fr"}
    kind = "labels" if tool == "delete_label" else "webhooks"
    items = structured(await client.call_tool(f"list_{kind}", {}))[kind]
    return {"uid": items[0]["uid"]}


def _stored(sandbox: RunningSandbox, kind: str) -> list[dict[str, Any]]:
    with sandbox.state.db.read() as conn:
        rows = conn.execute("SELECT data_json FROM stack_admin_items WHERE kind = ?", (kind,)).fetchall()
    return [json.loads(row["data_json"]) for row in rows]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_language_published_beyond_the_role_while_its_human_agrees_is_not_deleted(
    on_sandbox: SandboxStack, tmp_path: Path, mode: ConnectMode
) -> None:
    on_sandbox.add_locale("de-de")
    on_sandbox.save_entry("product", "blt_neu", {"title": "Neu"}, locale="de-de")
    refusal = await on_sandbox.refused_after_agreeing(
        lambda: on_sandbox.publish("product", "blt_neu", "production", "de-de"),
        "delete_locale",
        {"code": "de-de"},
        role="german",
        guard=policy_guard(tmp_path, GERMAN_LANGUAGE),
        toolsets="stack_admin",
        mode=mode,
    )
    assert "environment production" in refusal
