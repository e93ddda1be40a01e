"""The publishing toolset in memory, against a stateful fake of the CMA's publishing endpoints
on httpx2.MockTransport: single and bulk requests, splitting, versions, schedules, jobs, the
publish queue, and the guard item by item."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx2
import pytest
from mcp import Client
from mcp_types import CallToolResult

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, Policy
from cs_mcp.guard.policy import BUILTIN_ROLE_SPECS, ConfirmSpec, RoleSpec, resolve_roles
from cs_mcp.server import build_server
from tests.helpers import UNPACED, text_of

pytestmark = pytest.mark.anyio

ENV = {"CONTENTSTACK_API_KEY": "blt_api_key_1234", "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_management_token_1234"}
ENVIRONMENTS = ["development", "staging", "production", *(f"edge{i}" for i in range(10))]
LOCALES = ["en-us", "fr-fr", "de-de"]


class FakeStack:
    """The CMA's publishing endpoints, with latest versions, bulk jobs and a publish queue."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.versions: dict[tuple[str, str, str], int] = {}
        for i in range(30):
            self.versions[("blog_post", f"post{i}", "en-us")] = 3
            self.versions[("blog_post", f"post{i}", "fr-fr")] = 1
        self.versions[("author", "jane", "en-us")] = 2
        self.assets = {"img1": 4, "img2": 1}
        self.failing: set[str] = set()  # uids a bulk job fails
        self.refuse_bulk: int = 0  # how many bulk requests to refuse with 422
        self.jobs_readable = True
        self.jobs: dict[str, dict[str, Any]] = {}
        self.job_rows_hidden = False  # a job answers its summary but lists no item rows
        self.garbled_items = False  # job item rows whose publish_details is not an object
        self.release_items: dict[str, list[dict[str, Any]]] = {}
        self.queue: list[dict[str, Any]] = [
            self.row("q1", "scheduled", ["env_staging"], "blog_post", "post1"),
            self.row("q2", "success", ["env_development"], "blog_post", "post2"),
            self.row("q3", "scheduled", ["env_production"], "blog_post", "post3"),
            self.row("q4", "failed", ["env_staging"], "author", "jane"),
        ]

    @staticmethod
    def row(uid: str, status: str, envs: list[str], ct: str, entry: str) -> dict[str, Any]:
        return {
            "uid": uid,
            "type": "entry",
            "action": "publish",
            "publish_details": {"status": status},
            "entry": {"uid": entry, "title": f"{entry}\u200b", "version": 3, "locale": "en-us"},
            "content_type": {"uid": ct},
            "environment": envs,
            "locale": ["en-us"],
            "scheduled_at": "2030-01-01T00:00:00.000Z",
        }

    def posts(self, path_end: str) -> list[httpx2.Request]:
        return [r for r in self.requests if r.method == "POST" and r.url.path.endswith(path_end)]

    def writes(self) -> list[httpx2.Request]:
        return [r for r in self.requests if r.method != "GET" or r.url.path.endswith("/unschedule")]

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        parts = request.url.path.split("/")[2:]
        params = dict(request.url.params.multi_items())
        if parts == ["environments"]:
            return httpx2.Response(200, json={"environments": [{"name": n, "uid": f"env_{n}"} for n in ENVIRONMENTS]})
        if parts == ["locales"]:
            locales = [{"code": "en-us"}] + [{"code": c, "fallback_locale": "en-us"} for c in LOCALES[1:]]
            return httpx2.Response(200, json={"locales": locales})
        if len(parts) == 3 and parts[0] == "content_types" and parts[2] == "entries":
            uids = json.loads(params["query"])["uid"]["$in"]
            found = [
                {"uid": u, "_version": self.versions[(parts[1], u, params["locale"])]}
                for u in uids
                if (parts[1], u, params["locale"]) in self.versions
            ]
            return httpx2.Response(200, json={"entries": found})
        if parts == ["assets"]:
            uids = json.loads(params["query"])["uid"]["$in"]
            return httpx2.Response(
                200, json={"assets": [{"uid": u, "_version": self.assets[u]} for u in uids if u in self.assets]}
            )
        if parts[-1] in ("publish", "unpublish") and parts[0] != "bulk":
            return httpx2.Response(200, json={"notice": "The requested action has been performed."})
        if parts[0] == "bulk" and parts[1] in ("publish", "unpublish"):
            return self._bulk(request)
        needs_version = parts[0] in ("bulk", "publish-queue") and request.method == "GET"
        if needs_version and request.headers.get("api_version") != "3.2":  # both pages mark it required
            return httpx2.Response(400, json={"error_message": "api_version 3.2 is required", "error_code": 0})
        if parts[:2] == ["bulk", "jobs"]:
            if not self.jobs_readable:
                return httpx2.Response(404, json={"error_message": "not found", "error_code": 141})
            job = self.jobs[parts[2]]
            if parts[-1] == "items":
                skip, limit = int(params["skip"]), int(params["limit"])
                rows: list[dict[str, Any]] = [] if self.job_rows_hidden else job["items"]
                if self.garbled_items:
                    rows = [{**row, "publish_details": ["not", "an", "object"]} for row in rows]
                return httpx2.Response(
                    200,
                    json={"items": rows[skip : skip + limit], "skip": skip, "limit": limit, "total_count": len(rows)},
                )
            return httpx2.Response(200, json={k: v for k, v in job.items() if k != "items"})
        if parts[0] == "releases" and len(parts) == 2 and parts[1] in self.release_items:
            # Unchanged since the deployments in these tests were scheduled.
            release = {"uid": parts[1], "name": parts[1], "updated_at": "2026-01-01T00:00:00.000Z"}
            return httpx2.Response(200, json={"release": release})
        if parts[0] == "releases" and parts[-1] == "items":
            items = self.release_items.get(parts[1])
            if items is None:
                return httpx2.Response(404, json={"error_message": "not found", "error_code": 141})
            return httpx2.Response(200, json={"items": items, "count": len(items)})
        if parts == ["publish-queue"]:
            skip, limit = int(params["skip"]), int(params["limit"])
            return httpx2.Response(200, json={"queue": self.queue[skip : skip + limit], "count": len(self.queue)})
        if parts[0] == "publish-queue":
            row = next((r for r in self.queue if r["uid"] == parts[1]), None)
            if row is None:
                return httpx2.Response(404, json={"error_message": "not found", "error_code": 141})
            if len(parts) == 3:
                return httpx2.Response(200, json={"notice": "Entry unscheduled successfully."})
            return httpx2.Response(200, json={"entry": row})
        return httpx2.Response(404, json={"error_message": "no route", "error_code": 0})

    def _bulk(self, request: httpx2.Request) -> httpx2.Response:
        if self.refuse_bulk:
            self.refuse_bulk -= 1
            return httpx2.Response(422, json={"error_message": "Bulk request refused.", "error_code": 141})
        body = json.loads(request.content)
        job_id = f"job{len(self.jobs) + 1}"
        status = "scheduled" if body.get("scheduled_at") else "success"
        items: list[dict[str, Any]] = []
        # Rows as "CMA | Job Status" shows them: one per item, locale and environment, the
        # outcome under publish_details, the content type as an object.
        for entry in body["entries"]:
            for locale in body["locales"]:
                for environment in body["environments"]:
                    failed = entry["uid"] in self.failing
                    details = {"status": "failed" if failed else status}
                    if failed:
                        details["failure_reason"] = f"entry is not localized in '{locale}'"
                    items.append(
                        {
                            "uid": entry["uid"],
                            "type": "entry",
                            "locale": entry["locale"],
                            "publish_locale": locale,
                            "environment": f"env_{environment}",
                            "version": entry["version"],
                            "content_type": {"uid": entry["content_type"]},
                            "publish_details": details,
                        }
                    )
        for asset in body["assets"]:
            items.extend(
                {"uid": asset["uid"], "type": "asset", "publish_locale": loc, "publish_details": {"status": status}}
                for loc in body["locales"]
            )
        failed_rows = sum(1 for i in items if i["publish_details"]["status"] == "failed")
        self.jobs[job_id] = {
            "uid": job_id,
            "action": "publish",
            "status": "complete",
            "summary": {"state": "completed", "success": len(items) - failed_rows, "unsuccess": failed_rows},
            "items": items,
        }
        return httpx2.Response(200, json={"notice": "Your bulk publish request is in progress.", "job_id": job_id})


