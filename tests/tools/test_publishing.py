"""The publishing toolset through an in-memory client on the sandbox: single and bulk requests,
splitting, versions, schedules, jobs, the publish queue, and the guard item by item. Faults a
test is about (a refused bulk request, a job that cannot be read) are injected in front of the
sandbox with httpx2.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx2
import pytest
from mcp import Client
from mcp_types import CallToolResult

from cs_mcp.guard import Guard, Policy
from cs_mcp.guard.policy import BUILTIN_ROLE_SPECS, ConfirmSpec, RoleSpec, resolve_roles
from tests.conftest import Fault, SandboxStack
from tests.helpers import text_of

pytestmark = pytest.mark.anyio

EDGES = [f"edge{i}" for i in range(10)]
ENVIRONMENTS = ["development", "staging", "production", *EDGES]
LATER = "2030-01-01T00:00:00Z"  # after the sandbox clock and the wall clock both


@pytest.fixture
def stack(on_sandbox: SandboxStack) -> SandboxStack:
    """The sandbox with `article` entries art0..art29 (version 3 in en-us, 1 in fr-fr), a
    `writer` jane (version 2), assets img1 (version 4) and img2, ten more environments and de-de."""
    on_sandbox.save_content_type("article", [{"uid": "title", "data_type": "text", "mandatory": True}])
    on_sandbox.save_content_type("writer", [{"uid": "title", "data_type": "text", "mandatory": True}])
    for i in range(30):
        for _ in range(3):
            on_sandbox.save_entry("article", f"art{i}", {"title": f"Post {i}"})
        on_sandbox.save_entry("article", f"art{i}", {"title": f"Article {i}"}, locale="fr-fr")
    for _ in range(2):
        on_sandbox.save_entry("writer", "jane", {"title": "Jane"})
    on_sandbox.save_asset("img1", versions=4)
    on_sandbox.save_asset("img2")
    on_sandbox.add_environments(*EDGES)
    on_sandbox.add_locale("de-de")
    return on_sandbox


def policy(confirm: ConfirmSpec | None = None) -> Policy:
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["article-publisher"] = RoleSpec(
        inherits=["publisher"],
        content_types=["article"],
        locales=["en-us", "fr-fr"],
        environments=["development", "staging"],
    )
    specs["entry-publisher"] = RoleSpec(inherits=["viewer"], scopes=["cm.entry:publish"])
    return Policy(roles=resolve_roles(specs), confirm=confirm or ConfirmSpec())


def connect(
    stack: SandboxStack, role: str = "publisher", confirm: ConfirmSpec | None = None, fault: Fault | None = None
) -> Client:
    """A client on the sandbox; `fault` answers a request instead of the sandbox when it returns one."""
    return stack.client(role, guard=Guard(policy(confirm)), fault=fault)


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return cast(dict[str, Any], result.structured_content)


def entry(uid: str, content_type: str = "article", **extra: Any) -> dict[str, Any]:
    return {"type": "entry", "content_type": content_type, "uid": uid, **extra}


def articles(count: int) -> list[dict[str, Any]]:
    return [entry(f"art{i}") for i in range(count)]


def posted(stack: SandboxStack, path_end: str) -> list[httpx2.Request]:
    return [r for r in stack.transport.requests if r.method == "POST" and r.url.path.endswith(path_end)]


def writes(stack: SandboxStack) -> list[tuple[str, str]]:
    """Requests that change something (the unschedule request is a GET)."""
    return [(m, p) for m, p in stack.transport.sent if m != "GET" or p.endswith("/unschedule")]


def live(stack: SandboxStack, uid: str, environment: str, locale: str = "en-us") -> int | None:
    """The version of an entry or asset published in `environment` and `locale`."""
    rows = stack.rows(
        "SELECT version FROM publish_details WHERE uid = ? AND environment = ? AND locale = ?", uid, environment, locale
    )
    return rows[0]["version"] if rows else None


def queue_status(stack: SandboxStack, uid: str) -> str:
    return stack.rows("SELECT status FROM publish_queue WHERE uid = ?", uid)[0]["status"]


# -- publish and unpublish ----------------------------------------------------------------


async def test_one_entry_goes_through_the_single_endpoint_at_its_latest_version(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        data = ok(await client.call_tool("publish", {"items": [entry("art1")], "environments": ["development"]}))
    (request,) = posted(stack, "/publish")
    assert request.url.path == "/cma/v3/content_types/article/entries/art1/publish"
    assert live(stack, "art1", "development") == 3
    assert live(stack, "art1", "development", "fr-fr") is None
    assert data["items"] == [
        {
            "item": "entry article/art1 (en-us)",
            "status": "published",
            "version": 3,
            "locales": ["en-us"],
            "reason": None,
            "job_id": None,
        }
    ]
    assert data["counts"] == {"published": 1}


async def test_one_asset_goes_through_the_asset_endpoint_in_the_master_locale(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        ok(
            await client.call_tool(
                "publish", {"items": [{"type": "asset", "uid": "img1"}], "environments": ["staging"]}
            )
        )
        assert live(stack, "img1", "staging") == 4
        data = ok(
            await client.call_tool(
                "unpublish", {"items": [{"type": "asset", "uid": "img1"}], "environments": ["staging"]}
            )
        )
    assert [r.url.path for r in posted(stack, "/unpublish")] == ["/cma/v3/assets/img1/unpublish"]
    assert live(stack, "img1", "staging") is None
    assert data["items"][0]["status"] == "unpublished"


async def test_many_items_are_split_into_bulk_requests_of_at_most_ten_by_ten_by_ten(stack: SandboxStack) -> None:
    envs = ENVIRONMENTS[:12]
    async with connect(stack) as client:
        data = ok(
            await client.call_tool(
                "publish", {"items": articles(25), "environments": envs, "locales": ["en-us", "fr-fr"]}
            )
        )
    bodies = [json.loads(r.content) for r in posted(stack, "/bulk/publish")]
    assert len(bodies) == 3 * 2  # items in 10 + 10 + 5, environments in 10 + 2
    assert all(len(b["entries"]) <= 10 and len(b["locales"]) <= 10 and len(b["environments"]) <= 10 for b in bodies)
    assert all(live(stack, f"art{i}", env, loc) == 3 for i in range(25) for env in envs for loc in ("en-us",))
    assert data["counts"] == {"published": 25}
    assert len(data["job_ids"]) == 6
    job_reads = [p for _, p in stack.transport.sent if "/bulk/jobs/" in p]
    assert len([p for p in job_reads if not p.endswith("/items")]) == 6
    # Item rows per job: items x 2 locales x environments, read 100 a page: 200, 200, 100 rows
    # for the three jobs of 10 environments, 40, 40, 20 for those of 2.
    assert len([p for p in job_reads if p.endswith("/items")]) == 2 + 2 + 1 + 1 + 1 + 1


async def test_entries_and_assets_share_bulk_requests_and_versions_are_read_in_one_request_per_type(
    stack: SandboxStack,
) -> None:
    items = [*articles(4), {"type": "asset", "uid": "img1"}, {"type": "asset", "uid": "img2", "version": 1}]
    async with connect(stack) as client:
        data = ok(await client.call_tool("publish", {"items": items, "environments": ["development"]}))
    (body,) = [json.loads(r.content) for r in posted(stack, "/bulk/publish")]
    assert body["assets"] == [{"uid": "img1", "version": 4}, {"uid": "img2", "version": 1}]
    assert body["locales"] == ["en-us"]
    lookups = [p for m, p in stack.transport.sent if m == "GET" and p.endswith(("/entries", "/assets"))]
    assert len(lookups) == 2
    assert data["counts"] == {"published": 6}
    assert (live(stack, "img1", "development"), live(stack, "art3", "development")) == (4, 3)


async def test_a_missing_entry_or_version_fails_alone_and_the_others_are_published(stack: SandboxStack) -> None:
    items = [*articles(3), entry("ghost"), entry("art5", version=9)]
    async with connect(stack) as client:
        data = ok(await client.call_tool("publish", {"items": items, "environments": ["development"]}))
    (body,) = [json.loads(r.content) for r in posted(stack, "/bulk/publish")]
    assert [e["uid"] for e in body["entries"]] == ["art0", "art1", "art2"]
    failed = {i["item"]: i["reason"] for i in data["items"] if i["status"] == "failed"}
    assert set(failed) == {"entry article/ghost (en-us)", "entry article/art5 (en-us)"}
    assert data["items"][0]["status"] == "failed"  # failed items come first
    assert data["counts"] == {"failed": 2, "published": 3}
    assert live(stack, "art5", "development") is None


async def test_a_bulk_job_that_fails_an_item_reports_the_reason_on_that_item(stack: SandboxStack) -> None:
    stack.delete_entry("article", "art2", "fr-fr")
    async with connect(stack) as client:
        data = ok(
            await client.call_tool("publish", {"items": articles(3), "environments": ["staging"], "locales": ["fr-fr"]})
        )
    reports = {i["item"]: i for i in data["items"]}
    assert reports["entry article/art2 (en-us)"]["status"] == "failed"
    assert "fr-fr" in reports["entry article/art2 (en-us)"]["reason"]
    assert reports["entry article/art0 (en-us)"]["status"] == "published"
    assert reports["entry article/art0 (en-us)"]["job_id"] == data["job_ids"][0]
    assert live(stack, "art2", "staging", "fr-fr") is None


async def test_a_refused_bulk_request_fails_its_items_and_the_next_requests_still_go(stack: SandboxStack) -> None:
    refused: list[str] = []

    async def refuse_the_first_bulk(request: httpx2.Request) -> httpx2.Response | None:
        if request.url.path.endswith("/bulk/publish") and not refused:
            refused.append(request.url.path)
            return httpx2.Response(422, json={"error_message": "Bulk request refused.", "error_code": 141})
        return None

    async with connect(stack, fault=refuse_the_first_bulk) as client:
        data = ok(await client.call_tool("publish", {"items": articles(15), "environments": ["development"]}))
    assert len(refused) == 1
    assert len(posted(stack, "/bulk/publish")) == 1  # the second reached the sandbox
    assert data["counts"] == {"failed": 10, "published": 5}


@pytest.mark.parametrize("when", ["2020-01-01T00:00:00Z", "2999-01-01T00:00:00", "tomorrow", "2999-13-01T00:00:00Z"])
async def test_a_scheduled_at_in_the_past_or_not_iso_with_a_zone_is_refused_and_nothing_is_sent(
    stack: SandboxStack, when: str
) -> None:
    async with connect(stack) as client:
        result = await client.call_tool(
            "publish", {"items": [entry("art1")], "environments": ["development"], "scheduled_at": when}
        )
    assert result.is_error
    assert stack.transport.sent == []


async def test_a_future_scheduled_at_is_sent_in_utc_and_the_items_are_scheduled(stack: SandboxStack) -> None:
    when = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    local = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"
    async with connect(stack) as client:
        single = ok(
            await client.call_tool(
                "publish", {"items": [entry("art1")], "environments": ["development"], "scheduled_at": local}
            )
        )
        bulk = ok(
            await client.call_tool(
                "publish", {"items": articles(2), "environments": ["development"], "scheduled_at": local}
            )
        )
    sent = [json.loads(r.content)["scheduled_at"] for r in posted(stack, "publish")]
    assert sent == [when.strftime("%Y-%m-%dT%H:%M:%S.000Z")] * 2
    assert single["counts"] == {"scheduled": 1}
    assert bulk["counts"] == {"scheduled": 2}
    assert live(stack, "art1", "development") is None
    assert {r["status"] for r in stack.rows("SELECT status FROM publish_queue")} == {"scheduled"}


async def test_a_dry_run_answers_every_planned_request_and_sends_nothing(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        data = ok(
            await client.call_tool(
                "publish", {"items": articles(21), "environments": ["development", "staging"], "dry_run": True}
            )
        )
    assert data["dry_run"] is True
    assert data["written"] is False
    assert [r["path"] for r in data["plan"]["requests"]] == ["/v3/bulk/publish"] * 3
    assert data["counts"] == {"planned": 21}
    assert writes(stack) == []


async def test_unpublishing_many_items_uses_the_bulk_unpublish_endpoint(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        ok(await client.call_tool("publish", {"items": articles(3), "environments": ["development"]}))
        data = ok(await client.call_tool("unpublish", {"items": articles(3), "environments": ["development"]}))
    assert len(posted(stack, "/bulk/unpublish")) == 1
    assert data["counts"] == {"unpublished": 3}
    assert [live(stack, f"art{i}", "development") for i in range(3)] == [None] * 3


async def test_an_item_that_does_not_fit_its_type_is_refused(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        no_ct = await client.call_tool(
            "publish", {"items": [{"type": "entry", "uid": "x"}], "environments": ["development"]}
        )
        asset_locale = await client.call_tool(
            "publish", {"items": [{"type": "asset", "uid": "x", "locale": "en-us"}], "environments": ["development"]}
        )
        unknown_env = await client.call_tool("publish", {"items": [entry("art1")], "environments": ["prod"]})
    assert no_ct.is_error
    assert asset_locale.is_error
    assert unknown_env.is_error
    assert "production" in text_of(unknown_env)
    assert writes(stack) == []


async def test_when_no_item_exists_the_call_is_refused_and_nothing_is_sent(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        one = await client.call_tool("publish", {"items": [entry("ghost")], "environments": ["development"]})
        many = await client.call_tool(
            "unpublish", {"items": [entry("ghost"), entry("art1", version=7)], "environments": ["development"]}
        )
    assert one.is_error
    assert "article/ghost" in text_of(one)
    assert many.is_error
    assert writes(stack) == []


# -- bulk jobs ---------------------------------------------------------------------------


async def test_bulk_publishing_25_entries_with_one_failed_item_reports_24_published_and_1_failed_with_reason(
    stack: SandboxStack,
) -> None:
    stack.delete_entry("article", "art17", "fr-fr")
    async with connect(stack) as client:
        data = ok(
            await client.call_tool(
                "publish", {"items": articles(25), "environments": ["staging"], "locales": ["fr-fr"]}
            )
        )
    assert data["counts"] == {"published": 24, "failed": 1}
    (failed,) = [i for i in data["items"] if i["status"] == "failed"]
    assert failed["item"] == "entry article/art17 (en-us)"
    assert "fr-fr" in failed["reason"]
    assert failed["job_id"] == data["job_ids"][1]


async def test_items_of_a_job_that_cannot_be_read_stay_submitted_with_its_id(stack: SandboxStack) -> None:
    async def unreadable_jobs(request: httpx2.Request) -> httpx2.Response | None:
        if "/bulk/jobs/" in request.url.path:
            return httpx2.Response(404, json={"error_message": "not found", "error_code": 141})
        return None

    async with connect(stack, fault=unreadable_jobs) as client:
        data = ok(await client.call_tool("publish", {"items": articles(3), "environments": ["development"]}))
    assert data["counts"] == {"submitted": 3}
    assert {i["job_id"] for i in data["items"]} == set(data["job_ids"])
    assert len(data["job_ids"]) == 1


async def _items_rewritten(
    stack: SandboxStack, request: httpx2.Request, rewrite: Callable[[list[Any]], list[Any]]
) -> httpx2.Response:
    answer = await stack.transport.handle_async_request(request)
    body = json.loads(await answer.aread())
    return httpx2.Response(answer.status_code, json={**body, "items": rewrite(body["items"])})


async def test_items_a_job_counts_as_failed_without_naming_them_are_not_claimed_published(stack: SandboxStack) -> None:
    stack.delete_entry("article", "art1", "fr-fr")

    async def rows_hidden(request: httpx2.Request) -> httpx2.Response | None:
        if request.url.path.endswith("/items") and "/bulk/jobs/" in request.url.path:
            return await _items_rewritten(stack, request, lambda rows: [])
        return None

    async with connect(stack, fault=rows_hidden) as client:
        data = ok(
            await client.call_tool("publish", {"items": articles(3), "environments": ["staging"], "locales": ["fr-fr"]})
        )
    assert data["counts"] == {"submitted": 3}
    assert all("1 failed item" in (i["reason"] or "") for i in data["items"])


async def test_items_of_a_job_whose_items_do_not_parse_stay_submitted_and_the_call_answers(stack: SandboxStack) -> None:
    garbled: list[bool] = []

    async def garble(request: httpx2.Request) -> httpx2.Response | None:
        if garbled and request.url.path.endswith("/items") and "/bulk/jobs/" in request.url.path:
            return await _items_rewritten(
                stack, request, lambda rows: [{**row, "publish_details": ["not", "an", "object"]} for row in rows]
            )
        return None

    async with connect(stack, fault=garble) as client:
        first = ok(await client.call_tool("publish", {"items": articles(2), "environments": ["staging"]}))
        garbled.append(True)
        again = ok(await client.call_tool("publish", {"items": articles(2), "environments": ["staging"]}))
    assert first["counts"] == {"published": 2}
    assert again["counts"] == {"submitted": 2}
    assert len(again["job_ids"]) == 1


# -- the guard ---------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ["publish", "unpublish"])
async def test_a_role_without_publish_scopes_is_denied_and_nothing_is_sent(stack: SandboxStack, tool: str) -> None:
    async with connect(stack, role="editor") as client:
        result = await client.call_tool(
            tool, {"items": articles(2), "environments": ["development"], "locales": ["en-us"]}
        )
    assert result.is_error
    assert stack.transport.sent == []


async def test_an_asset_needs_the_asset_scope_even_beside_entries(stack: SandboxStack) -> None:
    items = [entry("art1", locale="en-us"), {"type": "asset", "uid": "img1"}]
    async with connect(stack, role="entry-publisher") as client:
        result = await client.call_tool(
            "publish", {"items": items, "environments": ["development"], "locales": ["en-us"]}
        )
    assert result.is_error
    assert "cm.asset:publish" in text_of(result)
    assert stack.transport.sent == []


@pytest.mark.parametrize("tool", ["publish", "unpublish"])
async def test_an_environment_outside_the_role_is_denied_and_nothing_is_sent(stack: SandboxStack, tool: str) -> None:
    async with connect(stack, role="article-publisher") as client:
        result = await client.call_tool(
            tool, {"items": articles(2), "environments": ["staging", "production"], "locales": ["en-us"]}
        )
    assert result.is_error
    assert "production" in text_of(result)
    assert stack.transport.sent == []


@pytest.mark.parametrize("tool", ["publish", "unpublish"])
async def test_one_bulk_item_outside_the_role_denies_the_whole_call_and_names_it(
    stack: SandboxStack, tool: str
) -> None:
    items = [*articles(12), entry("jane", content_type="writer", locale="en-us")]
    async with connect(stack, role="article-publisher") as client:
        result = await client.call_tool(tool, {"items": items, "environments": ["staging"], "locales": ["en-us"]})
    assert result.is_error
    assert "writer/jane" in text_of(result)
    assert stack.transport.sent == []


async def test_a_locale_outside_the_role_is_denied_whether_target_or_source(stack: SandboxStack) -> None:
    async with connect(stack, role="article-publisher") as client:
        target = await client.call_tool(
            "publish", {"items": articles(1), "environments": ["staging"], "locales": ["de-de"]}
        )
        source = await client.call_tool(
            "publish", {"items": [entry("art1", locale="de-de")], "environments": ["staging"], "locales": ["en-us"]}
        )
    assert target.is_error
    assert source.is_error
    assert stack.transport.sent == []


async def test_the_role_inside_its_constraints_publishes(stack: SandboxStack) -> None:
    async with connect(stack, role="article-publisher") as client:
        data = ok(
            await client.call_tool(
                "publish", {"items": articles(2), "environments": ["staging"], "locales": ["en-us", "fr-fr"]}
            )
        )
    assert data["counts"] == {"published": 2}
    assert live(stack, "art1", "staging", "fr-fr") == 1


async def test_publishing_to_a_confirmed_environment_answers_a_token_and_sends_only_with_it(
    stack: SandboxStack,
) -> None:
    args = {"items": articles(2), "environments": ["production"], "locales": ["en-us"]}
    async with connect(stack, confirm=ConfirmSpec(environments=["production"])) as client:
        first = ok(await client.call_tool("publish", args))
        assert writes(stack) == []
        assert first["counts"] == {"planned": 2}
        token = first["confirmation"]["confirmation_token"]
        second = ok(await client.call_tool("publish", {**args, "confirmation_token": token}))
        other = await client.call_tool("publish", {**args, "items": articles(3), "confirmation_token": token})
    assert second["counts"] == {"published": 2}
    assert second["verdict"]["decision"] == "confirmed"
    assert other.is_error
    assert len(posted(stack, "/bulk/publish")) == 1
    assert live(stack, "art2", "production") is None


# -- the publish queue ---------------------------------------------------------------------


async def schedule(client: Client, item: dict[str, Any], environment: str, when: str | None = LATER) -> None:
    """Publishes `item` to `environment`, at `when` (None: now), which adds a queue row."""
    arguments: dict[str, Any] = {"items": [item], "environments": [environment], "locales": ["en-us"]}
    if when:
        arguments["scheduled_at"] = when
    ok(await client.call_tool("publish", arguments))


async def queued(stack: SandboxStack) -> dict[str, str]:
    """Queue row uid by item uid and environment, e.g. 'art1@staging'."""
    found: dict[str, str] = {}
    for row in stack.rows("SELECT uid, entry_json, environments_json FROM publish_queue"):
        item = json.loads(row["entry_json"]).get("uid", "")
        for environment in json.loads(row["environments_json"]):
            found[f"{item}@{environment}"] = row["uid"]
    return found


@pytest.fixture
async def queue(stack: SandboxStack) -> dict[str, str]:
    """Three rows: art1 scheduled for staging, art2 published to development, art3 scheduled for production."""
    async with connect(stack) as client:
        await schedule(client, entry("art1"), "staging")
        await schedule(client, entry("art2"), "development", when=None)
        await schedule(client, entry("art3"), "production")
    stack.forget_requests()
    return await queued(stack)


async def test_the_queue_names_environments_and_filters_by_status_and_environment(
    stack: SandboxStack, queue: dict[str, str]
) -> None:
    async with connect(stack, role="viewer") as client:
        every = ok(await client.call_tool("list_publish_queue", {}))
        scheduled = ok(await client.call_tool("list_publish_queue", {"status": "scheduled"}))
        staging = ok(await client.call_tool("list_publish_queue", {"environment": "staging", "status": "scheduled"}))
    assert every["total"] == 3
    rows = {r["uid"]: r for r in every["rows"]}
    assert rows[queue["art1@staging"]]["environments"] == ["staging"]
    assert rows[queue["art1@staging"]]["content_type"] == "article"
    assert rows[queue["art1@staging"]]["title"] == "Post 1"
    assert {r["uid"] for r in scheduled["rows"]} == {queue["art1@staging"], queue["art3@production"]}
    assert scheduled["total"] is None
    assert [r["uid"] for r in staging["rows"]] == [queue["art1@staging"]]


async def test_the_queue_pages_with_a_cursor(stack: SandboxStack, queue: dict[str, str]) -> None:
    async with connect(stack, role="viewer") as client:
        first = ok(await client.call_tool("list_publish_queue", {"limit": 2}))
        second = ok(await client.call_tool("list_publish_queue", {"limit": 2, "cursor": first["next_cursor"]}))
    assert len(first["rows"]) == 2
    assert len(second["rows"]) == 1
    assert {r["uid"] for r in first["rows"] + second["rows"]} == set(queue.values())
    assert second["next_cursor"] is None


async def test_cancelling_a_scheduled_row_unschedules_it(stack: SandboxStack, queue: dict[str, str]) -> None:
    uid = queue["art1@staging"]
    async with connect(stack) as client:
        dry = ok(await client.call_tool("cancel_scheduled_publish", {"queue_uid": uid, "dry_run": True}))
        assert writes(stack) == []
        data = ok(await client.call_tool("cancel_scheduled_publish", {"queue_uid": uid}))
    assert writes(stack) == [("GET", f"/cma/v3/publish-queue/{uid}/unschedule")]
    assert dry["plan"]["targets"]["environment"] == ["staging"]
    assert data["row"]["status"] == "cancelled"
    assert data["written"] is True
    assert queue_status(stack, uid) == "cancelled"


async def test_a_row_that_is_not_scheduled_cannot_be_cancelled(stack: SandboxStack, queue: dict[str, str]) -> None:
    async with connect(stack) as client:
        done = await client.call_tool("cancel_scheduled_publish", {"queue_uid": queue["art2@development"]})
        missing = await client.call_tool("cancel_scheduled_publish", {"queue_uid": "nope"})
    assert done.is_error
    assert missing.is_error
    assert writes(stack) == []


async def test_cancelling_is_denied_without_the_scope_or_outside_the_roles_environments(
    stack: SandboxStack, queue: dict[str, str]
) -> None:
    async with connect(stack, role="editor") as client:
        no_scope = await client.call_tool("cancel_scheduled_publish", {"queue_uid": queue["art1@staging"]})
    assert no_scope.is_error
    assert stack.transport.sent == []
    async with connect(stack, role="article-publisher") as client:
        production = await client.call_tool("cancel_scheduled_publish", {"queue_uid": queue["art3@production"]})
    assert production.is_error
    assert "production" in text_of(production)
    assert writes(stack) == []
    assert queue_status(stack, queue["art3@production"]) == "scheduled"


async def test_cancelling_checks_the_content_type_the_row_names(stack: SandboxStack, queue: dict[str, str]) -> None:
    async with connect(stack) as client:
        await schedule(client, entry("jane", content_type="writer"), "staging")
    rows = await queued(stack)
    stack.forget_requests()
    async with connect(stack, role="article-publisher") as client:
        writer = await client.call_tool("cancel_scheduled_publish", {"queue_uid": rows["jane@staging"]})
        article = ok(
            await client.call_tool("cancel_scheduled_publish", {"queue_uid": rows["art1@staging"], "dry_run": True})
        )
    assert writer.is_error
    assert "writer" in text_of(writer)
    assert article["plan"]["targets"]["content_type"] == ["article"]
    assert writes(stack) == []


async def test_cancelling_a_release_deployment_checks_the_items_of_the_release_the_row_names(
    stack: SandboxStack,
) -> None:
    async with connect(stack, role="admin") as client:
        release = ok(
            await client.call_tool(
                "create_release", {"name": "Spring", "items": [entry("jane", content_type="writer", locale="en-us")]}
            )
        )
        release_uid = release["release"]["uid"]
        ok(
            await client.call_tool(
                "deploy_release", {"release_uid": release_uid, "environments": ["staging"], "scheduled_at": LATER}
            )
        )
    (row,) = stack.rows("SELECT uid FROM publish_queue WHERE type = 'release'")
    stack.forget_requests()
    async with connect(stack, role="article-publisher") as client:
        refused = await client.call_tool("cancel_scheduled_publish", {"queue_uid": row["uid"]})
    async with connect(stack) as client:
        dry = ok(await client.call_tool("cancel_scheduled_publish", {"queue_uid": row["uid"], "dry_run": True}))
    assert refused.is_error
    assert "writer" in text_of(refused)
    assert f"/cma/v3/releases/{release_uid}/items" in {p for _, p in stack.transport.sent}
    assert dry["plan"]["targets"]["content_type"] == ["writer"]
    assert writes(stack) == []


async def test_a_filtered_queue_reads_on_past_pages_without_a_match_to_fill_its_page(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        await schedule(client, entry("art1"), "staging")
        for batch in range(15):
            items = [entry(f"art{i}") for i in range(batch * 2, batch * 2 + 2)]
            for environment in EDGES[:5]:
                ok(
                    await client.call_tool(
                        "publish", {"items": items, "environments": [environment], "locales": ["en-us"]}
                    )
                )
    rows = stack.rows("SELECT status FROM publish_queue")
    assert len(rows) >= 151
    stack.forget_requests()
    async with connect(stack, role="viewer") as client:
        found = ok(await client.call_tool("list_publish_queue", {"status": "scheduled", "limit": 5}))
    assert [r["uid"] for r in found["rows"]] == [(await queued(stack))["art1@staging"]]
    assert found["next_cursor"] is None
    reads = [p for _, p in stack.transport.sent if p.endswith("/publish-queue")]
    assert len(reads) == -(-len(rows) // 100)


async def test_a_queue_that_repeats_its_page_is_read_once_more_at_most(stack: SandboxStack) -> None:
    async with connect(stack) as client:
        for i in range(3):
            await schedule(client, entry(f"art{i}"), "development", when=None)

    async def ignores_skip(request: httpx2.Request) -> httpx2.Response | None:
        if request.url.path.endswith("/publish-queue"):
            first_page = request.url.copy_set_param("skip", "0")
            answer = await stack.transport.handle_async_request(
                httpx2.Request("GET", first_page, headers=request.headers)
            )
            body = json.loads(await answer.aread())
            return httpx2.Response(200, json={**body, "count": 1000})
        return None

    stack.forget_requests()
    async with connect(stack, role="viewer", fault=ignores_skip) as client:
        found = ok(await client.call_tool("list_publish_queue", {"status": "scheduled", "limit": 5}))
    assert found["rows"] == []
    assert found["next_cursor"] is None
    assert len([p for _, p in stack.transport.sent if p.endswith("/publish-queue")]) == 2
