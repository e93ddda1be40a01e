"""Publishing end to end: the MCP tools, the client and the sandbox over real loopback HTTP.

An entry published to one environment and locale is served by the CDA there and nowhere else,
and unpublishing takes it away; a scheduled publish can be cancelled before the sandbox clock
reaches it, while another one fires; 120 entries in 2 locales go to 2 environments in bulk
requests of at most ten items; and of 25 entries published in bulk, the one the sandbox fails
is reported failed with its reason and the other 24 published.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from mcp import Client

from cs_mcp.sandbox import store
from cs_mcp.sandbox.runner import RunningSandbox
from tests.helpers import structured
from tests.integration._mcp import mcp_client

pytestmark = pytest.mark.anyio


def fresh_posts(sandbox: RunningSandbox, count: int, prefix: str, locales: tuple[str, ...] = ("en-us",)) -> list[str]:
    """New blog posts stored straight in the sandbox, in each locale, published nowhere."""
    now = store.iso(sandbox.state.clock.now())
    uids = [f"blt{prefix}{i:03d}" for i in range(count)]
    with sandbox.state.db.transaction() as conn:
        for uid in uids:
            for locale in locales:
                store.save_entry(
                    conn,
                    "blog_post",
                    {
                        "uid": uid,
                        "locale": locale,
                        "_version": 1,
                        "created_at": now,
                        "updated_at": now,
                        "created_by": "tester",
                        "updated_by": "tester",
                        "tags": [],
                        "title": f"{prefix} post {uid} ({locale})",
                        "publish_date": "2026-01-01",
                    },
                )
    return uids


def items(uids: list[str]) -> list[dict[str, Any]]:
    return [{"type": "entry", "content_type": "blog_post", "uid": uid} for uid in uids]


async def served(client: Client, environment: str, locale: str, prefix: str) -> set[str]:
    """The uids of posts titled `prefix ...` that the CDA serves in `environment` and `locale`."""
    found: set[str] = set()
    args: dict[str, Any] = {
        "content_type": "blog_post",
        "source": "published",
        "environment": environment,
        "locale": locale,
        "query": {"title": {"$regex": f"^{prefix} post"}},
        "fields": ["title"],
        "limit": 100,
    }
    while True:
        data = structured(await client.call_tool("query_entries", args))
        found |= {e["uid"] for e in data["entries"]}
        if not data["next_cursor"]:
            return found
        args["cursor"] = data["next_cursor"]


def sent(sandbox: RunningSandbox, method: str, path_end: str) -> int:
    return sum(1 for _api, m, path in sandbox.state.request_log if m == method and path.endswith(path_end))


async def test_an_entry_published_to_one_environment_and_locale_is_served_there_only_until_unpublished(
    sandbox: RunningSandbox,
) -> None:
    (uid,) = fresh_posts(sandbox, 1, "Solo", ("en-us", "fr-fr"))
    target = {"items": items([uid]), "environments": ["staging"], "locales": ["fr-fr"]}
    async with mcp_client(sandbox, "publisher") as client:
        published = structured(await client.call_tool("publish", target))
        assert published["counts"] == {"published": 1}
        assert sent(sandbox, "POST", f"/entries/{uid}/publish") == 1
        everywhere = {
            (env, loc): await served(client, env, loc, "Solo")
            for env in ("development", "staging", "production")
            for loc in ("en-us", "fr-fr")
        }
        assert {key for key, uids in everywhere.items() if uids} == {("staging", "fr-fr")}
        assert everywhere[("staging", "fr-fr")] == {uid}
        unpublished = structured(await client.call_tool("unpublish", target))
        assert unpublished["counts"] == {"unpublished": 1}
        assert await served(client, "staging", "fr-fr", "Solo") == set()


async def test_a_scheduled_publish_can_be_cancelled_while_another_fires_when_its_time_comes(
    sandbox: RunningSandbox,
) -> None:
    cancelled, kept = fresh_posts(sandbox, 2, "Later")
    # The sandbox runs on real time here, as the tool's "in the future" check does.
    when = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with mcp_client(sandbox, "publisher") as client:
        for uid in (cancelled, kept):
            data = structured(
                await client.call_tool(
                    "publish", {"items": items([uid]), "environments": ["staging"], "scheduled_at": when}
                )
            )
            assert data["counts"] == {"scheduled": 1}
        queue = structured(
            await client.call_tool("list_publish_queue", {"environment": "staging", "status": "scheduled"})
        )
        rows = {row["item_uid"]: row for row in queue["rows"]}
        assert rows[cancelled]["environments"] == ["staging"]
        structured(await client.call_tool("cancel_scheduled_publish", {"queue_uid": rows[cancelled]["uid"]}))
        again = await client.call_tool("cancel_scheduled_publish", {"queue_uid": rows[cancelled]["uid"]})
        assert again.is_error
        assert await served(client, "staging", "en-us", "Later") == set()

        seconds = (datetime.fromisoformat(when.replace("Z", "+00:00")) - sandbox.state.clock.now()).total_seconds()
        async with httpx2.AsyncClient(base_url=sandbox.base_url) as admin:
            moved = await admin.post("/_sandbox/clock", json={"advance_seconds": seconds + 60})
        assert moved.status_code == 200

        assert await served(client, "staging", "en-us", "Later") == {kept}
        history = structured(await client.call_tool("list_publish_queue", {"environment": "staging"}))
    statuses = {row["item_uid"]: row["status"] for row in history["rows"] if row["item_uid"] in (cancelled, kept)}
    assert statuses == {cancelled: "cancelled", kept: "success"}


async def test_a_schedule_in_the_past_is_refused_and_nothing_is_sent(sandbox: RunningSandbox) -> None:
    (uid,) = fresh_posts(sandbox, 1, "Past")
    async with mcp_client(sandbox, "publisher") as client:
        result = await client.call_tool(
            "publish", {"items": items([uid]), "environments": ["staging"], "scheduled_at": "2020-01-01T00:00:00Z"}
        )
    assert result.is_error
    assert sent(sandbox, "POST", "/publish") == 0


async def test_120_entries_in_2_locales_are_bulk_published_to_2_environments(sandbox: RunningSandbox) -> None:
    uids = fresh_posts(sandbox, 120, "Bulk", ("en-us", "fr-fr"))
    async with mcp_client(sandbox, "publisher") as client:
        data = structured(
            await client.call_tool(
                "publish",
                {"items": items(uids), "environments": ["development", "staging"], "locales": ["en-us", "fr-fr"]},
            )
        )
        assert data["counts"] == {"published": 120}
        assert len(data["job_ids"]) == 12
        assert sent(sandbox, "POST", "/bulk/publish") == 12
        for env in ("development", "staging"):
            for locale in ("en-us", "fr-fr"):
                assert await served(client, env, locale, "Bulk") == set(uids), (env, locale)
        assert await served(client, "production", "en-us", "Bulk") == set()
        queue = structured(await client.call_tool("list_publish_queue", {"limit": 100}))
    assert queue["total"] is not None
    assert queue["total"] >= 240


async def test_bulk_publishing_25_entries_where_the_sandbox_fails_one_reports_24_published_and_1_failed(
    sandbox: RunningSandbox,
) -> None:
    localized = fresh_posts(sandbox, 24, "fr", locales=("en-us", "fr-fr"))
    (english_only,) = fresh_posts(sandbox, 1, "en")
    async with mcp_client(sandbox, "publisher") as client:
        answer = structured(
            await client.call_tool(
                "publish",
                {"items": items([*localized, english_only]), "environments": ["staging"], "locales": ["fr-fr"]},
            )
        )
    assert answer["counts"] == {"published": 24, "failed": 1}
    (failed,) = [i for i in answer["items"] if i["status"] == "failed"]
    assert failed["item"] == f"entry blog_post/{english_only} (en-us)"
    assert failed["reason"] == "entry is not localized in 'fr-fr'"
    assert len(answer["job_ids"]) == 3  # 10 + 10 + 5 items