def policy(confirm: ConfirmSpec | None = None) -> Policy:
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["blog-publisher"] = RoleSpec(
        inherits=["publisher"],
        content_types=["blog_post"],
        locales=["en-us", "fr-fr"],
        environments=["development", "staging"],
    )
    specs["entry-publisher"] = RoleSpec(inherits=["viewer"], scopes=["cm.entry:publish"])
    return Policy(roles=resolve_roles(specs), confirm=confirm or ConfirmSpec())


def connect(
    stack: Callable[[httpx2.Request], httpx2.Response], role: str = "publisher", confirm: ConfirmSpec | None = None
) -> Client:
    server = build_server(
        Settings.from_env(ENV),
        guard=Guard(policy(confirm)),
        stdio_role=role,
        transport=httpx2.MockTransport(stack),
        rate_limits=UNPACED,
    )
    return Client(server)


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return cast(dict[str, Any], result.structured_content)


def entry(uid: str, content_type: str = "blog_post", **extra: Any) -> dict[str, Any]:
    return {"type": "entry", "content_type": content_type, "uid": uid, **extra}


def posts(count: int) -> list[dict[str, Any]]:
    return [entry(f"post{i}") for i in range(count)]


# -- publish and unpublish ----------------------------------------------------------------


async def test_one_entry_goes_through_the_single_endpoint_at_its_latest_version() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        data = ok(await client.call_tool("publish", {"items": [entry("post1")], "environments": ["development"]}))
    (request,) = stack.posts("/publish")
    assert request.url.path == "/v3/content_types/blog_post/entries/post1/publish"
    assert json.loads(request.content) == {
        "entry": {"environments": ["development"], "locales": ["en-us"]},
        "locale": "en-us",
        "version": 3,
    }
    assert data["items"] == [
        {
            "item": "entry blog_post/post1 (en-us)",
            "status": "published",
            "version": 3,
            "locales": ["en-us"],
            "reason": None,
            "job_id": None,
        }
    ]
    assert data["counts"] == {"published": 1}
    assert not stack.posts("/bulk/publish")


