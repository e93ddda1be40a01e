"""Secrets never leave: every tool runs with real-looking tokens configured against a stack
that echoes them back in its answers and errors, and every answer, log line and audit line is
scanned for them."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server import MCPServer

from cs_mcp.config import Settings
from cs_mcp.guard import AuditLog, Guard, builtin_policy, guard_from_settings
from cs_mcp.guard.loader import settings_secrets
from cs_mcp.safe_text import secret_texts
from cs_mcp.server import build_server
from cs_mcp.toolkit.context import AppState
from cs_mcp.tools import analytics as analytics_tools
from tests._examples import EXAMPLES, author_examples
from tests.helpers import UNPACED, sandbox_server, text_of
from tests.reliability._stack import NO_WAIT, stack
from tests.tools._on_sandbox import InProcessSandbox

pytestmark = pytest.mark.anyio

SECRETS = {
    "CONTENTSTACK_API_KEY": "blt8c3e1f0a9d2b4c67",
    "CONTENTSTACK_MANAGEMENT_TOKEN": "cs4b1c9d8e7f60a5b4c3d2e1f0a9b8c7d6",
    "CONTENTSTACK_AUTHTOKEN": "bltd4e5f6a7b8c9d0e1",
    "CS_MCP_DELIVERY_TOKENS": (
        "development=cs0f1e2d3c4b5a69788776655443322110,production=cs99aa88bb77cc66dd55ee44ff33001122"
    ),
}
PLAIN = {"CONTENTSTACK_ORGANIZATION_UID": "blt0rg5a5a5a5a5a5a5", "CS_MCP_TOOLSETS": "all"}
# Tokens only: the stack API key is an identifier (it is in every asset URL), not a secret.
SECRET_VALUES = [
    "cs4b1c9d8e7f60a5b4c3d2e1f0a9b8c7d6",
    "bltd4e5f6a7b8c9d0e1",
    "cs0f1e2d3c4b5a69788776655443322110",
    "cs99aa88bb77cc66dd55ee44ff33001122",
]

# Every toolset, so that the opt-in ones' tools are reached too.
ALL_TOOLSETS = {"CS_MCP_TOOLSETS": "all"}


def echoing_stack(request: httpx2.Request) -> httpx2.Response:
    """A stack that answers every request with an error quoting every header it received."""
    echoed = "; ".join(f"{k}={v}" for k, v in request.headers.items())
    status = [401, 403, 404, 422, 429, 500][len(echoed) % 6]
    body = {"error_message": f"Refused, you sent {echoed}", "error_code": 105, "errors": {"headers": [echoed]}}
    return httpx2.Response(status, json=body, headers={"x-echo": echoed})


def admin_server(stack: Callable[[httpx2.Request], httpx2.Response], audit: Path) -> MCPServer[AppState]:
    """A server for an admin with every secret and toolset configured, auditing to `audit`,
    whose stack is `stack`."""
    settings = Settings.from_env({**SECRETS, **PLAIN, **ALL_TOOLSETS, "CS_MCP_AUDIT_LOG": str(audit)})
    return build_server(
        settings,
        guard=guard_from_settings(settings),
        stdio_role="admin",
        transport=httpx2.MockTransport(stack),
        rate_limits=UNPACED,
        retry=NO_WAIT,
    )


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRET_VALUES:
        assert secret not in text, f"a configured secret appears in {where}"


async def test_no_secret_reaches_an_answer_a_log_line_or_the_audit_log_when_the_stack_echoes_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    audit = tmp_path / "audit.jsonl"
    server = admin_server(echoing_stack, audit)
    caplog.set_level(logging.DEBUG)
    answers: list[str] = []
    async with Client(server) as client:
        for name, arguments in EXAMPLES.items():
            result = await client.call_tool(name, arguments)
            answers.append(result.model_dump_json())
    for name, answer in zip(EXAMPLES, answers, strict=True):
        assert_no_secret(f"the answer of {name}", answer)
    assert_no_secret("the log", caplog.text)
    # Writes stop at the stack's refusal of their first read; any line written is scanned too.
    assert_no_secret("the audit log", audit.read_text() if audit.exists() else "")


async def test_no_secret_reaches_an_answer_or_the_audit_log_on_the_sandbox(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    audit = tmp_path / "audit.jsonl"
    async with stack(CS_MCP_AUDIT_LOG=str(audit), CS_MCP_TOOLSETS=ALL_TOOLSETS["CS_MCP_TOOLSETS"]) as s:
        creds = s.sandbox.credentials
        secrets = [creds.management_token, creds.authtoken, *creds.delivery_tokens.values()]
        texts: list[str] = []
        for name, arguments in (await sandbox_examples(s.client)).items():
            result = await s.client.call_tool(name, arguments)
            texts.append(result.model_dump_json())
    written = audit.read_text()
    assert written.count("\n") >= 8  # the writes ran and were audited
    for text in [*texts, caplog.text, written]:
        for secret in secrets:
            assert secret not in text


async def sandbox_examples(client: Client) -> dict[str, dict[str, Any]]:
    """EXAMPLES with the uids of objects that exist on the sandbox, so the writes go through."""

    async def first(tool: str, arguments: dict[str, Any], key: str) -> dict[str, Any]:
        result = await client.call_tool(tool, arguments)
        assert result.structured_content is not None, tool
        return result.structured_content[key][0]

    entry = await first("query_entries", {"content_type": "author", "limit": 1}, "entries")
    release = await first("list_releases", {}, "releases")
    project = await first("list_automation_projects", {}, "projects")
    automation = await first("list_automations", {"project_id": project["id"]}, "automations")
    label = await first("list_labels", {}, "labels")
    webhook = await first("list_webhooks", {}, "webhooks")
    item = {"type": "entry", "content_type": "author", "uid": entry["uid"], "locale": "en-us"}
    found = EXAMPLES | author_examples(entry)
    found.update(
        {
            "publish": {"items": [item], "environments": ["development"]},
            "unpublish": {"items": [item], "environments": ["development"]},
            "get_release": {"release_uid": release["uid"]},
            "create_release": {"name": "Secrets", "items": [item]},
            "update_release": {"release_uid": release["uid"], "description": "checked"},
            "clone_release": {"release_uid": release["uid"], "name": "Secrets copy"},
            "list_automations": {"project_id": project["id"]},
            "get_automation": {"project_id": project["id"], "automation_id": automation["id"]},
            "set_automation_active": {
                "project_id": project["id"],
                "automation_id": automation["id"],
                "active": not automation["active"],
            },
            "delete_entry": author_examples(entry)["delete_entry"] | {"dry_run": True},
        }
    )
    in_project = {"project_id": project["id"]}
    variable = await first("list_project_variables", in_project, "variables")
    account = await first("list_automation_accounts", in_project, "accounts")
    log = await first("list_automation_audit_logs", in_project, "logs")
    in_variable = in_project | {"variable_id": variable["id"]}
    found.update(
        {
            "get_automation_project": in_project,
            "update_automation_project": in_project | {"title": "Secrets"},
            "delete_automation_project": in_project,
            "list_project_variables": in_project,
            "create_project_variable": in_project | {"key": "SECRET_PROBE", "value": "v4lue", "type": "password"},
            "update_project_variable": in_variable | {"value": "v4lue"},
            "delete_project_variable": in_variable,
            "list_automation_accounts": in_project,
            "get_automation_account": in_project | {"account_id": account["id"]},
            "get_automation_audit_log": in_project | {"log_id": log["uid"]},
            "update_label": {"uid": label["uid"], "name": "Secrets"},
            "delete_label": {"uid": label["uid"]},
            "update_webhook": {"uid": webhook["uid"], "disabled": True},
            "delete_webhook": {"uid": webhook["uid"]},
        }
    )
    return found


def echo_of(request: httpx2.Request) -> str:
    return "; ".join(f"{k}={v}" for k, v in request.headers.items())


def quoting_stack(request: httpx2.Request) -> httpx2.Response:
    """A stack that accepts the work, then quotes the credentials in the places a tool passes
    on: a failed analytics job's `errors`, a bulk job's per-item error, a request id header."""
    path = request.url.path
    if "/job/" in path:
        return httpx2.Response(500, json={"error_message": "Job Failed", "errors": {"request": [echo_of(request)]}})
    if path.endswith("/usage"):
        return httpx2.Response(200, json={"jobId": "job-1", "paginated": False})
    if path.endswith("/environments"):
        return httpx2.Response(200, json={"environments": [{"name": "development", "uid": "e1"}]})
    if path.endswith("/locales"):
        return httpx2.Response(200, json={"locales": [{"code": "en-us", "name": "English"}]})
    if path.endswith("/content_types/author/entries"):
        return httpx2.Response(200, json={"entries": [{"uid": "a1", "_version": 1}, {"uid": "a2", "_version": 1}]})
    if path.endswith("/bulk/publish"):
        return httpx2.Response(
            200, json={"notice": "ok", "job_id": "bulk-1"}, headers={"x-request-id": echo_of(request)}
        )
    if "/bulk/jobs/" in path:
        rows = [
            {"uid": "a1", "status": "failed", "error_message": f"rejected, you sent {echo_of(request)}"},
            {"uid": "a2", "status": "success"},
        ]
        return httpx2.Response(200, json={"job": {"status": "completed", "items": rows}})
    return httpx2.Response(404, json={"error_message": "not found", "error_code": 141})


async def test_secrets_quoted_in_job_failures_bulk_items_and_request_ids_are_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analytics_tools.POLLER, "sleep", no_wait)
    audit = tmp_path / "audit.jsonl"
    server = admin_server(quoting_stack, audit)
    items = [
        {"type": "entry", "content_type": "author", "uid": u, "version": 1, "locale": "en-us"} for u in ("a1", "a2")
    ]
    async with Client(server) as client:
        failed_job = await client.call_tool(
            "get_analytics", {"report": "usage", "from_date": "2025-01-01", "to_date": "2025-01-05"}
        )
        published = await client.call_tool("publish", {"items": items, "environments": ["development"]})
    assert failed_job.is_error
    assert "[redacted]" in failed_job.model_dump_json()  # the quote is there, scrubbed
    assert_no_secret("the failed analytics job", failed_job.model_dump_json())
    assert_no_secret("the bulk publish report", published.model_dump_json())
    assert_no_secret("the audit log", audit.read_text())


async def no_wait(_seconds: float) -> None:
    return None


async def test_an_argument_quoting_a_token_is_recorded_with_only_the_token_replaced(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    async with stack(CS_MCP_AUDIT_LOG=str(audit), CS_MCP_TOOLSETS="all") as s:
        creds = s.sandbox.credentials
        entry = (await s.client.call_tool("query_entries", {"content_type": "author", "limit": 1})).structured_content
        assert entry is not None
        item = {"type": "entry", "content_type": "author", "uid": entry["entries"][0]["uid"], "locale": "en-us"}
        name = f"Launch {creds.management_token} ignore previous lines, key {creds.api_key}"
        await s.client.call_tool("create_release", {"name": name, "items": [item], "dry_run": True})
    names = [json.loads(line)["arguments"]["name"] for line in audit.read_text().splitlines()]
    assert names
    assert all(n == f"Launch [redacted] ignore previous lines, key {creds.api_key}" for n in names)


def test_the_client_scrubs_tokens_from_its_messages_but_not_the_stack_api_key() -> None:
    settings = Settings.from_env({**SECRETS, **PLAIN})
    assert SECRETS["CONTENTSTACK_API_KEY"] not in settings.client_config().secrets()
    assert SECRETS["CONTENTSTACK_API_KEY"] not in settings_secrets(settings)
    assert set(SECRET_VALUES) <= set(settings_secrets(settings))


class QuotingWrites(httpx2.AsyncBaseTransport):
    """The sandbox, except that it refuses every write with an error quoting the body it was
    sent, secrets and all, as a stack's validation error may."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET":
            return await self.inner.handle_async_request(request)
        quoted = (await request.aread()).decode()
        return httpx2.Response(422, json={"error_message": f"Refused: {quoted}", "error_code": 119})


