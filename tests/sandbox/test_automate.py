"""The sandbox's Automate API over HTTP: auth, lists and filters, the toggle and its audit trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from cs_mcp.sandbox import automate
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState
from tests.sandbox._service import service_client, service_fixtures, service_state

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
MOUNT = "/automate/v1"
HEADERS = {"authtoken": DEMO_CREDENTIALS.authtoken, "organization_uid": DEMO_CREDENTIALS.organization_uid}


def make_state(seed: int = 7) -> SandboxState:
    return service_state(automate.setup, SandboxConfig(seed=seed), NOW)


state, http = service_fixtures(make_state, MOUNT, automate.routes, HEADERS)


async def first_project(http: httpx2.AsyncClient) -> dict[str, Any]:
    return (await http.get("/projects")).json()["projects"][0]


async def rules(http: httpx2.AsyncClient, project_id: str) -> list[dict[str, Any]]:
    answer = await http.get(f"/projects/{project_id}/automations", params={"show_steps": "true"})
    return answer.json()["rules"]


async def rule_titled(http: httpx2.AsyncClient, title_start: str) -> dict[str, Any]:
    for project in (await http.get("/projects")).json()["projects"]:
        for rule in await rules(http, project["id"]):
            if rule["title"].startswith(title_start):
                return rule
    raise AssertionError(f"no automation titled {title_start!r}")


# -- auth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authtoken": "blt_wrong_token"},
        {"organization_uid": DEMO_CREDENTIALS.organization_uid},
        {"authtoken": DEMO_CREDENTIALS.authtoken},
        {"authtoken": DEMO_CREDENTIALS.authtoken, "organization_uid": "blt_other_org"},
        {"authorization": DEMO_CREDENTIALS.management_token, "organization_uid": DEMO_CREDENTIALS.organization_uid},
    ],
    ids=["nothing", "wrong-token", "org-only", "no-org", "other-org", "management-token"],
)
async def test_a_request_without_the_authtoken_and_organization_is_refused_with_105(
    state: SandboxState, headers: dict[str, str]
) -> None:
    async with service_client(state, MOUNT, automate.routes) as client:
        answer = await client.get("/projects", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error_code"] == 105


async def test_a_bearer_token_is_accepted_like_the_authtoken(state: SandboxState) -> None:
    headers = {
        "authorization": f"Bearer {DEMO_CREDENTIALS.authtoken}",
        "organization_uid": DEMO_CREDENTIALS.organization_uid,
    }
    async with service_client(state, MOUNT, automate.routes) as client:
        answer = await client.get("/projects", headers=headers)
    assert answer.status_code == 200


# -- projects and automations ------------------------------------------------------------


async def test_two_projects_of_the_organization_are_listed_with_ids_and_a_count(http: httpx2.AsyncClient) -> None:
    body = (await http.get("/projects", params={"include_count": "true"})).json()
    assert body["count"] == 2
    assert len(body["projects"]) == 2
    for project in body["projects"]:
        assert project["org_id"] == DEMO_CREDENTIALS.organization_uid
        assert len(project["id"]) == 32
        one = (await http.get(f"/projects/{project['id']}")).json()
        assert one == project


async def test_an_unknown_project_is_404_with_error_141(http: httpx2.AsyncClient) -> None:
    for path in (
        "/projects/nope",
        "/projects/nope/automations",
        "/projects/nope/executions",
        "/projects/nope/audit-logs",
    ):
        answer = await http.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error_code"] == 141


async def test_automations_are_listed_under_rules_in_both_states(http: httpx2.AsyncClient) -> None:
    project = await first_project(http)
    body = (await http.get(f"/projects/{project['id']}/automations", params={"include_count": "true"})).json()
    states = {rule["active"] for rule in body["rules"]}
    assert states == {True, False}
    assert body["count"] == len(body["rules"])
    assert all("steps" not in rule and "trigger" not in rule for rule in body["rules"])


@pytest.mark.parametrize("query", ['{"active": "true"}', "{'active':'true'}", '{"active": true}'])
async def test_the_active_query_lists_only_active_automations(http: httpx2.AsyncClient, query: str) -> None:
    project = await first_project(http)
    body = (await http.get(f"/projects/{project['id']}/automations", params={"query": query})).json()
    assert body["rules"]
    assert all(rule["active"] is True for rule in body["rules"])


async def test_an_unparsable_query_is_refused_with_400(http: httpx2.AsyncClient) -> None:
    project = await first_project(http)
    answer = await http.get(f"/projects/{project['id']}/automations", params={"query": "{active"})
    assert answer.status_code == 400
    assert answer.json()["error_code"] == 400


async def test_show_steps_adds_the_trigger_and_the_action_steps(http: httpx2.AsyncClient) -> None:
    project = await first_project(http)
    rule = (await rules(http, project["id"]))[0]
    bare = (await http.get(f"/projects/{project['id']}/automations/{rule['id']}")).json()
    full = (await http.get(f"/projects/{project['id']}/automations/{rule['id']}", params={"show_steps": "true"})).json()
    assert "steps" not in bare
    assert full["trigger"]["id"]
    assert [step["type"] for step in full["steps"]] == ["action"]
    assert full["trigger"]["next"] == [full["steps"][0]["name"]]


async def test_an_automation_of_another_project_is_not_found_in_this_one(http: httpx2.AsyncClient) -> None:
    projects = (await http.get("/projects")).json()["projects"]
    rule = (await rules(http, projects[1]["id"]))[0]
    answer = await http.get(f"/projects/{projects[0]['id']}/automations/{rule['id']}")
    assert answer.status_code == 404


# -- the toggle --------------------------------------------------------------------------


async def test_switching_off_and_on_changes_the_state_and_writes_an_audit_entry_each_time(
    http: httpx2.AsyncClient, state: SandboxState
) -> None:
    rule = await rule_titled(http, "Notify Slack")
    path = f"/projects/{rule['project_id']}/automations/{rule['id']}"
    logs = f"/projects/{rule['project_id']}/audit-logs"
    before = (await http.get(logs, params={"include_count": "true"})).json()["count"]

    off = await http.patch(path, json={"active": False})
    assert off.status_code == 200
    assert off.json() == {"message": "automation has been deactivated successfully"}
    assert (await http.get(path)).json()["active"] is False

    state.clock.advance(60)
    on = await http.patch(path, json={"active": True})
    assert on.json() == {"message": "automation has been activated successfully"}
    assert (await http.get(path)).json()["active"] is True

    body = (await http.get(logs, params={"include_count": "true", "limit": 2})).json()
    assert body["count"] == before + 2
    newest, previous = body["logs"]
    assert (newest["event"], previous["event"]) == ("Enabled", "Disabled")
    assert newest["module_uid"] == rule["id"]
    assert newest["metadata"]["active"] is True
    assert previous["metadata"]["active"] is False
    assert newest["created_at"] == automate.iso(NOW + timedelta(seconds=60))
    one = (await http.get(f"{logs}/{newest['uid']}")).json()
    assert one == newest


async def test_setting_the_state_it_already_has_succeeds_without_an_audit_entry(http: httpx2.AsyncClient) -> None:
    rule = await rule_titled(http, "Notify Slack")
    logs = f"/projects/{rule['project_id']}/audit-logs"
    before = (await http.get(logs, params={"include_count": "true"})).json()["count"]
    answer = await http.patch(f"/projects/{rule['project_id']}/automations/{rule['id']}", json={"active": True})
    assert answer.status_code == 200
    assert (await http.get(logs, params={"include_count": "true"})).json()["count"] == before


@pytest.mark.parametrize(("title", "missing"), [("Tag products", "action"), ("Forward order webhooks", "trigger")])
async def test_an_automation_without_a_trigger_or_an_action_cannot_be_activated(
    http: httpx2.AsyncClient, title: str, missing: str
) -> None:
    rule = await rule_titled(http, title)
    logs = f"/projects/{rule['project_id']}/audit-logs"
    before = (await http.get(logs, params={"include_count": "true"})).json()["count"]
    path = f"/projects/{rule['project_id']}/automations/{rule['id']}"
    answer = await http.patch(path, json={"active": True})
    assert answer.status_code == 422
    assert answer.json()["error_code"] == automate.CANNOT_TOGGLE_CODE
    assert list(answer.json()["errors"]) == [missing]
    assert (await http.get(path)).json()["active"] is False
    assert (await http.get(logs, params={"include_count": "true"})).json()["count"] == before


@pytest.mark.parametrize("body", [{}, {"active": "true"}, [True], None])
async def test_a_toggle_body_without_a_boolean_active_is_refused_with_400(
    http: httpx2.AsyncClient, body: object
) -> None:
    rule = await rule_titled(http, "Notify Slack")
    path = f"/projects/{rule['project_id']}/automations/{rule['id']}"
    answer = await http.patch(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert (await http.get(path)).json()["active"] is True


# -- executions and audit logs -----------------------------------------------------------


async def all_executions(http: httpx2.AsyncClient, project_id: str, **params: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    skip = 0
    while True:
        page = (
            await http.get(f"/projects/{project_id}/executions", params={"limit": "100", "skip": str(skip), **params})
        ).json()["executions"]
        found.extend(page)
        if len(page) < 100:
            return found
        skip += 100


async def test_execution_history_covers_the_last_30_days_with_successes_and_failures(
    http: httpx2.AsyncClient,
) -> None:
    project = await first_project(http)
    executions = await all_executions(http, project["id"])
    assert {e["status"] for e in executions} == {"success", "failed"}
    oldest = NOW - timedelta(days=31)
    for execution in executions:
        at = datetime.fromisoformat(execution["created_at"].replace("Z", "+00:00"))
        assert oldest <= at <= NOW
    stamps = [e["created_at"] for e in executions]
    assert stamps == sorted(stamps, reverse=True)
    failed = next(e for e in executions if e["status"] == "failed")
    assert failed["details"][-1]["status"] == "failed"
    assert failed["details"][-1]["error"]["message"]


async def test_executions_filter_by_status_and_automation(http: httpx2.AsyncClient) -> None:
    project = await first_project(http)
    everything = await all_executions(http, project["id"])
    failed = await all_executions(http, project["id"], query=json.dumps({"status": "failed"}))
    assert failed
    assert all(e["status"] == "failed" for e in failed)
    assert len(failed) == sum(1 for e in everything if e["status"] == "failed")
    rule_id = failed[0]["rule_id"]
    both = await all_executions(http, project["id"], query=json.dumps({"status": "failed", "rule_id": rule_id}))
    assert both
    assert all(e["rule_id"] == rule_id and e["status"] == "failed" for e in both)


async def test_executions_page_with_skip_limit_and_count(http: httpx2.AsyncClient) -> None:
    project = await first_project(http)
    path = f"/projects/{project['id']}/executions"
    first = (await http.get(path, params={"limit": "5", "include_count": "true"})).json()
    second = (await http.get(path, params={"limit": "5", "skip": "5"})).json()
    assert len(first["executions"]) == 5
    assert first["count"] > 10
    assert {e["id"] for e in first["executions"]}.isdisjoint(e["id"] for e in second["executions"])
    ascending = (await http.get(path, params={"limit": "3", "asc": "created_at"})).json()["executions"]
    stamps = [e["created_at"] for e in ascending]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize(
    "params", [{"limit": "101"}, {"limit": "-1"}, {"skip": "x"}, {"asc": "status"}], ids=["big", "neg", "nan", "sort"]
)
async def test_list_parameters_out_of_range_are_refused_with_400(
    http: httpx2.AsyncClient, params: dict[str, str]
) -> None:
    project = await first_project(http)
    answer = await http.get(f"/projects/{project['id']}/executions", params=params)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == 400


async def test_one_execution_and_one_audit_log_are_read_by_id(http: httpx2.AsyncClient) -> None:
    project = await first_project(http)
    execution = (await http.get(f"/projects/{project['id']}/executions", params={"limit": "1"})).json()["executions"][0]
    assert (await http.get(f"/projects/{project['id']}/executions/{execution['id']}")).json() == execution
    missing = await http.get(f"/projects/{project['id']}/executions/nope")
    assert (missing.status_code, missing.json()["error_code"]) == (404, 141)
    log = (await http.get(f"/projects/{project['id']}/audit-logs", params={"limit": "1"})).json()["logs"][0]
    assert log["module"] == "Automation"
    assert log["project_uid"] == project["id"]
    assert (await http.get(f"/projects/{project['id']}/audit-logs/nope")).status_code == 404


# -- the seed ----------------------------------------------------------------------------


async def test_the_seed_is_the_same_for_the_same_seed_and_clock_and_setup_does_not_reseed() -> None:
    async def snapshot(state: SandboxState) -> list[Any]:
        async with service_client(state, MOUNT, automate.routes, HEADERS) as client:
            projects = (await client.get("/projects")).json()["projects"]
            pid = projects[0]["id"]
            executions = (await client.get(f"/projects/{pid}/executions")).json()["executions"]
            return [projects, await rules(client, pid), executions]

    one, two = make_state(), make_state()
    automate.setup(two)
    assert await snapshot(one) == await snapshot(two)
    assert await snapshot(make_state(seed=8)) != await snapshot(one)


async def test_a_file_database_keeps_a_toggle_across_restarts_until_reset(tmp_path: Path) -> None:
    db_path = str(tmp_path / "sandbox.db")

    def open_state(reset: bool) -> SandboxState:
        state = SandboxState(
            config=SandboxConfig(db_path=db_path, reset=reset), db=Database(db_path), clock=SandboxClock(NOW)
        )
        automate.setup(state)
        return state

    async def notify_slack_active(state: SandboxState, switch_off: bool = False) -> bool:
        async with service_client(state, MOUNT, automate.routes, HEADERS) as client:
            rule = await rule_titled(client, "Notify Slack")
            path = f"/projects/{rule['project_id']}/automations/{rule['id']}"
            if switch_off:
                await client.patch(path, json={"active": False})
            return (await client.get(path)).json()["active"]

    first = open_state(reset=False)
    assert await notify_slack_active(first, switch_off=True) is False
    first.db.close()
    kept = open_state(reset=False)
    assert await notify_slack_active(kept) is False
    kept.db.close()
    wiped = open_state(reset=True)
    assert await notify_slack_active(wiped) is True
    wiped.db.close()


# -- projects, variables and accounts ----------------------------------------------------------


async def test_a_project_is_created_updated_and_deleted_with_everything_in_it(http: httpx2.AsyncClient) -> None:
    created = await http.post("/projects", json={"title": "New", "tags": ["x"]})
    project = f"/projects/{created.json()['id']}"
    await http.post(f"{project}/variables", json={"key": "K", "type": "text", "value": "v"})
    updated = await http.put(project, json={"description": "d"})
    deleted = await http.delete(project)
    assert created.status_code == 201
    assert (updated.json()["title"], updated.json()["description"], updated.json()["tags"]) == ("New", "d", ["x"])
    assert deleted.json() == {"message": "Project deleted successfully."}
    assert (await http.get(project)).status_code == 404
    assert (await http.get(f"{project}/variables")).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"key": "", "type": "text", "value": "v"},
        {"key": "K", "type": "secret", "value": "v"},
        {"key": "K", "type": "text"},
    ],
)
async def test_a_malformed_variable_is_refused_with_400(http: httpx2.AsyncClient, body: dict[str, Any]) -> None:
    project = await first_project(http)
    answer = await http.post(f"/projects/{project['id']}/variables", json=body)
    assert (answer.status_code, answer.json()["error_code"]) == (400, 400)


async def test_a_password_variable_is_stored_and_answered_only_encrypted(http: httpx2.AsyncClient) -> None:
    project = await first_project(http)
    made = await http.post(
        f"/projects/{project['id']}/variables", json={"key": "TOKEN", "type": "password", "value": "hunter22"}
    )
    listed = await http.get(f"/projects/{project['id']}/variables")
    taken = await http.post(f"/projects/{project['id']}/variables", json={"key": "TOKEN", "type": "text", "value": "x"})
    assert made.json()["value"].startswith("ENC_")
    assert "hunter22" not in made.text + listed.text
    assert (taken.status_code, taken.json()["error_code"]) == (422, 119)


async def test_accounts_are_answered_without_the_credentials_their_audit_entries_hold(http: httpx2.AsyncClient) -> None:
    project = await first_project(http)
    accounts = (await http.get(f"/projects/{project['id']}/accounts")).json()["accounts"]
    logs = (await http.get(f"/projects/{project['id']}/audit-logs", params={"limit": "100"})).json()["logs"]
    held = next(log["metadata"] for log in logs if log["module"] == "Connected Apps")
    assert {"auth", "client_secret"} <= set(held)
    assert not {"auth", "client_secret", "client_id"} & {key for account in accounts for key in account}
