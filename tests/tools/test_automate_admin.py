"""The automate_admin toolset through the MCP client, on the sandbox's Automate API: project
settings, variables (a secret's value never shown or recorded), connected accounts (never their
credentials), single audit-log entries, and the guard's project constraint on every write."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp_types import CallToolResult

from cs_mcp.config import Settings
from cs_mcp.guard import AuditLog, Guard, builtin_policy
from cs_mcp.guard.policy import BUILTIN_ROLE_SPECS, ConfirmSpec, Policy, RoleSpec, resolve_roles
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.state import SandboxState
from cs_mcp.server import build_server
from tests.helpers import UNPACED, CountingTransport, assert_unreadable_in_token, structured, text_of, token_payload
from tests.tools._on_sandbox import InProcessSandbox

pytestmark = pytest.mark.anyio

SECRET = "sk-live-0123456789abcdef"  # the value of a password variable in these tests


@dataclass
class Stack:
    admin: Client
    operator: Client  # may write inside the first project only
    transport: CountingTransport
    state: SandboxState
    audit_path: Path
    projects: list[str]
    sandbox: InProcessSandbox  # for a server under another guard

    def audit_text(self) -> str:
        return self.audit_path.read_text() if self.audit_path.exists() else ""

    def audit_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit_text().splitlines()]

    def variables(self, project: str) -> list[dict[str, Any]]:
        with self.state.db.read() as conn:
            rows = conn.execute(
                "SELECT data_json FROM automate_variables WHERE project_id = ? ORDER BY position", (project,)
            )
            return [json.loads(r["data_json"]) for r in rows]


def guard(audit_path: Path, project: str) -> Guard:
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["operator"] = RoleSpec(
        inherits=["viewer"],
        scopes=[
            "automationhub.automations:write",
            "automationhub.projects.management:write",
            "automationhub.variables:read",
            "automationhub.variables:write",
        ],
        automation_projects=[project],
    )
    # No [confirm] rule at all: what still asks for confirmation asks by itself.
    return Guard(Policy(roles=resolve_roles(specs), confirm=ConfirmSpec()), audit=AuditLog(audit_path))


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncGenerator[Stack]:
    sandbox = InProcessSandbox.start()
    with sandbox.state.db.read() as conn:
        projects = [r["id"] for r in conn.execute("SELECT id FROM automate_projects ORDER BY position")]
    audit_path = tmp_path / "audit.jsonl"
    the_guard = guard(audit_path, projects[0])

    async with AsyncExitStack() as entered:
        admin = await entered.enter_async_context(sandbox.client(the_guard, "admin"))
        operator = await entered.enter_async_context(sandbox.client(the_guard, "operator"))
        yield Stack(admin, operator, sandbox.transport, sandbox.state, audit_path, projects, sandbox)


async def ok(client: Client, name: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, text_of(result)
    return structured(result)


def everything(result: CallToolResult) -> str:
    """All a client sees of an answer: text, structured content, error text."""
    return result.model_dump_json()


# -- projects -------------------------------------------------------------------------------------


async def test_a_project_is_created_read_updated_and_the_update_is_in_its_audit_log(stack: Stack) -> None:
    created = await ok(stack.admin, "create_automation_project", title="Localization", tags=["i18n"])
    project = created["project"]["id"]
    await ok(stack.admin, "update_automation_project", project_id=project, description="French and German")
    read = await ok(stack.admin, "get_automation_project", project_id=project)
    assert (read["title"], read["description"], read["tags"]) == ("Localization", "French and German", ["i18n"])
    logs = await ok(stack.admin, "list_automation_audit_logs", project_id=project)
    newest = await ok(stack.admin, "get_automation_audit_log", project_id=project, log_id=logs["logs"][0]["uid"])
    assert (newest["event"], newest["module"], newest["subject_id"]) == ("Update", "Project", project)


async def test_an_update_to_what_the_project_already_has_sends_nothing(stack: Stack) -> None:
    project = await ok(stack.admin, "get_automation_project", project_id=stack.projects[0])
    before = len(stack.transport.sent)
    answer = await ok(stack.admin, "update_automation_project", project_id=project["id"], title=project["title"])
    assert answer["written"] is False
    assert [m for m, _ in stack.transport.sent[before:]] == ["GET"]


async def test_deleting_a_project_is_confirmed_even_where_the_policy_asks_nothing(stack: Stack) -> None:
    project = stack.projects[1]
    asked = await ok(stack.admin, "delete_automation_project", project_id=project)
    assert asked["written"] is False
    assert "automations" in asked["confirmation"]["preview"]
    assert all(m == "GET" for m, _ in stack.transport.sent)
    token = asked["confirmation"]["confirmation_token"]
    done = await ok(stack.admin, "delete_automation_project", project_id=project, confirmation_token=token)
    assert done["written"] is True
    missing = await stack.admin.call_tool("get_automation_project", {"project_id": project})
    assert missing.is_error
    with stack.state.db.read() as conn:
        (left,) = conn.execute("SELECT COUNT(*) FROM automate_automations WHERE project_id = ?", (project,)).fetchone()
    assert left == 0


async def test_a_dry_run_of_a_project_delete_says_it_needs_confirmation_and_sends_nothing(stack: Stack) -> None:
    answer = await ok(stack.admin, "delete_automation_project", project_id=stack.projects[0], dry_run=True)
    assert (answer["dry_run"], answer["verdict"]["decision"]) == (True, "confirm")
    assert all(m == "GET" for m, _ in stack.transport.sent)


# -- the guard's project constraint -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("update_automation_project", {"description": "x"}),
        ("delete_automation_project", {}),
        ("create_project_variable", {"key": "K", "value": SECRET, "type": "password"}),
        ("update_project_variable", {"variable_id": "any", "value": SECRET}),
        ("delete_project_variable", {"variable_id": "any"}),
    ],
)
async def test_a_write_to_a_project_outside_the_role_is_denied_before_any_request(
    stack: Stack, tool: str, arguments: dict[str, Any]
) -> None:
    result = await stack.operator.call_tool(tool, {"project_id": stack.projects[1], **arguments})
    assert result.is_error
    assert "denied by the guard" in text_of(result)
    assert stack.transport.sent == []
    [line] = stack.audit_lines()
    assert (line["tool"], line["decision"]) == (tool, "deny")
    assert SECRET not in stack.audit_text()


async def test_a_role_limited_to_named_projects_cannot_create_one(stack: Stack) -> None:
    result = await stack.operator.call_tool("create_automation_project", {"title": "Mine"})
    assert result.is_error
    assert "(new project)" in text_of(result)
    assert stack.transport.sent == []


async def test_a_role_that_lists_new_project_may_create_one(stack: Stack, tmp_path: Path) -> None:
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["founder"] = RoleSpec(
        inherits=["viewer"],
        scopes=["automationhub.projects.management:write"],
        automation_projects=[stack.projects[0], "(new project)"],
    )
    the_guard = Guard(Policy(roles=resolve_roles(specs), confirm=ConfirmSpec()), audit=AuditLog(tmp_path / "a.jsonl"))
    async with stack.sandbox.client(the_guard, "founder") as client:
        answer = await ok(client, "create_automation_project", title="Mine")
    assert answer["written"] is True


async def test_a_project_delete_confirmed_before_an_automation_was_added_is_refused(stack: Stack) -> None:
    project = stack.projects[1]
    token = (await ok(stack.admin, "delete_automation_project", project_id=project))["confirmation"][
        "confirmation_token"
    ]
    with stack.state.db.transaction() as conn:
        row = conn.execute(
            "SELECT data_json FROM automate_automations WHERE project_id = ? LIMIT 1", (project,)
        ).fetchone()
        added = json.loads(row["data_json"]) | {"id": "f" * 32, "title": "Added after the preview"}
        conn.execute(
            "INSERT INTO automate_automations (id, project_id, position, data_json) VALUES (?, ?, ?, ?)",
            (added["id"], project, 99, json.dumps(added)),
        )
    result = await stack.admin.call_tool(
        "delete_automation_project", {"project_id": project, "confirmation_token": token}
    )
    assert result.is_error
    assert not [m for m, _ in stack.transport.sent if m == "DELETE"]


async def test_a_role_may_write_inside_its_project(stack: Stack) -> None:
    arguments = {"project_id": stack.projects[0], "key": "REGION", "value": "eu"}
    result = await stack.operator.call_tool("create_project_variable", arguments)
    answer = structured(result)
    assert answer["variable"]["value"] == "eu"
    assert '"value":"eu"' in text_of(result).replace(" ", "")  # a text value is not cut out of the answer
    assert [v["key"] for v in stack.variables(stack.projects[0])][-1] == "REGION"


# -- variables and their secrets ------------------------------------------------------------------------


async def test_a_password_variable_is_listed_without_its_value_and_a_text_one_with_it(stack: Stack) -> None:
    result = await stack.admin.call_tool("list_project_variables", {"project_id": stack.projects[0]})
    listed = {v["key"]: v for v in structured(result)["variables"]}
    assert (listed["SLACK_CHANNEL"]["value"], listed["SLACK_CHANNEL"]["secret"]) == ("#content", False)
    assert (listed["SEARCH_API_KEY"]["value"], listed["SEARCH_API_KEY"]["secret"]) == (None, True)
    stored = next(v for v in stack.variables(stack.projects[0]) if v["key"] == "SEARCH_API_KEY")
    assert stored["value"].startswith("ENC_")
    assert stored["value"] not in everything(result)


async def test_a_secret_value_is_in_no_answer_preview_or_audit_line_of_a_create(stack: Stack) -> None:
    project = stack.projects[0]
    arguments = {"project_id": project, "key": "STRIPE_KEY", "value": SECRET, "type": "password"}
    planned = await stack.admin.call_tool("create_project_variable", {**arguments, "dry_run": True})
    created = await stack.admin.call_tool("create_project_variable", arguments)
    assert structured(created)["variable"]["secret"] is True
    for result in (planned, created):
        assert not result.is_error
        assert SECRET not in everything(result)
    assert "a secret value" in structured(planned)["plan"]["summary"]
    assert [line["arguments"]["value"] for line in stack.audit_lines()] == ["[redacted]", "[redacted]"]
    assert SECRET not in stack.audit_text()
    stored = next(v for v in stack.variables(project) if v["key"] == "STRIPE_KEY")
    assert stored["type"] == "password"
    assert SECRET not in json.dumps(stored)  # the sandbox keeps it encrypted, as Automate does


async def test_a_refused_secret_write_answers_and_records_no_value(stack: Stack) -> None:
    project = stack.projects[0]
    # SLACK_CHANNEL exists: Automate refuses a second variable of that key.
    taken = await stack.admin.call_tool(
        "create_project_variable", {"project_id": project, "key": "SLACK_CHANNEL", "value": SECRET, "type": "password"}
    )
    # A key the tool's schema refuses: the call never reaches the tool.
    malformed = await stack.admin.call_tool(
        "create_project_variable", {"project_id": project, "key": "bad key", "value": SECRET, "type": "password"}
    )
    for result in (taken, malformed):
        assert result.is_error
        assert SECRET not in everything(result)
    assert [line["outcome"] for line in stack.audit_lines()] == ["error", "refused"]
    assert SECRET not in stack.audit_text()


async def test_a_secret_in_a_confirmation_preview_is_never_shown(stack: Stack) -> None:
    # The built-in policy confirms deletes; this asks for one on every variable write.
    the_guard = Guard(
        Policy(roles=resolve_roles(dict(BUILTIN_ROLE_SPECS)), confirm=ConfirmSpec(tools=["*_project_variable"])),
        audit=AuditLog(stack.audit_path),
    )
    variable = next(v for v in stack.variables(stack.projects[0]) if v["key"] == "SEARCH_API_KEY")
    async with stack.sandbox.client(the_guard, "admin") as client:
        asked = await client.call_tool(
            "update_project_variable",
            {"project_id": stack.projects[0], "variable_id": variable["id"], "value": SECRET},
        )
        token = structured(asked)["confirmation"]["confirmation_token"]
        done = await client.call_tool(
            "update_project_variable",
            {
                "project_id": stack.projects[0],
                "variable_id": variable["id"],
                "value": SECRET,
                "confirmation_token": token,
            },
        )
    assert "value: replaced by a secret value" in structured(asked)["confirmation"]["preview"]
    assert structured(done)["written"] is True
    for result in (asked, done):
        assert SECRET not in everything(result)
    assert SECRET not in stack.audit_text()


@pytest.mark.parametrize("key", ["SEARCH_API_KEY", "SLACK_CHANNEL"])
async def test_a_confirmation_for_one_variable_value_does_not_confirm_another(stack: Stack, key: str) -> None:
    # The value is kept out of the audit log and the token's readable payload, not out of the binding.
    def asking() -> Guard:
        policy = Policy(
            roles=resolve_roles(dict(BUILTIN_ROLE_SPECS)), confirm=ConfirmSpec(tools=["*_project_variable"])
        )
        return Guard(policy, audit=AuditLog(stack.audit_path))

    variable = next(v for v in stack.variables(stack.projects[0]) if v["key"] == key)
    where = {"project_id": stack.projects[0], "variable_id": variable["id"]}
    shown = {**where, "value": "shown-to-the-human"}
    async with stack.sandbox.client(asking(), "admin") as client:
        asked = structured(await client.call_tool("update_project_variable", shown))
        token = asked["confirmation"]["confirmation_token"]
        other = await client.call_tool(
            "update_project_variable", {**where, "value": "https://attacker.example/", "confirmation_token": token}
        )
        stored = next(v for v in stack.variables(stack.projects[0]) if v["id"] == variable["id"])
    async with stack.sandbox.client(asking(), "admin") as elsewhere:  # another server, another key
        again = structured(await elsewhere.call_tool("update_project_variable", shown))
    assert other.is_error
    assert "confirmation refused (altered)" in text_of(other)
    assert stored["value"] != "https://attacker.example/"
    assert_unreadable_in_token("shown-to-the-human", token)
    # What the token binds of the value depends on the server's key: nothing to check a guess against.
    assert (
        json.loads(token_payload(token))["a"]
        != json.loads(token_payload(again["confirmation"]["confirmation_token"]))["a"]
    )


async def test_a_password_variable_is_not_updated_without_its_value(stack: Stack) -> None:
    variable = next(v for v in stack.variables(stack.projects[0]) if v["key"] == "SEARCH_API_KEY")
    result = await stack.admin.call_tool(
        "update_project_variable", {"project_id": stack.projects[0], "variable_id": variable["id"], "key": "RENAMED"}
    )
    assert result.is_error
    assert not [m for m, _ in stack.transport.sent if m != "GET"]


async def test_a_text_variable_update_keeps_what_is_not_given(stack: Stack) -> None:
    variable = next(v for v in stack.variables(stack.projects[0]) if v["key"] == "SLACK_CHANNEL")
    answer = await ok(
        stack.admin, "update_project_variable", project_id=stack.projects[0], variable_id=variable["id"], key="CHANNEL"
    )
    assert (answer["variable"]["key"], answer["variable"]["value"]) == ("CHANNEL", "#content")
    assert answer["plan"]["items"] == ["key: 'SLACK_CHANNEL' -> 'CHANNEL'"]


async def test_deleting_a_variable_asks_under_the_builtin_policy_and_names_its_key(stack: Stack) -> None:
    variable = next(v for v in stack.variables(stack.projects[0]) if v["key"] == "SEARCH_API_KEY")
    arguments = {"project_id": stack.projects[0], "variable_id": variable["id"]}
    async with stack.sandbox.client(Guard(builtin_policy()), "admin") as client:
        asked = structured(await client.call_tool("delete_project_variable", arguments))
        token = asked["confirmation"]["confirmation_token"]
        done = structured(await client.call_tool("delete_project_variable", arguments | {"confirmation_token": token}))
    assert "SEARCH_API_KEY" in asked["confirmation"]["preview"]
    assert done["written"] is True
    assert "SEARCH_API_KEY" not in [v["key"] for v in stack.variables(stack.projects[0])]


# -- accounts and audit-log entries ------------------------------------------------------------------------


def held_credentials(stack: Stack) -> list[str]:
    with stack.state.db.read() as conn:
        held = [json.loads(r["data_json"]) for r in conn.execute("SELECT data_json FROM automate_accounts")]
    return [a[k] for a in held for k in ("auth", "client_id", "client_secret")]


async def test_accounts_are_answered_without_their_credentials(stack: Stack) -> None:
    project = stack.projects[0]
    listed = await stack.admin.call_tool("list_automation_accounts", {"project_id": project})
    accounts = structured(listed)["accounts"]
    assert [(a["title"], a["connector"], a["type"]) for a in accounts] == [
        ("Slack workspace", "slack", "oauth2"),
        ("OpenAI key", "chatgpt", "custom"),
    ]
    one = await stack.admin.call_tool(
        "get_automation_account", {"project_id": project, "account_id": accounts[0]["id"]}
    )
    for secret in held_credentials(stack):
        assert secret not in everything(listed) + everything(one)


async def test_an_audit_entry_of_an_account_is_answered_without_the_credentials_it_recorded(stack: Stack) -> None:
    project = stack.projects[0]
    logs = (await ok(stack.admin, "list_automation_audit_logs", project_id=project, limit=100))["logs"]
    entry = next(log for log in logs if log["module"] == "Connected Apps")
    result = await stack.admin.call_tool("get_automation_audit_log", {"project_id": project, "log_id": entry["uid"]})
    assert structured(result)["subject_title"] in ("Slack workspace", "OpenAI key")
    for secret in held_credentials(stack):
        assert secret not in everything(result)


async def test_an_account_answer_that_carries_credentials_is_cut_to_what_names_it() -> None:
    """Automate's account answers, as documented, hold no credentials; should one ever carry
    them (as its audit entries do), the tool still shows none."""
    credentials = {"auth": "ENC_abc;def==", "client_secret": "hgBXMqgoJIjxyPo2xEc1", "access_token": "tok-123456"}

    def answer(request: httpx2.Request) -> httpx2.Response:
        account = {"id": "a1", "title": "Launch", "group_name": "launch", "type": "oauth2", **credentials}
        return httpx2.Response(200, json=account)

    env = {
        "CONTENTSTACK_AUTHTOKEN": DEMO_CREDENTIALS.authtoken,
        "CONTENTSTACK_ORGANIZATION_UID": DEMO_CREDENTIALS.organization_uid,
        "CS_MCP_TOOLSETS": "automate_admin",
    }
    server = build_server(
        Settings.from_env(env), stdio_role="admin", transport=httpx2.MockTransport(answer), rate_limits=UNPACED
    )
    async with Client(server) as client:
        result = await client.call_tool("get_automation_account", {"project_id": "p1", "account_id": "a1"})
    assert structured(result)["title"] == "Launch"
    for secret in credentials.values():
        assert secret not in everything(result)


async def test_an_update_to_what_the_variable_already_holds_sends_nothing(stack: Stack) -> None:
    variable = next(v for v in stack.variables(stack.projects[0]) if v["key"] == "SLACK_CHANNEL")
    arguments = {"project_id": stack.projects[0], "variable_id": variable["id"], "value": "#content"}
    answer = await ok(stack.admin, "update_project_variable", **arguments)
    assert answer["written"] is False
    assert not [m for m, _ in stack.transport.sent if m != "GET"]
