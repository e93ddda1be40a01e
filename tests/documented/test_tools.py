"""Tools on a stand-in that answers every request with its reference page's sample (the
fixtures of test_client.py): what the tools make of the documented answers."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from mcp import Client

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.server import build_server
from tests.documented._documented import fixture
from tests.helpers import UNPACED, full_env, structured

pytestmark = pytest.mark.anyio

ENV = full_env("blt_api_key", "cs_management_token", "cs_authtoken", "org-uid")


class DocumentedStack:
    """Answers each documented request with its fixture; the version lookup before a publish
    answers the CMA | Entries sample once per uid asked for."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        path = request.url.path
        routes = {
            "/v3/environments": "cma/environments",
            "/v3/locales": "cma/locales",
            "/v3/publish-queue": "cma/publish_queue",
            "/v3/publish-queue/queue-uid": "cma/publish_queue_row",
            "/v3/publish-queue/queue-uid/unschedule": "cma/publish_queue_cancel",
            "/v3/bulk/publish": "cma/bulk_publish",
            "/v3/bulk/jobs/job-uid": "cma/bulk_job",
            "/v3/bulk/jobs/job-uid/items": "cma/bulk_job_items",
            "/v3/releases": "cma/releases",
            "/v1/projects": "automate/projects",
            "/v1/projects/project-id/automations": "automate/automations",
            "/v1/projects/project-id/variables": "automate/variables",
            "/v1/projects/project-id/accounts/account-id": "automate/account",
            "/v1/projects/project-id/audit-logs/log-uid": "automate/audit_log_account",
            "/v3/content_types/author/entries/entry-uid/references": "cma/entry_references",
        }
        if path == "/v3/content_types/author/entries":
            asked = json.loads(request.url.params["query"])["uid"]["$in"]
            sample = fixture("cma/entries")["entries"][0]
            return httpx2.Response(200, json={"entries": [{**sample, "uid": uid} for uid in asked]})
        if path not in routes:
            return httpx2.Response(404, json={"error_message": "not documented here", "error_code": 0})
        return httpx2.Response(200, json=fixture(routes[path]))


def connect(stack: DocumentedStack, toolsets: str = "") -> Client:
    server = build_server(
        Settings.from_env(ENV | {"CS_MCP_TOOLSETS": toolsets}),
        guard=Guard(builtin_policy()),
        stdio_role="admin",
        transport=httpx2.MockTransport(stack),
        rate_limits=UNPACED,
    )
    return Client(server)


async def test_a_bulk_publish_reports_each_item_as_the_documented_job_items_say() -> None:
    stack = DocumentedStack()
    items = [{"type": "entry", "content_type": "author", "uid": uid} for uid in ("entry-uid-1", "entry-uid-2")]
    async with connect(stack) as client:
        answer = structured(
            await client.call_tool("publish", {"items": items, "environments": ["production"], "locales": ["en-us"]})
        )
    reports = {r["item"]: r for r in answer["items"]}
    assert answer["counts"] == {"published": 1, "failed": 1}
    assert reports["entry author/entry-uid-2 (en-us)"]["reason"] == "Entry is not localized in en-us."
    assert reports["entry author/entry-uid-1 (en-us)"]["job_id"] == "job-uid"
    assert answer["job_ids"] == ["job-uid"]


async def test_the_publish_queue_shows_the_rows_content_type_and_the_deployments_release() -> None:
    stack = DocumentedStack()
    async with connect(stack) as client:
        answer = structured(await client.call_tool("list_publish_queue", {}))
    entry_row, release_row = answer["rows"]
    assert (entry_row["content_type"], entry_row["item_uid"], entry_row["status"]) == ("ct5", "entry-uid", "scheduled")
    assert (release_row["type"], release_row["release"]) == ("release", "release_uid")
    assert all(r.headers.get("api_version") == "3.2" for r in stack.requests if "publish-queue" in r.url.path)


async def test_cancelling_a_documented_row_plans_for_its_content_type_environment_and_locale() -> None:
    stack = DocumentedStack()
    async with connect(stack) as client:
        dry = structured(
            await client.call_tool("cancel_scheduled_publish", {"queue_uid": "queue-uid", "dry_run": True})
        )
        done = structured(await client.call_tool("cancel_scheduled_publish", {"queue_uid": "queue-uid"}))
    targets: dict[str, Any] = dry["plan"]["targets"]
    assert (targets["content_type"], targets["locale"]) == (["ct5"], ["hi-in"])
    assert done["row"]["status"] == "cancelled"
    assert done["notice"] == "Release unscheduled successfully."


async def test_releases_are_listed_from_the_documented_sample() -> None:
    stack = DocumentedStack()
    async with connect(stack) as client:
        answer = structured(await client.call_tool("list_releases", {}))
    (release,) = answer["releases"]
    assert (release["uid"], release["locked"], release["items_count"]) == ("blt123123bfc123fdd1", True, 10)


async def test_active_automations_are_asked_for_with_the_documented_query_and_listed() -> None:
    stack = DocumentedStack()
    async with connect(stack) as client:
        answer = structured(await client.call_tool("list_automations", {"project_id": "project-id", "active": True}))
    assert [a["id"] for a in answer["automations"]] == ["automation-id"]
    (request,) = [r for r in stack.requests if r.url.path.endswith("/automations")]
    assert request.url.params["query"] == "{'active':'true'}"


async def test_the_documented_password_variable_is_listed_without_its_value() -> None:
    async with connect(DocumentedStack(), "automate_admin") as client:
        result = await client.call_tool("list_project_variables", {"project_id": "project-id"})
    answer = structured(result)
    assert [(v["key"], v["secret"], v["value"]) for v in answer["variables"]] == [
        ("Key1", False, "1234567"),
        ("Key2", True, None),
    ]
    assert "ENC_" not in result.model_dump_json()


async def test_the_documented_account_and_its_audit_entry_are_answered_without_credentials() -> None:
    documented = fixture("automate/audit_log_account")["metadata"]
    async with connect(DocumentedStack(), "automate_admin") as client:
        account = await client.call_tool(
            "get_automation_account", {"project_id": "project-id", "account_id": "account-id"}
        )
        log = await client.call_tool("get_automation_audit_log", {"project_id": "project-id", "log_id": "log-uid"})
    assert structured(account)["title"] == "Test Launch Account #1"
    assert (structured(log)["module"], structured(log)["subject_title"]) == ("Connected Apps", "Test Launch Account #1")
    for secret in (documented["auth"], documented["client_id"], documented["client_secret"]):
        assert secret not in account.model_dump_json() + log.model_dump_json()


async def test_the_documented_references_name_the_referring_entry_and_where_it_is_published() -> None:
    async with connect(DocumentedStack(), "entries_extra") as client:
        answer = structured(
            await client.call_tool("get_entry_references", {"content_type": "author", "uid": "entry-uid"})
        )
    [reference] = answer["references"]
    assert (reference["content_type"], reference["uid"], reference["version"]) == (
        "ref_parent",
        "blt**************2e",
        8,
    )
    assert answer["total"] == 1
