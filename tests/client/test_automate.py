"""The Automate area of the client: requests as Automate documents them, answers parsed, the
toggle's permit, and the same client against the sandbox's independent reading of the API."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from cs_mcp.client import (
    Api,
    ClientConfig,
    ContentstackClient,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermitRequiredError,
)
from cs_mcp.client._automate import SET_ACTIVE_OPERATION, Automation, automate_query
from cs_mcp.guard import Permit, PermitAuthority
from cs_mcp.sandbox import automate as sandbox_automate
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState
from tests.client._mock import MANAGEMENT, Handler, Recorder, mock_client

pytestmark = pytest.mark.anyio

CONFIG = replace(MANAGEMENT, authtoken="blt_user_authtoken", organization_uid="blt_org_uid")

RULE = {
    "id": "a1",
    "title": "Notify Slack",
    "project_id": "p1",
    "active": True,
    "trigger": {"id": "t1", "next": ["110001"]},
    "steps": [{"id": "s1", "name": "110001", "type": "action", "title": "Send Message"}],
}


def make_client(answer: Handler, authority: PermitAuthority | None = None) -> tuple[ContentstackClient, Recorder]:
    recorder = Recorder(answer)
    return mock_client(recorder, CONFIG, permits=authority), recorder


def toggle_permit(client: ContentstackClient, project: str) -> Permit:
    """The guard's permit to switch the automations of `project` on or off, from the client's authority."""
    return client.permits.issue(
        "local", "set_automation_active", SET_ACTIVE_OPERATION, {"automation_project": [project]}
    )


def answer_json(body: object, status: int = 200) -> Handler:
    return lambda _request: httpx2.Response(status, json=body)


async def test_projects_are_read_with_the_authtoken_and_organization_never_the_management_token() -> None:
    client, seen = make_client(answer_json({"projects": [{"id": "p1", "title": "Ops"}], "count": 3}))
    async with client:
        page = await client.automate.projects(skip=0, limit=1)
    request = seen.requests[0]
    assert request.url.host == "automations-api.contentstack.com"
    assert request.url.path == "/v1/projects"
    assert request.headers["authtoken"] == "blt_user_authtoken"
    assert request.headers["organization_uid"] == "blt_org_uid"
    assert "authorization" not in request.headers
    assert "api_key" not in request.headers
    assert dict(request.url.params) == {"limit": "1", "skip": "0", "include_count": "true"}
    assert [p.id for p in page.items] == ["p1"]
    assert (page.total, page.next_skip) == (3, 1)


async def test_a_project_is_read_from_its_unwrapped_answer() -> None:
    client, seen = make_client(answer_json({"id": "p1", "title": "Ops", "tags": ["a"]}))
    async with client:
        project = await client.automate.project("p1")
    assert seen.requests[0].url.raw_path == b"/v1/projects/p1"
    assert (project.id, project.tags) == ("p1", ["a"])


async def test_automations_filter_by_active_with_the_documented_query_and_show_steps() -> None:
    client, seen = make_client(answer_json({"rules": [RULE], "count": 1}))
    async with client:
        page = await client.automate.automations("p1", active=False, show_steps=True, limit=10)
    params = seen.requests[0].url.params
    assert seen.requests[0].url.path == "/v1/projects/p1/automations"
    assert params["query"] == "{'active':'false'}"  # as the Automations page writes it
    assert params["show_steps"] == "true"
    assert page.items[0].missing_parts() == []


async def test_an_automation_is_read_with_its_steps_and_says_what_it_lacks() -> None:
    bare = {"id": "a2", "active": False, "trigger": {"id": "t"}, "steps": [{"type": "condition"}]}
    client, seen = make_client(answer_json(bare))
    async with client:
        automation = await client.automate.automation("p1", "a2")
    assert seen.requests[0].url.params["show_steps"] == "true"
    assert automation.missing_parts() == ["action"]


def test_an_automation_read_without_steps_cannot_tell_what_it_lacks() -> None:
    assert Automation.model_validate({"id": "a"}).missing_parts() is None
    assert Automation.model_validate({"id": "a", "steps": []}).missing_parts() == ["trigger", "action"]


async def test_the_toggle_without_a_permit_sends_nothing() -> None:
    client, seen = make_client(answer_json({"message": "ok"}))
    async with client:
        with pytest.raises(PermitRequiredError):
            await client.request(
                Api.AUTOMATE,
                "PATCH",
                ["projects", "p1", "automations", "a1"],
                json_body={"active": False},
                operation=SET_ACTIVE_OPERATION,
                targets={"automation_project": ["p1"]},
            )
    assert seen.requests == []


async def test_the_toggle_with_a_permit_for_another_project_sends_nothing() -> None:
    client, seen = make_client(answer_json({"message": "ok"}))
    async with client:
        with pytest.raises(PermitRequiredError):
            await client.automate.set_active("p1", "a1", False, permit=toggle_permit(client, "p2"))
    assert seen.requests == []


async def test_the_toggle_patches_active_and_answers_automates_message() -> None:
    client, seen = make_client(answer_json({"message": "automation has been deactivated successfully"}))
    async with client:
        message = await client.automate.set_active("p1", "a1", False, permit=toggle_permit(client, "p1"))
    request = seen.requests[0]
    assert (request.method, request.url.path) == ("PATCH", "/v1/projects/p1/automations/a1")
    assert json.loads(request.content) == {"active": False}
    assert request.headers["content-type"] == "application/json"
    assert message == "automation has been deactivated successfully"


async def test_a_refused_toggle_is_an_invalid_request_with_automates_code() -> None:
    refusal = {"error_message": "needs an action", "error_code": 119, "errors": {"action": ["is not configured."]}}
    client, seen = make_client(answer_json(refusal, 422))
    async with client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.automate.set_active("p1", "a1", True, permit=toggle_permit(client, "p1"))
    assert (caught.value.status, caught.value.error_code) == (422, 119)
    assert caught.value.errors == {"action": ["is not configured."]}
    assert len(seen.requests) == 1, "a refused write is not retried"


async def test_executions_send_their_filters_as_a_query_and_list_newest_first() -> None:
    execution = {"id": "e1", "rule_id": "a1", "status": "failed", "details": [{"name": "1", "status": "failed"}]}
    client, seen = make_client(answer_json({"executions": [execution], "count": 1}))
    async with client:
        page = await client.automate.executions("p1", automation_id="a1", status="failed", skip=5, limit=5)
    params = seen.requests[0].url.params
    assert params["query"] == "{'rule_id':'a1','status':'failed'}"
    assert (params["desc"], params["skip"], params["limit"]) == ("created_at", "5", "5")
    assert page.items[0].details[0].status == "failed"


async def test_executions_without_filters_send_no_query() -> None:
    client, seen = make_client(answer_json({"executions": []}))
    async with client:
        await client.automate.executions("p1", oldest_first=True)
    params = seen.requests[0].url.params
    assert "query" not in params
    assert params["asc"] == "created_at"


async def test_audit_logs_and_single_entries_are_read() -> None:
    entry = {"uid": "csls1", "event": "Enabled", "module": "Automation", "metadata": {"active": True}}

    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/audit-logs"):
            return httpx2.Response(200, json={"logs": [entry], "count": 1})
        return httpx2.Response(200, json=entry)

    client, seen = make_client(answer)
    async with client:
        page = await client.automate.audit_logs("p1")
        one = await client.automate.audit_log("p1", "csls1")
    assert [r.url.path for r in seen.requests] == ["/v1/projects/p1/audit-logs", "/v1/projects/p1/audit-logs/csls1"]
    assert page.items[0].event == "Enabled"
    assert one.metadata == {"active": True}


async def test_an_answer_without_its_list_is_malformed() -> None:
    client, _ = make_client(answer_json({"unexpected": []}))
    async with client:
        with pytest.raises(MalformedResponseError):
            await client.automate.automations("p1")


async def test_an_unknown_execution_is_not_found() -> None:
    client, _ = make_client(answer_json({"error_message": "missing", "error_code": 141}, 404))
    async with client:
        with pytest.raises(NotFoundError):
            await client.automate.execution("p1", "nope")


async def test_a_limit_over_100_is_refused_before_sending() -> None:
    client, seen = make_client(answer_json({"executions": []}))
    async with client:
        with pytest.raises(ValueError, match="limit"):
            await client.automate.executions("p1", limit=101)
    assert seen.requests == []


# -- against the sandbox -------------------------------------------------------------------


async def test_the_client_and_the_sandbox_agree_on_the_toggle_and_its_audit_entry() -> None:
    state = SandboxState(
        config=SandboxConfig(), db=Database(":memory:"), clock=SandboxClock(datetime(2025, 6, 1, tzinfo=UTC))
    )
    sandbox_automate.setup(state)
    app = Starlette(routes=[Mount("/automate/v1", routes=sandbox_automate.routes(state))])
    config = ClientConfig(
        authtoken=DEMO_CREDENTIALS.authtoken,
        organization_uid=DEMO_CREDENTIALS.organization_uid,
        base_urls={Api.AUTOMATE: "http://sandbox/automate"},
    )
    authority = PermitAuthority()
    async with ContentstackClient(config, permits=authority, transport=httpx2.ASGITransport(app=app)) as client:
        project = (await client.automate.projects()).items[0]
        active = (await client.automate.automations(project.id, active=True, show_steps=True)).items
        target = active[0]
        permit = toggle_permit(client, project.id)
        await client.automate.set_active(project.id, target.id, False, permit=permit)
        after = await client.automate.automation(project.id, target.id)
        newest = (await client.automate.audit_logs(project.id, limit=1)).items[0]
        failed = await client.automate.executions(project.id, status="failed", limit=100)
        incomplete = next(
            a
            for a in (await client.automate.automations(project.id, show_steps=True)).items
            if a.missing_parts() == ["action"]
        )
        with pytest.raises(InvalidRequestError) as caught:
            await client.automate.set_active(project.id, incomplete.id, True, permit=permit)
    assert after.active is False
    assert (newest.event, newest.module_uid) == ("Disabled", target.id)
    assert failed.items
    assert all(e.status == "failed" for e in failed.items)
    assert failed.total == len(failed.items)
    assert caught.value.errors == {"action": ["is not configured."]}


def test_a_query_value_with_a_quote_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="quote"):
        automate_query({"rule_id": "a'1"})
