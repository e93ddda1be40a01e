"""The automations toolset in memory, through the client, against the sandbox's Automate API."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.routing import Mount

from cs_mcp.config import Settings
from cs_mcp.guard import Guard
from cs_mcp.guard.policy import BUILTIN_ROLE_SPECS, ConfirmSpec, Policy, RoleSpec, resolve_roles
from cs_mcp.sandbox import automate as sandbox_automate
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState
from cs_mcp.server import build_server
from tests.helpers import UNPACED, CountingTransport

pytestmark = pytest.mark.anyio

ENV = {
    "CONTENTSTACK_AUTHTOKEN": DEMO_CREDENTIALS.authtoken,
    "CONTENTSTACK_ORGANIZATION_UID": DEMO_CREDENTIALS.organization_uid,
    "CONTENTSTACK_AUTOMATIONS_BASE_URL": "http://sandbox/automate",
}


@dataclass
class Sandbox:
    state: SandboxState
    transport: CountingTransport
    projects: list[str]

    def automation_titled(self, title_start: str) -> tuple[str, str]:
        """(project id, automation id) of the seeded automation whose title starts so."""
        with self.state.db.read() as conn:
            for row in conn.execute("SELECT project_id, data_json FROM automate_automations ORDER BY position"):
                automation = json.loads(row["data_json"])
                if automation["title"].startswith(title_start):
                    return row["project_id"], automation["id"]
        raise AssertionError(title_start)


@pytest.fixture
def sandbox() -> Sandbox:
    state = SandboxState(
        config=SandboxConfig(), db=Database(":memory:"), clock=SandboxClock(datetime(2025, 6, 1, 12, tzinfo=UTC))
    )
    sandbox_automate.setup(state)
    app = Starlette(routes=[Mount("/automate/v1", routes=sandbox_automate.routes(state))])
    with state.db.read() as conn:
        projects = [r["id"] for r in conn.execute("SELECT id FROM automate_projects ORDER BY position")]
    return Sandbox(state, CountingTransport(httpx2.ASGITransport(app=app)), projects)


def operator_guard(projects: list[str], confirm_tools: list[str] | None = None) -> Guard:
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["automation-operator"] = RoleSpec(
        inherits=["viewer"], scopes=["automationhub.automations:write"], automation_projects=projects
    )
    return Guard(Policy(roles=resolve_roles(specs), confirm=ConfirmSpec(tools=confirm_tools or [])))


@pytest.fixture
async def operator(sandbox: Sandbox) -> AsyncGenerator[Client]:
    """A client whose role may switch automations of the first project only."""
    server = build_server(
        Settings.from_env(ENV),
        guard=operator_guard(sandbox.projects[:1]),
        stdio_role="automation-operator",
        transport=sandbox.transport,
        rate_limits=UNPACED,
    )
    async with Client(server) as client:
        yield client


async def call(client: Client, name: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


# -- reading ---------------------------------------------------------------------------------


async def test_projects_are_listed_page_by_page_with_opaque_cursors(operator: Client, sandbox: Sandbox) -> None:
    first = await call(operator, "list_automation_projects", limit=1)
    assert (first["total"], first["returned"]) == (2, 1)
    second = await call(operator, "list_automation_projects", limit=1, cursor=first["next_cursor"])
    assert second["next_cursor"] is None
    assert [first["projects"][0]["id"], second["projects"][0]["id"]] == sandbox.projects


async def test_automations_filter_by_state_and_say_what_they_lack(operator: Client, sandbox: Sandbox) -> None:
    project = sandbox.projects[0]
    everything = await call(operator, "list_automations", project_id=project)
    inactive = await call(operator, "list_automations", project_id=project, active=False)
    assert {a["active"] for a in everything["automations"]} == {True, False}
    assert inactive["automations"]
    assert all(a["active"] is False for a in inactive["automations"])
    by_title = {a["title"]: a for a in everything["automations"]}
    assert by_title["Tag products on update"]["missing"] == ["action"]
    assert by_title["Notify Slack when a blog post is published"]["actions"] == ["Slack: Send Message"]
    assert by_title["Notify Slack when a blog post is published"]["trigger"] == "Contentstack: Entry Published"


async def test_an_automation_is_shown_with_its_trigger_and_steps(operator: Client, sandbox: Sandbox) -> None:
    project, automation = sandbox.automation_titled("Translate new blog posts")
    detail = await call(operator, "get_automation", project_id=project, automation_id=automation)
    assert detail["trigger"]["title"] == "Entry Created"
    assert [s["type"] for s in detail["steps"]] == ["action", "action"]
    assert detail["trigger"]["next"] == [detail["steps"][0]["name"]]
    assert detail["missing"] == []


async def test_an_unknown_project_or_automation_is_a_tool_error(operator: Client, sandbox: Sandbox) -> None:
    assert (await operator.call_tool("list_automations", {"project_id": "nope"})).is_error
    missing = {"project_id": sandbox.projects[0], "automation_id": "nope"}
    assert (await operator.call_tool("get_automation", missing)).is_error


async def test_executions_filter_by_status_and_automation_across_pages(operator: Client, sandbox: Sandbox) -> None:
    project = sandbox.projects[0]
    failed = await call(operator, "list_automation_executions", project_id=project, status="failed", limit=5)
    assert failed["executions"]
    assert all(e["status"] == "failed" and e["failed_step"] and e["error"] for e in failed["executions"])
    seen = [e["id"] for e in failed["executions"]]
    cursor = failed["next_cursor"]
    while cursor:
        page = await call(
            operator, "list_automation_executions", project_id=project, status="failed", limit=5, cursor=cursor
        )
        assert all(e["status"] == "failed" for e in page["executions"])
        seen += [e["id"] for e in page["executions"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == failed["total"]
    automation = failed["executions"][0]["automation_id"]
    one = await call(
        operator, "list_automation_executions", project_id=project, automation_id=automation, status="success"
    )
    assert one["executions"]
    assert all(e["automation_id"] == automation and e["status"] == "success" for e in one["executions"])


async def test_a_failed_run_is_traced_to_the_step_that_failed(operator: Client, sandbox: Sandbox) -> None:
    project = sandbox.projects[0]
    failed = (await call(operator, "list_automation_executions", project_id=project, status="failed", limit=1))[
        "executions"
    ][0]
    run = await call(operator, "get_automation_execution", project_id=project, execution_id=failed["id"])
    assert run["status"] == "failed"
    assert run["steps"][0]["started_at"].startswith("20")
    assert run["steps"][-1]["status"] == "failed"
    assert run["steps"][-1]["error"] == failed["error"]


# -- the toggle ------------------------------------------------------------------------------


async def test_switching_off_and_on_reads_back_each_state_and_leaves_audit_entries(
    operator: Client, sandbox: Sandbox
) -> None:
    project, automation = sandbox.automation_titled("Notify Slack")
    off = await call(operator, "set_automation_active", project_id=project, automation_id=automation, active=False)
    assert (off["changed"], off["previous_active"], off["active"]) == (True, True, False)
    assert off["verdict"]["decision"] == "allow"
    sandbox.state.clock.advance(60)
    on = await call(operator, "set_automation_active", project_id=project, automation_id=automation, active=True)
    assert (on["changed"], on["previous_active"], on["active"]) == (True, False, True)
    path = f"/automate/v1/projects/{project}/automations/{automation}"
    assert sandbox.transport.writes() == [("PATCH", path), ("PATCH", path)]

    logs = (await call(operator, "list_automation_audit_logs", project_id=project, limit=2))["logs"]
    assert [(log["event"], log["active"], log["subject_id"]) for log in logs] == [
        ("Enabled", True, automation),
        ("Disabled", False, automation),
    ]


async def test_asking_for_the_state_it_already_has_sends_no_write(operator: Client, sandbox: Sandbox) -> None:
    project, automation = sandbox.automation_titled("Notify Slack")
    answer = await call(operator, "set_automation_active", project_id=project, automation_id=automation, active=True)
    assert (answer["changed"], answer["active"]) == (False, True)
    assert sandbox.transport.writes() == []


async def test_an_automation_without_an_action_is_refused_by_automate_and_stays_off(
    operator: Client, sandbox: Sandbox
) -> None:
    project, automation = sandbox.automation_titled("Tag products")
    arguments = {"project_id": project, "automation_id": automation, "active": True}
    result = await operator.call_tool("set_automation_active", arguments)
    assert result.is_error
    assert len(sandbox.transport.writes()) == 1
    detail = await call(operator, "get_automation", project_id=project, automation_id=automation)
    assert detail["active"] is False


async def test_a_project_outside_the_roles_automation_projects_is_denied_with_no_request_sent(
    operator: Client, sandbox: Sandbox
) -> None:
    other = sandbox.projects[1]
    for dry_run in (False, True):
        arguments = {"project_id": other, "automation_id": "any", "active": False, "dry_run": dry_run}
        result = await operator.call_tool("set_automation_active", arguments)
        assert result.is_error
    assert sandbox.transport.sent == []


async def test_a_dry_run_sends_no_write_and_answers_the_plan(operator: Client, sandbox: Sandbox) -> None:
    project, automation = sandbox.automation_titled("Notify Slack")
    answer = await call(
        operator, "set_automation_active", project_id=project, automation_id=automation, active=False, dry_run=True
    )
    assert (answer["dry_run"], answer["changed"], answer["active"]) == (True, False, None)
    assert answer["plan"]["requests"] == [
        {
            "method": "PATCH",
            "path": f"/v1/projects/{project}/automations/{automation}",
            "summary": '{"active": false}',
        }
    ]
    assert answer["plan"]["targets"] == {"automation_project": [project]}
    assert sandbox.transport.writes() == []
    assert all(method == "GET" for method, _ in sandbox.transport.sent)
    detail = await call(operator, "get_automation", project_id=project, automation_id=automation)
    assert detail["active"] is True


async def test_a_toggle_the_policy_wants_confirmed_waits_for_the_token_before_sending(sandbox: Sandbox) -> None:
    server = build_server(
        Settings.from_env(ENV),
        guard=operator_guard(sandbox.projects, confirm_tools=["set_automation_active"]),
        stdio_role="automation-operator",
        transport=sandbox.transport,
        rate_limits=UNPACED,
    )
    project, automation = sandbox.automation_titled("Notify Slack")
    arguments: dict[str, Any] = {"project_id": project, "automation_id": automation, "active": False}
    async with Client(server) as client:
        pending = await call(client, "set_automation_active", **arguments)
        assert sandbox.transport.writes() == []
        token = pending["confirmation"]["confirmation_token"]
        assert (pending["changed"], pending["verdict"]["decision"]) == (False, "confirm")
        done = await call(client, "set_automation_active", **arguments, confirmation_token=token)
    assert (done["changed"], done["active"], done["verdict"]["decision"]) == (True, False, "confirmed")
    assert len(sandbox.transport.writes()) == 1


async def test_a_viewer_is_not_offered_the_toggle_and_cannot_call_it(sandbox: Sandbox) -> None:
    server = build_server(
        Settings.from_env(ENV),
        guard=operator_guard(sandbox.projects),
        stdio_role="viewer",
        transport=sandbox.transport,
        rate_limits=UNPACED,
    )
    project, automation = sandbox.automation_titled("Notify Slack")
    async with Client(server) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool(
            "set_automation_active", {"project_id": project, "automation_id": automation, "active": False}
        )
    assert "list_automations" in names
    assert "set_automation_active" not in names
    assert result.is_error
    assert sandbox.transport.sent == []


async def test_the_toolset_is_not_listed_without_an_authtoken_and_organization(sandbox: Sandbox) -> None:
    server = build_server(
        Settings.from_env({"CONTENTSTACK_AUTOMATIONS_BASE_URL": "http://sandbox/automate"}),
        guard=operator_guard(sandbox.projects),
        stdio_role="automation-operator",
        transport=sandbox.transport,
        rate_limits=UNPACED,
    )
    async with Client(server) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert not names & {"list_automation_projects", "list_automations", "set_automation_active"}


# -- an Automate that ignores the execution filter -------------------------------------------


async def test_runs_that_do_not_match_the_filter_are_left_out_and_the_total_is_unknown() -> None:
    runs: list[dict[str, Any]] = [
        {"id": f"e{i}", "rule_id": "a1", "status": "failed" if i % 2 else "success", "details": []} for i in range(6)
    ]

    def unfiltered(_request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"executions": runs, "count": 40})

    server = build_server(
        Settings.from_env(ENV),
        guard=operator_guard(["p1"]),
        stdio_role="viewer",
        transport=httpx2.MockTransport(unfiltered),
        rate_limits=UNPACED,
    )
    async with Client(server) as client:
        page = await call(client, "list_automation_executions", project_id="p1", status="failed", limit=6)
    assert [e["id"] for e in page["executions"]] == ["e1", "e3", "e5"]
    assert page["total"] is None
    assert page["next_cursor"] is not None
    assert page["note"]


async def test_an_execution_filter_with_a_quote_is_refused_with_a_tool_error_and_nothing_is_sent(
    operator: Client, sandbox: Sandbox
) -> None:
    result = await operator.call_tool(
        "list_automation_executions", {"project_id": sandbox.projects[0], "automation_id": "a'1"}
    )
    assert result.is_error
    assert "automation_id" in str(result.content)  # the identifier pattern refuses it before the tool runs
    assert not [p for _m, p in sandbox.transport.sent if p.endswith("/executions")]
