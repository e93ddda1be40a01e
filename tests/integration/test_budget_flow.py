"""The response budget end to end: entries of 100 KB in the sandbox, read through every read
tool that answers entry content, each answer within the budget and saying what it cut."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from mcp import Client

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxConfig
from cs_mcp.server import build_server
from cs_mcp.toolkit.shape import DEFAULT_BUDGET_TOKENS
from tests.helpers import UNPACED, structured

pytestmark = pytest.mark.anyio

LARGE = "Long read. " * 9_310  # about 100 KB of text in one field


@pytest.fixture
async def sandbox() -> AsyncGenerator[RunningSandbox]:
    async with running_sandbox(SandboxConfig(rate_limits=False)) as running:
        yield running


def mcp_client(sandbox: RunningSandbox) -> Client:
    server = build_server(
        Settings.from_env(sandbox.env()),
        backend="sandbox",
        guard=Guard(builtin_policy()),
        stdio_role="editor",
        rate_limits=UNPACED,
    )
    return Client(server)


def within_budget(answer: dict[str, Any]) -> bool:
    return len(json.dumps(answer, ensure_ascii=False)) // 4 <= DEFAULT_BUDGET_TOKENS


async def create_large(client: Client, title: str) -> str:
    fields = {"title": title, "publish_date": "2026-01-15", "summary": LARGE}
    created = structured(await client.call_tool("create_entry", {"content_type": "blog_post", "fields": fields}))
    return str(created["entry"]["uid"])


async def test_a_single_100_kb_entry_is_shortened_by_query_entries_as_by_get_entry(sandbox: RunningSandbox) -> None:
    async with mcp_client(sandbox) as client:
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
    async with mcp_client(sandbox) as client:
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