async def test_one_asset_goes_through_the_asset_endpoint_in_the_master_locale() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        data = ok(
            await client.call_tool(
                "unpublish", {"items": [{"type": "asset", "uid": "img1"}], "environments": ["staging"]}
            )
        )
    (request,) = stack.posts("/unpublish")
    assert request.url.path == "/v3/assets/img1/unpublish"
    assert json.loads(request.content) == {"asset": {"environments": ["staging"], "locales": ["en-us"]}, "version": 4}
    assert data["items"][0]["status"] == "unpublished"


async def test_many_items_are_split_into_bulk_requests_of_at_most_ten_by_ten_by_ten() -> None:
    stack = FakeStack()
    envs = ENVIRONMENTS[:12]
    async with connect(stack) as client:
        data = ok(
            await client.call_tool("publish", {"items": posts(25), "environments": envs, "locales": ["en-us", "fr-fr"]})
        )
    bodies = [json.loads(r.content) for r in stack.posts("/bulk/publish")]
    assert len(bodies) == 3 * 2  # items in 10 + 10 + 5, environments in 10 + 2
    assert all(len(b["entries"]) <= 10 and len(b["locales"]) <= 10 and len(b["environments"]) <= 10 for b in bodies)
    covered = {(e["uid"], env) for b in bodies for e in b["entries"] for env in b["environments"]}
    assert covered == {(f"post{i}", env) for i in range(25) for env in envs}
    assert all(e["version"] == 3 and e["locale"] == "en-us" for b in bodies for e in b["entries"])
    assert data["counts"] == {"published": 25}
    assert sorted(data["job_ids"]) == sorted(f"job{i}" for i in range(1, 7))
    job_reads = [r.url.path for r in stack.requests if "/bulk/jobs/" in r.url.path]
    assert len([p for p in job_reads if not p.endswith("/items")]) == 6
    # Item rows per job: items x 2 locales x environments, read 100 a page: 200, 200, 100 rows
    # for the three jobs of 10 environments, 40, 40, 20 for those of 2.
    assert len([p for p in job_reads if p.endswith("/items")]) == 2 + 2 + 1 + 1 + 1 + 1