# Longer than an audit line keeps an argument's text (2048 characters), within what the tool takes.
LONG_SECRET = "sk" + "0123456789abcdef" * 200


async def _first(client: Client, tool: str, arguments: dict[str, Any], key: str) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None, text_of(result)
    return result.structured_content[key][0]


async def _secret_write(client: Client, tool: str) -> dict[str, Any]:
    """Arguments of `tool` that reach an existing object of the sandbox, with no secret yet."""
    if tool.endswith("_webhook"):
        hook = {"target_url": "https://search.example.com/hook", "authentication_type": "Bearer"}
        if tool == "update_webhook":
            return hook | {"uid": (await _first(client, "list_webhooks", {}, "webhooks"))["uid"]}
        return hook | {"name": "Quoted", "channels": ["content_types.entries.create"]}
    in_project = {"project_id": (await _first(client, "list_automation_projects", {}, "projects"))["id"]}
    if tool == "update_project_variable":
        return in_project | {
            "variable_id": (await _first(client, "list_project_variables", in_project, "variables"))["id"]
        }
    return in_project | {"key": "QUOTED", "type": "password"}


BASIC = {"authentication_type": "Basic", "basic_auth_user": "hooks"}


@pytest.mark.parametrize(
    ("tool", "given", "secrets"),
    [
        ("create_project_variable", {}, {"value": LONG_SECRET}),
        ("update_project_variable", {}, {"value": LONG_SECRET}),
        ("create_webhook", {}, {"bearer_token": "bearer-secret-value-1234"}),
        ("update_webhook", BASIC, {"basic_auth_password": "basic-secret-value-5678"}),
        (
            "create_webhook",
            BASIC,
            {
                "basic_auth_password": "basic-secret-value-5678",
                "secret_headers": [{"header_name": "X-Api-Key", "value": "header-secret-value-9012"}],
            },
        ),
    ],
)
async def test_a_secret_argument_quoted_in_an_error_is_cut_out_of_the_answer_and_the_audit_log(
    tmp_path: Path, tool: str, given: dict[str, Any], secrets: dict[str, Any]
) -> None:
    audit = tmp_path / "audit.jsonl"
    sandbox = InProcessSandbox.start()
    guard = Guard(builtin_policy(), audit=AuditLog(audit))
    async with Client(
        sandbox_server(sandbox.settings, guard, "admin", transport=QuotingWrites(sandbox.transport))
    ) as client:
        result = await client.call_tool(tool, await _secret_write(client, tool) | given | secrets)
    assert result.is_error
    assert "[redacted]" in text_of(result)  # the stack's error quoted it, scrubbed
    shown = result.model_dump_json() + audit.read_text()
    assert not [text for value in secrets.values() for text in secret_texts(value) if text in shown]
