"""The response budget end to end: entries of 100 KB in the sandbox, read through every read
tool that answers entry content, each answer within the budget and saying what it cut; and
every read tool's answer within the budget when every object the stack sends holds 100 KB."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx2
import pytest
from mcp import Client

from cs_mcp.sandbox.runner import RunningSandbox
from cs_mcp.toolkit.registry import registered_tools
from cs_mcp.toolkit.shape import DEFAULT_BUDGET_TOKENS
from tests._examples import EXAMPLES
from tests.helpers import structured
from tests.integration._mcp import mcp_client

pytestmark = pytest.mark.anyio

LARGE = "Long read. " * 9_310  # about 100 KB of text in one field


def within_budget(answer: dict[str, Any]) -> bool:
    return len(json.dumps(answer, ensure_ascii=False)) // 4 <= DEFAULT_BUDGET_TOKENS


async def create_large(client: Client, title: str) -> str:
    fields = {"title": title, "publish_date": "2026-01-15", "summary": LARGE}
    created = structured(await client.call_tool("create_entry", {"content_type": "blog_post", "fields": fields}))
    return str(created["entry"]["uid"])


async def test_a_single_100_kb_entry_is_shortened_by_query_entries_as_by_get_entry(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox, "editor") as client:
        uid = await create_large(client, "One long read")
        queried = structured(
            await client.call_tool("query_entries", {"content_type": "blog_post", "query": {"uid": uid}})
        )
        got = structured(await client.call_tool("get_entry", {"content_type": "blog_post", "uid": uid}))
    assert queried["returned"] == 1
    assert queried["entries"][0]["uid"] == uid
    assert queried["truncated"] is True
    assert queried["note"]
    assert queried["next_cursor"] is None
    assert "[cut:" in queried["entries"][0]["summary"]
    assert within_budget(queried)
    assert got["truncated"] is True
    assert within_budget(got)


async def test_pages_of_100_kb_entries_stay_within_the_budget_and_go_on_by_cursor(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox, "editor") as client:
        uids = {await create_large(client, f"Long read {i}") for i in range(3)}
        query = {"title": {"$regex": "^Long read "}}
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(5):
            args: dict[str, Any] = {"content_type": "blog_post", "query": query, "limit": 3}
            if cursor:
                args["cursor"] = cursor
            page = structured(await client.call_tool("query_entries", args))
            assert within_budget(page)
            assert page["truncated"] is True
            seen += [e["uid"] for e in page["entries"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert sorted(seen) == sorted(uids)


# Keys whose text the stack's answers carry to the model: titles, names, descriptions, bodies.
PADDED_KEYS = frozenset(
    {"title", "description", "display_name", "summary", "filename", "name", "message", "error", "url"}
)


# Read tools whose answers hold none of PADDED_KEYS: an entry's languages (locale codes and
# flags) and a project's variables (keys and values).
NO_PADDED_TEXT = frozenset({"get_entry_locales", "list_project_variables"})


def padded(value: Any) -> Any:
    """`value` with LARGE added to every text under one of PADDED_KEYS, at every depth."""
    if isinstance(value, list):
        return [padded(v) for v in cast(list[Any], value)]
    if isinstance(value, dict):
        return {
            k: (v + LARGE if k in PADDED_KEYS and isinstance(v, str) else padded(v))
            for k, v in cast(dict[str, Any], value).items()
        }
    return value


class PaddingTransport(httpx2.AsyncBaseTransport):
    """The sandbox over loopback, every answer's text 100 KB longer: each object Contentstack
    sends (entry, asset, content type, release, queue row, analytics row, automation, run, log)
    then holds about 100 KB of its own text."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        if not response.headers.get("content-type", "").startswith("application/json"):
            return httpx2.Response(response.status_code, headers=response.headers, content=body)
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        return httpx2.Response(response.status_code, headers=headers, json=padded(json.loads(body)))

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_every_read_tool_answers_within_the_budget_when_every_object_holds_100_kb(
    sandbox: RunningSandbox,
) -> None:
    read_tools = {spec.name for spec in registered_tools() if spec.read_only}
    async with mcp_client(sandbox, "admin", toolsets="all") as plain:
        # Written without the padding, which would lengthen the environments' names too.
        uid = await create_large(plain, "One long read")
        item = {"type": "entry", "content_type": "blog_post", "uid": uid}
        published = await plain.call_tool("publish", {"items": [item], "environments": ["development"]})
        assert not published.is_error, published.content
        folder = await plain.call_tool("create_asset_folder", {"name": "Long reads"})
        assert not folder.is_error, folder.content
    async with mcp_client(sandbox, "admin", transport=PaddingTransport(), toolsets="all") as client:
        arguments = await read_examples(client, read_tools)
        answers = {name: await client.call_tool(name, args) for name, args in arguments.items()}
    errors = {name: str(r.content)[:300] for name, r in answers.items() if r.is_error}
    assert errors == {}, (
        "where a tool's example in tests/_examples.py names objects the sandbox lacks, "
        "give it the sandbox's in read_examples' overrides (tests/integration/test_budget_flow.py)"
    )
    sizes = {name: len(json.dumps(structured(r), ensure_ascii=False)) // 4 for name, r in answers.items()}
    # The padded text reached each answer that carries any of the padded keys.
    unpadded = [name for name, size in sizes.items() if size < 500 and name not in NO_PADDED_TEXT]
    assert unpadded == [], (
        "these answers hold no padded text: add the tools whose answers hold none of PADDED_KEYS "
        "to NO_PADDED_TEXT in tests/integration/test_budget_flow.py"
    )
    assert sorted(NO_PADDED_TEXT - read_tools) == [], "NO_PADDED_TEXT names tools that are not read tools"
    assert {name: size for name, size in sizes.items() if size > DEFAULT_BUDGET_TOKENS} == {}


async def read_examples(client: Client, read_tools: set[str]) -> dict[str, dict[str, Any]]:
    """Arguments for each of `read_tools`: its shared example (`EXAMPLES`), or where that names
    objects by made-up ids, or would answer less than this test needs, the overrides below."""

    async def first(tool: str, arguments: dict[str, Any], key: str) -> dict[str, Any]:
        answer = structured(await client.call_tool(tool, arguments))
        return cast(dict[str, Any], answer[key][0])

    entry = await first("query_entries", {"content_type": "blog_post", "limit": 1}, "entries")
    asset = await first("query_assets", {"limit": 1}, "assets")
    release = await first("list_releases", {}, "releases")
    project = await first("list_automation_projects", {}, "projects")
    automation = await first("list_automations", {"project_id": project["id"]}, "automations")
    execution = await first("list_automation_executions", {"project_id": project["id"]}, "executions")
    posts = structured(
        await client.call_tool("query_entries", {"content_type": "blog_post", "fields": ["author"], "limit": 100})
    )
    author = next(p["author"][0]["uid"] for p in posts["entries"] if p.get("author"))
    account = await first("list_automation_accounts", {"project_id": project["id"]}, "accounts")
    log = await first("list_automation_audit_logs", {"project_id": project["id"]}, "logs")
    # Analytics rows hold numbers: the sandbox's 180 seeded days for every service, daily, as many
    # rows as the tool answers at most.
    today = datetime.now(UTC).date()
    report = {
        "report": "usage",
        "from_date": (today - timedelta(days=89)).isoformat(),
        "to_date": today.isoformat(),
        "services": ["cma", "cdn", "ui", "graphql", "images", "assets", "automations", "launch"],
        "max_rows": 1000,
    }
    analytics = structured(await client.call_tool("get_analytics", report))
    overrides: dict[str, dict[str, Any]] = {
        "query_entries": {"content_type": "blog_post"},  # every post, the long read among them
        "get_entry": {"content_type": "blog_post", "uid": entry["uid"]},
        "get_asset": {"uid": asset["uid"]},
        "get_asset_references": {"uid": asset["uid"]},
        "get_release": {"release_uid": release["uid"]},
        "get_analytics": report,
        "get_analytics_job": {"job_id": analytics["job_ids"][0], "max_rows": 1000},
        "list_automations": {"project_id": project["id"]},
        "get_automation": {"project_id": project["id"], "automation_id": automation["id"]},
        "list_automation_executions": {"project_id": project["id"]},
        "get_automation_execution": {"project_id": project["id"], "execution_id": execution["id"]},
        "list_automation_audit_logs": {"project_id": project["id"]},
        "get_entry_references": {"content_type": "author", "uid": author},
        "get_entry_locales": {"content_type": "blog_post", "uid": entry["uid"]},
        "get_automation_project": {"project_id": project["id"]},
        "list_project_variables": {"project_id": project["id"]},
        "list_automation_accounts": {"project_id": project["id"]},
        "get_automation_account": {"project_id": project["id"], "account_id": account["id"]},
        "get_automation_audit_log": {"project_id": project["id"], "log_id": log["uid"]},
    }
    assert set(overrides) <= read_tools, f"overrides name tools that are not read tools: {set(overrides) - read_tools}"
    missing = sorted(read_tools - set(EXAMPLES))
    assert missing == [], f"add the example arguments of {missing} to EXAMPLES in tests/_examples.py"
    return {name: overrides.get(name, EXAMPLES[name]) for name in sorted(read_tools)}