async def test_entries_and_assets_share_bulk_requests_and_versions_are_read_in_one_request_per_type() -> None:
    stack = FakeStack()
    items = [*posts(4), {"type": "asset", "uid": "img1"}, {"type": "asset", "uid": "img2", "version": 1}]
    async with connect(stack) as client:
        data = ok(await client.call_tool("publish", {"items": items, "environments": ["development"]}))
    (body,) = [json.loads(r.content) for r in stack.posts("/bulk/publish")]
    assert body["assets"] == [{"uid": "img1", "version": 4}, {"uid": "img2", "version": 1}]
    assert body["locales"] == ["en-us"]
    lookups = [r for r in stack.requests if r.method == "GET" and r.url.path.endswith(("/entries", "/assets"))]
    assert len(lookups) == 2
    assert data["counts"] == {"published": 6}


async def test_a_missing_entry_or_version_fails_alone_and_the_others_are_published() -> None:
    stack = FakeStack()
    items = [*posts(3), entry("ghost"), entry("post5", version=9)]
    async with connect(stack) as client:
        data = ok(await client.call_tool("publish", {"items": items, "environments": ["development"]}))
    (body,) = [json.loads(r.content) for r in stack.posts("/bulk/publish")]
    assert [e["uid"] for e in body["entries"]] == ["post0", "post1", "post2"]
    failed = {i["item"]: i["reason"] for i in data["items"] if i["status"] == "failed"}
    assert set(failed) == {"entry blog_post/ghost (en-us)", "entry blog_post/post5 (en-us)"}
    assert data["items"][0]["status"] == "failed"  # failed items come first
    assert data["counts"] == {"failed": 2, "published": 3}


async def test_a_bulk_job_that_fails_an_item_reports_the_reason_on_that_item() -> None:
    stack = FakeStack()
    stack.failing = {"post2"}
    async with connect(stack) as client:
        data = ok(
            await client.call_tool("publish", {"items": posts(3), "environments": ["staging"], "locales": ["fr-fr"]})
        )
    reports = {i["item"]: i for i in data["items"]}
    assert reports["entry blog_post/post2 (en-us)"]["status"] == "failed"
    assert "fr-fr" in reports["entry blog_post/post2 (en-us)"]["reason"]
    assert reports["entry blog_post/post0 (en-us)"]["status"] == "published"
    assert reports["entry blog_post/post0 (en-us)"]["job_id"] == "job1"


async def test_a_refused_bulk_request_fails_its_items_and_the_next_requests_still_go() -> None:
    stack = FakeStack()
    stack.refuse_bulk = 1
    async with connect(stack) as client:
        data = ok(await client.call_tool("publish", {"items": posts(15), "environments": ["development"]}))
    assert len(stack.posts("/bulk/publish")) == 2
    assert data["counts"] == {"failed": 10, "published": 5}


@pytest.mark.parametrize("when", ["2020-01-01T00:00:00Z", "2999-01-01T00:00:00", "tomorrow", "2999-13-01T00:00:00Z"])
async def test_a_scheduled_at_in_the_past_or_not_iso_with_a_zone_is_refused_and_nothing_is_sent(when: str) -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        result = await client.call_tool(
            "publish", {"items": [entry("post1")], "environments": ["development"], "scheduled_at": when}
        )
    assert result.is_error
    assert stack.requests == []


async def test_a_future_scheduled_at_is_sent_in_utc_and_the_items_are_scheduled() -> None:
    stack = FakeStack()
    when = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    local = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"
    async with connect(stack) as client:
        single = ok(
            await client.call_tool(
                "publish", {"items": [entry("post1")], "environments": ["development"], "scheduled_at": local}
            )
        )
        bulk = ok(
            await client.call_tool(
                "publish", {"items": posts(2), "environments": ["development"], "scheduled_at": local}
            )
        )
    sent = [json.loads(r.content)["scheduled_at"] for r in stack.posts("publish")]
    assert sent == [when.strftime("%Y-%m-%dT%H:%M:%S.000Z")] * 2
    assert single["counts"] == {"scheduled": 1}
    assert bulk["counts"] == {"scheduled": 2}


async def test_a_dry_run_answers_every_planned_request_and_sends_nothing() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        data = ok(
            await client.call_tool(
                "publish", {"items": posts(21), "environments": ["development", "staging"], "dry_run": True}
            )
        )
    assert data["dry_run"] is True
    assert data["written"] is False
    assert [r["path"] for r in data["plan"]["requests"]] == ["/v3/bulk/publish"] * 3
    assert data["counts"] == {"planned": 21}
    assert stack.writes() == []


async def test_unpublishing_many_items_uses_the_bulk_unpublish_endpoint() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        data = ok(await client.call_tool("unpublish", {"items": posts(3), "environments": ["development"]}))
    assert len(stack.posts("/bulk/unpublish")) == 1
    assert data["counts"] == {"unpublished": 3}


async def test_an_item_that_does_not_fit_its_type_is_refused() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        no_ct = await client.call_tool(
            "publish", {"items": [{"type": "entry", "uid": "x"}], "environments": ["development"]}
        )
        asset_locale = await client.call_tool(
            "publish", {"items": [{"type": "asset", "uid": "x", "locale": "en-us"}], "environments": ["development"]}
        )
        unknown_env = await client.call_tool("publish", {"items": [entry("post1")], "environments": ["prod"]})
    assert no_ct.is_error
    assert asset_locale.is_error
    assert unknown_env.is_error
    assert "production" in text_of(unknown_env)
    assert stack.writes() == []


# -- the guard ---------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ["publish", "unpublish"])
async def test_a_role_without_publish_scopes_is_denied_and_nothing_is_sent(tool: str) -> None:
    stack = FakeStack()
    async with connect(stack, role="editor") as client:
        result = await client.call_tool(
            tool, {"items": posts(2), "environments": ["development"], "locales": ["en-us"]}
        )
    assert result.is_error
    assert stack.requests == []


async def test_an_asset_needs_the_asset_scope_even_beside_entries() -> None:
    stack = FakeStack()
    items = [entry("post1", locale="en-us"), {"type": "asset", "uid": "img1"}]
    async with connect(stack, role="entry-publisher") as client:
        result = await client.call_tool(
            "publish", {"items": items, "environments": ["development"], "locales": ["en-us"]}
        )
    assert result.is_error
    assert "cm.asset:publish" in text_of(result)
    assert stack.requests == []


@pytest.mark.parametrize("tool", ["publish", "unpublish"])
async def test_an_environment_outside_the_role_is_denied_and_nothing_is_sent(tool: str) -> None:
    stack = FakeStack()
    async with connect(stack, role="blog-publisher") as client:
        result = await client.call_tool(
            tool, {"items": posts(2), "environments": ["staging", "production"], "locales": ["en-us"]}
        )
    assert result.is_error
    assert "production" in text_of(result)
    assert stack.requests == []


@pytest.mark.parametrize("tool", ["publish", "unpublish"])
async def test_one_bulk_item_outside_the_role_denies_the_whole_call_and_names_it(tool: str) -> None:
    stack = FakeStack()
    items = [*posts(12), entry("jane", content_type="author", locale="en-us")]
    async with connect(stack, role="blog-publisher") as client:
        result = await client.call_tool(tool, {"items": items, "environments": ["staging"], "locales": ["en-us"]})
    assert result.is_error
    assert "author/jane" in text_of(result)
    assert stack.requests == []


async def test_a_locale_outside_the_role_is_denied_whether_target_or_source() -> None:
    stack = FakeStack()
    async with connect(stack, role="blog-publisher") as client:
        target = await client.call_tool(
            "publish", {"items": posts(1), "environments": ["staging"], "locales": ["de-de"]}
        )
        source = await client.call_tool(
            "publish", {"items": [entry("post1", locale="de-de")], "environments": ["staging"], "locales": ["en-us"]}
        )
    assert target.is_error
    assert source.is_error
    assert stack.requests == []


async def test_the_role_inside_its_constraints_publishes() -> None:
    stack = FakeStack()
    async with connect(stack, role="blog-publisher") as client:
        data = ok(
            await client.call_tool(
                "publish", {"items": posts(2), "environments": ["staging"], "locales": ["en-us", "fr-fr"]}
            )
        )
    assert data["counts"] == {"published": 2}


async def test_publishing_to_a_confirmed_environment_answers_a_token_and_sends_only_with_it() -> None:
    stack = FakeStack()
    args = {"items": posts(2), "environments": ["production"], "locales": ["en-us"]}
    async with connect(stack, confirm=ConfirmSpec(environments=["production"])) as client:
        first = ok(await client.call_tool("publish", args))
        assert stack.writes() == []
        assert first["counts"] == {"planned": 2}
        token = first["confirmation"]["confirmation_token"]
        second = ok(await client.call_tool("publish", {**args, "confirmation_token": token}))
        other = await client.call_tool("publish", {**args, "items": posts(3), "confirmation_token": token})
    assert second["counts"] == {"published": 2}
    assert second["verdict"]["decision"] == "confirmed"
    assert other.is_error
    assert len(stack.posts("/bulk/publish")) == 1


# -- the publish queue ---------------------------------------------------------------------


async def test_the_queue_names_environments_and_filters_by_status_and_environment() -> None:
    stack = FakeStack()
    async with connect(stack, role="viewer") as client:
        every = ok(await client.call_tool("list_publish_queue", {}))
        scheduled = ok(await client.call_tool("list_publish_queue", {"status": "scheduled"}))
        staging = ok(await client.call_tool("list_publish_queue", {"environment": "staging", "status": "scheduled"}))
    assert every["total"] == 4
    assert every["rows"][0]["environments"] == ["staging"]
    assert every["rows"][0]["content_type"] == "blog_post"
    assert every["rows"][0]["title"] == "post1"
    assert [r["uid"] for r in scheduled["rows"]] == ["q1", "q3"]
    assert scheduled["total"] is None
    assert [r["uid"] for r in staging["rows"]] == ["q1"]


async def test_the_queue_pages_with_a_cursor() -> None:
    stack = FakeStack()
    async with connect(stack, role="viewer") as client:
        first = ok(await client.call_tool("list_publish_queue", {"limit": 3}))
        second = ok(await client.call_tool("list_publish_queue", {"limit": 3, "cursor": first["next_cursor"]}))
    assert [r["uid"] for r in first["rows"]] == ["q1", "q2", "q3"]
    assert [r["uid"] for r in second["rows"]] == ["q4"]
    assert second["next_cursor"] is None


async def test_cancelling_a_scheduled_row_unschedules_it() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        dry = ok(await client.call_tool("cancel_scheduled_publish", {"queue_uid": "q1", "dry_run": True}))
        assert stack.writes() == []
        data = ok(await client.call_tool("cancel_scheduled_publish", {"queue_uid": "q1"}))
    (request,) = stack.writes()
    assert request.url.path == "/v3/publish-queue/q1/unschedule"
    assert dry["plan"]["targets"]["environment"] == ["staging"]
    assert data["row"]["status"] == "cancelled"
    assert data["written"] is True


async def test_a_row_that_is_not_scheduled_cannot_be_cancelled() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        done = await client.call_tool("cancel_scheduled_publish", {"queue_uid": "q2"})
        missing = await client.call_tool("cancel_scheduled_publish", {"queue_uid": "nope"})
    assert done.is_error
    assert missing.is_error
    assert stack.writes() == []


async def test_cancelling_is_denied_without_the_scope_or_outside_the_roles_environments() -> None:
    stack = FakeStack()
    async with connect(stack, role="editor") as client:
        no_scope = await client.call_tool("cancel_scheduled_publish", {"queue_uid": "q1"})
    assert no_scope.is_error
    assert stack.requests == []
    async with connect(stack, role="blog-publisher") as client:
        production = await client.call_tool("cancel_scheduled_publish", {"queue_uid": "q3"})
    assert production.is_error
    assert "production" in text_of(production)
    assert stack.writes() == []


async def test_when_no_item_exists_the_call_is_refused_and_nothing_is_sent() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        one = await client.call_tool("publish", {"items": [entry("ghost")], "environments": ["development"]})
        many = await client.call_tool(
            "unpublish", {"items": [entry("ghost"), entry("post1", version=7)], "environments": ["development"]}
        )
    assert one.is_error
    assert "blog_post/ghost" in text_of(one)
    assert many.is_error
    assert stack.writes() == []


async def test_items_of_a_job_that_cannot_be_read_stay_submitted_with_its_id() -> None:
    stack = FakeStack()
    stack.jobs_readable = False
    async with connect(stack) as client:
        data = ok(await client.call_tool("publish", {"items": posts(3), "environments": ["development"]}))
    assert data["counts"] == {"submitted": 3}
    assert {i["job_id"] for i in data["items"]} == {"job1"}
    assert data["job_ids"] == ["job1"]


async def test_a_filtered_queue_reads_on_past_pages_without_a_match_to_fill_its_page() -> None:
    stack = FakeStack()
    done = {**stack.queue[1], "publish_details": {**stack.queue[1]["publish_details"], "status": "success"}}
    scheduled = stack.queue[0]
    stack.queue = [{**done, "uid": f"old{i}"} for i in range(150)] + [scheduled]
    async with connect(stack, role="viewer") as client:
        found = ok(await client.call_tool("list_publish_queue", {"status": "scheduled", "limit": 5}))
    assert [r["uid"] for r in found["rows"]] == [scheduled["uid"]]
    assert found["next_cursor"] is None
    reads = [r for r in stack.requests if r.url.path.endswith("/publish-queue")]
    assert len(reads) == 2  # 100 rows, then the last 51


async def test_bulk_publishing_25_entries_with_one_failed_item_reports_24_published_and_1_failed_with_reason() -> None:
    stack = FakeStack()
    stack.failing = {"post17"}
    async with connect(stack) as client:
        data = ok(await client.call_tool("publish", {"items": posts(25), "environments": ["staging"]}))
    assert data["counts"] == {"published": 24, "failed": 1}
    (failed,) = [i for i in data["items"] if i["status"] == "failed"]
    assert failed["item"] == "entry blog_post/post17 (en-us)"
    assert failed["reason"] == "entry is not localized in 'en-us'"
    assert failed["job_id"] == "job2"


async def test_items_a_job_counts_as_failed_without_naming_them_are_not_claimed_published() -> None:
    stack = FakeStack()
    stack.failing = {"post1"}
    stack.job_rows_hidden = True  # the summary says one failed; no row says which
    async with connect(stack) as client:
        data = ok(await client.call_tool("publish", {"items": posts(3), "environments": ["staging"]}))
    assert data["counts"] == {"submitted": 3}
    assert all("1 failed item" in (i["reason"] or "") for i in data["items"])


async def test_cancelling_checks_the_content_type_the_row_names_at_its_top_level() -> None:
    stack = FakeStack()
    stack.queue.append(FakeStack.row("q5", "scheduled", ["env_staging"], "author", "jane"))
    async with connect(stack, role="blog-publisher") as client:
        author = await client.call_tool("cancel_scheduled_publish", {"queue_uid": "q5"})
        blog_post = ok(await client.call_tool("cancel_scheduled_publish", {"queue_uid": "q1", "dry_run": True}))
    assert author.is_error
    assert "author" in text_of(author)
    assert blog_post["plan"]["targets"]["content_type"] == ["blog_post"]
    assert stack.writes() == []


async def test_cancelling_a_release_deployment_checks_the_items_of_the_release_the_row_names() -> None:
    stack = FakeStack()
    stack.queue.append(
        {
            "uid": "q6",
            "type": "release",
            "action": "deploy",
            "publish_details": {"status": "scheduled"},
            "entry": {"uid": "deployment_ref", "title": "Spring", "release": {"uid": "rel1", "title": "Spring"}},
            "environment": ["env_staging"],
            "locale": ["en-us"],
            "created_at": "2026-02-01T00:00:00.000Z",
        }
    )
    stack.release_items["rel1"] = [
        {"uid": "jane", "content_type_uid": "author", "locale": "en-us", "version": 2, "action": "publish"}
    ]
    async with connect(stack, role="blog-publisher") as client:
        refused = await client.call_tool("cancel_scheduled_publish", {"queue_uid": "q6"})
    async with connect(stack) as client:
        dry = ok(await client.call_tool("cancel_scheduled_publish", {"queue_uid": "q6", "dry_run": True}))
    assert refused.is_error
    assert "author" in text_of(refused)
    assert "/v3/releases/rel1/items" in {r.url.path for r in stack.requests}
    assert dry["plan"]["targets"]["content_type"] == ["author"]
    assert stack.writes() == []


async def test_a_queue_that_repeats_its_page_is_read_once_more_at_most() -> None:
    stack = FakeStack()
    done = {**stack.queue[1], "publish_details": {"status": "success"}}
    stack.queue = [{**done, "uid": f"old{i}"} for i in range(100)]
    original = stack.__call__

    def ignores_skip(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/publish-queue"):
            stack.requests.append(request)
            return httpx2.Response(200, json={"queue": stack.queue[:100], "count": 1000})
        return original(request)

    async with connect(ignores_skip, role="viewer") as client:
        found = ok(await client.call_tool("list_publish_queue", {"status": "scheduled", "limit": 5}))
    assert found["rows"] == []
    assert found["next_cursor"] is None
    assert len([r for r in stack.requests if r.url.path.endswith("/publish-queue")]) == 2


async def test_items_of_a_job_whose_items_do_not_parse_stay_submitted_and_the_call_answers() -> None:
    stack = FakeStack()
    async with connect(stack) as client:
        first = ok(await client.call_tool("publish", {"items": posts(2), "environments": ["staging"]}))
        stack.garbled_items = True
        again = ok(await client.call_tool("publish", {"items": posts(2), "environments": ["staging"]}))
    assert first["counts"] == {"published": 2}
    assert again["counts"] == {"submitted": 2}
    assert again["job_ids"] == ["job2"]
