"""The releases toolset in memory, against a small stateful fake of the CMA on httpx2.MockTransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx2
import pytest
from mcp import Client

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, Policy, builtin_policy
from cs_mcp.guard.policy import BUILTIN_ROLE_SPECS, ConfirmSpec, RoleSpec, resolve_roles
from cs_mcp.server import build_server
from tests.helpers import UNPACED, text_of

pytestmark = pytest.mark.anyio

ENV = {"CONTENTSTACK_API_KEY": "blt_api_key_1234", "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_management_token_1234"}
ENVIRONMENTS = [
    {"name": "development", "uid": "env_dev"},
    {"name": "staging", "uid": "env_stg"},
    {"name": "production", "uid": "env_prd"},
]
LOCALES = [{"code": "en-us", "name": "English"}, {"code": "fr-fr", "name": "French", "fallback_locale": "en-us"}]
CONTENT_TYPES: dict[str, dict[str, Any]] = {
    "blog_post": {
        "uid": "blog_post",
        "title": "Blog post",
        "schema": [
            {"uid": "title", "data_type": "text"},
            {"uid": "author", "data_type": "reference", "reference_to": ["author"]},
            {
                "uid": "seo",
                "data_type": "group",
                "schema": [{"uid": "related", "data_type": "reference", "reference_to": ["blog_post"]}],
            },
        ],
    },
    "author": {"uid": "author", "title": "Author", "schema": [{"uid": "title", "data_type": "text"}]},
    "product": {"uid": "product", "title": "Product", "schema": [{"uid": "title", "data_type": "text"}]},
}
NOT_FOUND = {"error_message": "The requested object doesn't exist.", "error_code": 141}


def published(env_uid: str, locale: str = "en-us") -> list[dict[str, Any]]:
    return [{"environment": env_uid, "locale": locale, "version": 1}]


class FakeCMA:
    """Enough of the CMA for the releases tools: stack metadata, entries, assets, releases."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.releases: dict[str, dict[str, Any]] = {}
        self.entries: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.assets: dict[str, dict[str, Any]] = {"asset1": {"uid": "asset1", "_version": 2}}
        self.counter = 0
        # The item requests (POST .../items) answered before the next one fails; None: never.
        self.item_requests_before_failure: int | None = None
        for i in range(60):
            self.add_entry("blog_post", f"post{i}", version=1)
        self.add_entry("author", "a1", version=1, publish_details=published("env_dev") + published("env_stg"))
        self.add_entry("author", "a2", version=1)
        self.add_entry("product", "p1", version=1)

    def add_entry(
        self,
        ct: str,
        uid: str,
        *,
        version: int,
        locale: str = "en-us",
        publish_details: list[dict[str, Any]] | None = None,
        **fields: Any,
    ) -> None:
        self.entries[(ct, uid, locale)] = {
            "uid": uid,
            "title": uid,
            "locale": locale,
            "_version": version,
            "publish_details": publish_details or [],
            **fields,
        }

    def add_release(self, name: str, items: list[dict[str, Any]], *, locked: bool = False) -> str:
        self.counter += 1
        uid = f"rel{self.counter}"
        self.releases[uid] = {"uid": uid, "name": name, "description": None, "locked": locked, "items": items}
        return uid

    @property
    def writes(self) -> list[httpx2.Request]:
        return [r for r in self.requests if r.method != "GET"]

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        segs = request.url.path.removeprefix("/v3/").split("/")
        body: Any = json.loads(request.content) if request.content else None
        params = request.url.params
        method = request.method
        if segs == ["environments"]:
            return httpx2.Response(200, json={"environments": ENVIRONMENTS})
        if segs == ["locales"]:
            return httpx2.Response(200, json={"locales": LOCALES})
        if segs == ["content_types"]:
            return httpx2.Response(200, json={"content_types": list(CONTENT_TYPES.values()), "count": 3})
        if segs[0] == "content_types" and len(segs) == 2:
            ct = CONTENT_TYPES.get(segs[1])
            return httpx2.Response(200, json={"content_type": ct}) if ct else httpx2.Response(422, json=NOT_FOUND)
        if segs[0] == "content_types" and segs[2:] == ["entries"]:
            # A list read by uid, as the tools batch their lookups: {"uid": {"$in": [...]}}.
            wanted = set(json.loads(params.get("query", "{}")).get("uid", {}).get("$in", []))
            locale = params.get("locale", "en-us")
            found = [
                e for (ct, uid, loc), e in self.entries.items() if ct == segs[1] and uid in wanted and loc == locale
            ]
            return httpx2.Response(200, json={"entries": found, "count": len(found)})
        if segs == ["assets"]:
            wanted = set(json.loads(params.get("query", "{}")).get("uid", {}).get("$in", []))
            found = [a for uid, a in self.assets.items() if uid in wanted]
            return httpx2.Response(200, json={"assets": found, "count": len(found)})
        if segs[0] == "content_types" and len(segs) == 4:
            entry = self.entries.get((segs[1], segs[3], params.get("locale", "en-us")))
            return httpx2.Response(200, json={"entry": entry}) if entry else httpx2.Response(422, json=NOT_FOUND)
        if segs[0] == "assets":
            asset = self.assets.get(segs[1])
            return httpx2.Response(200, json={"asset": asset}) if asset else httpx2.Response(422, json=NOT_FOUND)
        if segs[0] == "releases":
            return self.release_route(method, segs[1:], params, body)
        return httpx2.Response(404, json={"error_message": "no route", "error_code": 0})

    def release_route(self, method: str, segs: list[str], params: httpx2.QueryParams, body: Any) -> httpx2.Response:
        if not segs:
            if method == "POST":
                uid = self.add_release(body["release"]["name"], [])
                self.releases[uid]["description"] = body["release"].get("description")
                return httpx2.Response(
                    201, json={"notice": "Release created successfully.", "release": self.public(uid)}
                )
            skip, limit = int(params.get("skip", 0)), int(params.get("limit", 100))
            listed = [self.public(u) for u in self.releases][skip : skip + limit]
            return httpx2.Response(200, json={"releases": listed, "count": len(self.releases)})
        release = self.releases.get(segs[0])
        if release is None:
            return httpx2.Response(422, json=NOT_FOUND)
        uid = segs[0]
        rest = segs[1:]
        editing = (method in ("POST", "DELETE") and rest in ([], ["items"])) or method == "PUT"
        unlocking = method == "PUT" and body["release"].get("locked") is False
        if release["locked"] and editing and not unlocking:
            return httpx2.Response(422, json={"error_message": "Release is locked.", "error_code": 141})
        if rest == [] and method == "GET":
            return httpx2.Response(200, json={"release": self.public(uid)})
        if rest == [] and method == "PUT":
            release.update(body["release"])
            return httpx2.Response(200, json={"notice": "Release updated successfully.", "release": self.public(uid)})
        if rest == [] and method == "DELETE":
            del self.releases[uid]
            return httpx2.Response(200, json={"notice": "Release deleted successfully."})
        if rest == ["items"] and method == "GET":
            skip, limit = int(params.get("skip", 0)), int(params.get("limit", 100))
            return httpx2.Response(
                200, json={"items": release["items"][skip : skip + limit], "count": len(release["items"])}
            )
        if rest == ["items"] and method == "POST":
            if self.item_requests_before_failure is not None:
                if self.item_requests_before_failure == 0:
                    return httpx2.Response(500, json={"error_message": "Something went wrong.", "error_code": 500})
                self.item_requests_before_failure -= 1
            if len(body["items"]) > 25:
                return httpx2.Response(400, json={"error_message": "At most 25 items.", "error_code": 400})
            release["items"].extend(body["items"])
            return httpx2.Response(200, json={"notice": "Item(s) send to add to release successfully."})
        if rest == ["items"] and method == "DELETE":
            if params.get("all") == "true":
                release["items"] = []
            else:
                gone = [(i["uid"], i.get("locale")) for i in body["items"]]
                release["items"] = [i for i in release["items"] if (i["uid"], i.get("locale")) not in gone]
            return httpx2.Response(200, json={"notice": "Item(s) send to remove from release successfully."})
        if rest == ["deploy"]:
            return httpx2.Response(200, json={"notice": "Release sent successfully for deployment."})
        if rest == ["clone"]:
            copy = self.add_release(body["release"]["name"], [dict(i) for i in release["items"]])
            return httpx2.Response(200, json={"notice": "Release cloned successfully.", "release": self.public(copy)})
        return httpx2.Response(404, json={"error_message": "no route", "error_code": 0})

    def public(self, uid: str) -> dict[str, Any]:
        release = self.releases[uid]
        return {k: v for k, v in release.items() if k != "items"} | {"items_count": len(release["items"])}


def post_item(uid: str, version: int = 1, locale: str = "en-us", ct: str = "blog_post") -> dict[str, Any]:
    return {"uid": uid, "version": version, "locale": locale, "content_type_uid": ct, "action": "publish"}


def restricted_policy() -> Policy:
    """A publisher limited to blog posts and authors, in development and staging."""
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["blog-publisher"] = RoleSpec(
        inherits=["publisher"], content_types=["blog_post", "author"], environments=["development", "staging"]
    )
    return Policy(roles=resolve_roles(specs))


def make_client(fake: FakeCMA, role: str = "admin", guard: Guard | None = None) -> Client:
    server = build_server(
        Settings.from_env(ENV),
        guard=guard or Guard(builtin_policy()),
        stdio_role=role,
        transport=httpx2.MockTransport(fake),
        rate_limits=UNPACED,
    )
    return Client(server)


def data_of(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    return cast(dict[str, Any], result.structured_content)


async def test_list_releases_pages_with_a_cursor_and_reports_the_total() -> None:
    fake = FakeCMA()
    for n in range(3):
        fake.add_release(f"R{n}", [post_item("post1")])
    async with make_client(fake, "viewer") as client:
        first = data_of(await client.call_tool("list_releases", {"limit": 2}))
        second = data_of(await client.call_tool("list_releases", {"limit": 2, "cursor": first["next_cursor"]}))
    assert [r["name"] for r in first["releases"]] == ["R0", "R1"]
    assert first["total"] == 3
    assert first["releases"][0]["items_count"] == 1
    assert [r["name"] for r in second["releases"]] == ["R2"]
    assert second["next_cursor"] is None


async def test_get_release_says_which_items_have_a_newer_entry_version() -> None:
    fake = FakeCMA()
    fake.add_entry("blog_post", "post1", version=4)
    uid = fake.add_release("R", [post_item("post0"), post_item("post1", version=2), post_item("gone")])
    async with make_client(fake, "viewer") as client:
        data = data_of(await client.call_tool("get_release", {"release_uid": uid}))
    items = {i["uid"]: i for i in data["items"]}
    assert items["post0"]["newer_version_exists"] is False
    assert (items["post1"]["version"], items["post1"]["latest_version"]) == (2, 4)
    assert items["post1"]["newer_version_exists"] is True
    assert items["gone"]["newer_version_exists"] is None
    assert items["gone"]["note"]
    assert data["items_page"]["total"] == 3
    assert data["release"]["items_count"] == 3


async def test_get_release_of_an_unknown_uid_is_a_tool_error() -> None:
    async with make_client(FakeCMA(), "viewer") as client:
        result = await client.call_tool("get_release", {"release_uid": "nope"})
    assert result.is_error
    assert "list_releases" in text_of(result)


async def test_create_release_with_60_items_sends_one_create_and_three_item_requests() -> None:
    fake = FakeCMA()
    items = [{"type": "entry", "content_type": "blog_post", "uid": f"post{i}"} for i in range(60)]
    async with make_client(fake, "publisher") as client:
        data = data_of(await client.call_tool("create_release", {"name": "Spring", "items": items}))
    writes = fake.writes
    assert [(w.method, w.url.path) for w in writes] == [("POST", "/v3/releases")] + [
        ("POST", f"/v3/releases/{data['release']['uid']}/items")
    ] * 3
    assert [len(json.loads(w.content)["items"]) for w in writes[1:]] == [25, 25, 10]
    first = json.loads(writes[1].content)["items"][0]
    assert (first["version"], first["locale"], first["action"]) == (1, "en-us", "publish")
    assert data["items_added"] == 60
    assert len(fake.releases[data["release"]["uid"]]["items"]) == 60


async def test_a_failure_midway_says_how_many_items_were_added_and_how_to_go_on() -> None:
    fake = FakeCMA()
    fake.item_requests_before_failure = 2
    items = [{"type": "entry", "content_type": "blog_post", "uid": f"post{i}"} for i in range(60)]
    async with make_client(fake, "publisher") as client:
        result = await client.call_tool("create_release", {"name": "Half", "items": items})
    assert result.is_error
    assert "add_release_items" in text_of(result)
    (created,) = fake.releases.values()
    assert len(created["items"]) == 50
    # The failed write was not repeated: a 5xx to a write may have half-happened.
    assert len(fake.writes) == 4


async def test_a_dry_run_create_answers_the_plan_and_sends_nothing() -> None:
    fake = FakeCMA()
    items = [{"type": "entry", "content_type": "blog_post", "uid": f"post{i}"} for i in range(30)]
    async with make_client(fake, "publisher") as client:
        data = data_of(await client.call_tool("create_release", {"name": "Plan", "items": items, "dry_run": True}))
    assert fake.writes == []
    assert data["dry_run"] is True
    assert [r["path"] for r in data["plan"]["requests"]] == ["/v3/releases"] + [
        "/v3/releases/{new release uid}/items"
    ] * 2
    assert data["plan"]["targets"]["content_type"] == ["blog_post"]
    assert data["release"] is None


async def test_an_item_that_does_not_exist_stops_the_create_before_anything_is_sent() -> None:
    fake = FakeCMA()
    items = [
        {"type": "entry", "content_type": "blog_post", "uid": "post1"},
        {"type": "entry", "content_type": "blog_post", "uid": "missing"},
    ]
    async with make_client(fake, "publisher") as client:
        result = await client.call_tool("create_release", {"name": "R", "items": items})
    assert result.is_error
    assert "missing" in text_of(result)
    assert fake.writes == []


async def test_a_viewer_cannot_create_a_release() -> None:
    fake = FakeCMA()
    async with make_client(fake, "viewer") as client:
        result = await client.call_tool("create_release", {"name": "R"})
    assert result.is_error
    assert fake.writes == []


async def test_the_guard_refuses_items_outside_the_roles_content_types_naming_the_item() -> None:
    fake = FakeCMA()
    uid = fake.add_release("R", [])
    items = [
        {"type": "entry", "content_type": "blog_post", "uid": "post1"},
        {"type": "entry", "content_type": "product", "uid": "p1"},
    ]
    async with make_client(fake, "blog-publisher", Guard(restricted_policy())) as client:
        result = await client.call_tool("add_release_items", {"release_uid": uid, "items": items})
    assert result.is_error
    assert "product/p1" in text_of(result)
    assert fake.writes == []


async def test_a_locked_release_refuses_edits_until_unlocked() -> None:
    fake = FakeCMA()
    uid = fake.add_release("Frozen", [post_item("post1")], locked=True)
    item = [{"type": "entry", "content_type": "blog_post", "uid": "post2"}]
    async with make_client(fake, "publisher") as client:
        rename = await client.call_tool("update_release", {"release_uid": uid, "name": "New"})
        add = await client.call_tool("add_release_items", {"release_uid": uid, "items": item})
        remove = await client.call_tool("remove_release_items", {"release_uid": uid, "all": True})
        assert fake.writes == []
        unlocked = data_of(await client.call_tool("update_release", {"release_uid": uid, "locked": False}))
        added = data_of(await client.call_tool("add_release_items", {"release_uid": uid, "items": item}))
    for refused in (rename, add, remove):
        assert refused.is_error
        assert "locked=false" in text_of(refused)
    assert unlocked["release"]["locked"] is False
    assert added["items_changed"] == 1


async def test_locking_a_release_resends_its_name_and_description_as_the_documented_update_body() -> None:
    fake = FakeCMA()
    uid = fake.add_release("Spring", [])
    fake.releases[uid]["description"] = "The spring campaign"
    async with make_client(fake, "publisher") as client:
        data_of(await client.call_tool("update_release", {"release_uid": uid, "locked": True}))
    (put,) = fake.writes
    assert json.loads(put.content) == {
        "release": {"name": "Spring", "description": "The spring campaign", "locked": True}
    }


async def test_locking_an_already_locked_release_sends_nothing() -> None:
    fake = FakeCMA()
    uid = fake.add_release("Frozen", [], locked=True)
    async with make_client(fake, "publisher") as client:
        data = data_of(await client.call_tool("update_release", {"release_uid": uid, "locked": True}))
    assert fake.writes == []
    assert data["notice"]


async def test_remove_release_items_sends_the_stored_items_and_lists_those_not_found() -> None:
    fake = FakeCMA()
    uid = fake.add_release("R", [post_item("post1", version=3), post_item("post2")])
    wanted = [
        {"type": "entry", "content_type": "blog_post", "uid": "post1"},
        {"type": "entry", "content_type": "blog_post", "uid": "post9"},
    ]
    async with make_client(fake, "publisher") as client:
        data = data_of(await client.call_tool("remove_release_items", {"release_uid": uid, "items": wanted}))
        both = await client.call_tool("remove_release_items", {"release_uid": uid, "items": wanted, "all": True})
    sent = json.loads(fake.writes[0].content)["items"]
    assert sent == [post_item("post1", version=3)]
    assert data["items_changed"] == 1
    assert data["not_in_release"] == ["entry blog_post/post9"]
    assert [i["uid"] for i in fake.releases[uid]["items"]] == ["post2"]
    assert both.is_error


async def test_remove_all_items_sends_one_request() -> None:
    fake = FakeCMA()
    uid = fake.add_release("R", [post_item(f"post{i}") for i in range(30)])
    async with make_client(fake, "publisher") as client:
        data = data_of(await client.call_tool("remove_release_items", {"release_uid": uid, "all": True}))
    assert len(fake.writes) == 1
    assert fake.writes[0].url.params["all"] == "true"
    # The documented request carries a JSON body of the items it removes.
    assert fake.writes[0].headers["content-type"] == "application/json"
    assert [i["uid"] for i in json.loads(fake.writes[0].content)["items"]] == [f"post{i}" for i in range(30)]
    assert data["items_changed"] == 30
    assert fake.releases[uid]["items"] == []


async def test_deploy_reports_a_preflight_with_stale_items_and_missing_references() -> None:
    fake = FakeCMA()
    fake.add_entry("blog_post", "post1", version=3, author=[{"uid": "a1", "_content_type_uid": "author"}])
    fake.add_entry("blog_post", "post2", version=1, author=[{"uid": "a2", "_content_type_uid": "author"}])
    fake.add_entry(
        "blog_post", "post3", version=1, seo={"related": [{"uid": "post4", "_content_type_uid": "blog_post"}]}
    )
    fake.add_entry("blog_post", "post5", version=1, author=[{"uid": "ghost", "_content_type_uid": "author"}])
    uid = fake.add_release(
        "R",
        [
            post_item("post1", version=2),
            post_item("post2"),
            post_item("post3"),
            post_item("post4"),
            post_item("post5"),
            post_item("vanished"),
        ],
    )
    async with make_client(fake, "publisher") as client:
        data = data_of(await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["staging"]}))
    preflight = data["preflight"]
    assert [(s["uid"], s["version_in_release"], s["latest_version"]) for s in preflight["stale_items"]] == [
        ("post1", 2, 3)
    ]
    missing = {(m["uid"], m["reason"]): m for m in preflight["missing_references"]}
    # a1 is published in staging (by environment uid); post4 is in the release; a2 and ghost are not.
    assert set(missing) == {("a2", "not_published"), ("ghost", "missing")}
    assert missing[("a2", "not_published")]["item"] == "entry blog_post/post2 (en-us)"
    assert missing[("a2", "not_published")]["field"] == "author"
    assert missing[("a2", "not_published")]["environments"] == ["staging"]
    checks = {c["check"]: c["ok"] for c in preflight["checks"]}
    assert checks["release is not empty"] is True
    assert checks["every item's entry still exists"] is False
    assert checks["items are at their entry's latest version"] is False
    assert checks["referenced entries are published or in the release"] is False
    # The release is locked for the deploy and unlocked after.
    lock, deploy, unlock = fake.writes
    assert deploy.url.path == f"/v3/releases/{uid}/deploy"
    assert json.loads(lock.content)["release"]["locked"] is True
    assert json.loads(unlock.content)["release"]["locked"] is False
    # The documented body always names locales: the items' own when the caller gives none.
    assert json.loads(deploy.content) == {
        "release": {"environments": ["staging"], "action": "publish", "locales": ["en-us"]}
    }
    assert data["notice"] == "Release sent successfully for deployment."


async def test_a_dry_run_deploy_reports_the_preflight_and_sends_nothing() -> None:
    fake = FakeCMA()
    fake.add_entry("blog_post", "post1", version=5)
    uid = fake.add_release("R", [post_item("post1", version=1)])
    async with make_client(fake, "publisher") as client:
        data = data_of(
            await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["staging"], "dry_run": True})
        )
    assert fake.writes == []
    assert data["dry_run"] is True
    assert data["preflight"]["stale_count"] == 1
    assert data["notice"] is None


async def test_a_scheduled_deploy_sends_the_time_in_utc_and_a_past_time_is_refused() -> None:
    fake = FakeCMA()
    uid = fake.add_release("R", [post_item("post1")])
    later = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    earlier = datetime.now(UTC) - timedelta(hours=1)
    async with make_client(fake, "publisher") as client:
        args = {"release_uid": uid, "environments": ["staging"]}
        data = data_of(
            await client.call_tool("deploy_release", {**args, "scheduled_at": later.astimezone().isoformat()})
        )
        past = await client.call_tool("deploy_release", {**args, "scheduled_at": earlier.isoformat()})
        naive = await client.call_tool("deploy_release", {**args, "scheduled_at": "2999-01-01T00:00:00"})
        garbage = await client.call_tool("deploy_release", {**args, "scheduled_at": "tomorrow"})
    # A scheduled deploy leaves the release it locked locked: lock, then deploy, and no unlock.
    assert [w.method for w in fake.writes] == ["PUT", "POST"]
    sent = json.loads(fake.writes[1].content)["release"]["scheduled_at"]
    assert sent == later.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert data["scheduled_at"] == sent
    assert past.is_error
    assert naive.is_error
    assert garbage.is_error


async def test_deploy_refuses_an_empty_release_and_an_unknown_environment() -> None:
    fake = FakeCMA()
    empty = fake.add_release("Empty", [])
    full = fake.add_release("Full", [post_item("post1")])
    async with make_client(fake, "publisher") as client:
        nothing = await client.call_tool("deploy_release", {"release_uid": empty, "environments": ["staging"]})
        nowhere = await client.call_tool("deploy_release", {"release_uid": full, "environments": ["prod"]})
    assert nothing.is_error
    assert "add_release_items" in text_of(nothing)
    assert nowhere.is_error
    assert "production" in text_of(nowhere)
    assert fake.writes == []


async def test_the_guard_refuses_a_deploy_because_of_one_item_and_sends_nothing() -> None:
    fake = FakeCMA()
    uid = fake.add_release("R", [post_item(f"post{i}") for i in range(10)] + [post_item("p1", ct="product")])
    async with make_client(fake, "blog-publisher", Guard(restricted_policy())) as client:
        result = await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["staging"]})
        outside = await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["production"]})
    assert result.is_error
    assert "product/p1" in text_of(result)
    assert outside.is_error
    assert fake.writes == []


async def test_clone_copies_the_release_and_delete_removes_one() -> None:
    fake = FakeCMA()
    uid = fake.add_release("R", [post_item("post1"), post_item("post2")], locked=True)
    async with make_client(fake, "admin") as client:
        cloned = data_of(await client.call_tool("clone_release", {"release_uid": uid, "name": "R copy"}))
        copy_uid = cloned["release"]["uid"]
        dry = data_of(await client.call_tool("delete_release", {"release_uid": copy_uid, "dry_run": True}))
        assert copy_uid in fake.releases
        # Deleting needs a yes by default: the first call answers a token, the second carries it.
        asked = data_of(await client.call_tool("delete_release", {"release_uid": copy_uid}))
        token = asked["confirmation"]["confirmation_token"]
        deleted = data_of(
            await client.call_tool("delete_release", {"release_uid": copy_uid, "confirmation_token": token})
        )
        locked = await client.call_tool("delete_release", {"release_uid": uid})
    assert cloned["release"]["name"] == "R copy"
    assert cloned["plan"]["items"] == ["entry blog_post/post1 (en-us)", "entry blog_post/post2 (en-us)"]
    assert dry["deleted"] is False
    assert deleted["deleted"] is True
    assert copy_uid not in fake.releases
    assert locked.is_error
    assert uid in fake.releases


async def test_asset_items_are_released_with_their_latest_version() -> None:
    fake = FakeCMA()
    uid = fake.add_release("R", [])
    async with make_client(fake, "publisher") as client:
        data_of(
            await client.call_tool(
                "add_release_items", {"release_uid": uid, "items": [{"type": "asset", "uid": "asset1"}]}
            )
        )
        bad = await client.call_tool(
            "add_release_items", {"release_uid": uid, "items": [{"type": "entry", "uid": "post1"}]}
        )
    assert json.loads(fake.writes[0].content)["items"] == [
        {"uid": "asset1", "content_type_uid": "built_io_upload", "version": 2, "locale": "en-us", "action": "publish"}
    ]
    assert bad.is_error


def confirming_policy() -> Policy:
    """Built-in roles; deletes of releases and anything touching production need a human's yes."""
    return Policy(
        roles=resolve_roles(dict(BUILTIN_ROLE_SPECS)),
        confirm=ConfirmSpec(environments=["production"], tools=["delete_release"], fallback="token"),
    )


async def test_delete_release_waits_for_confirmation_then_deletes_with_the_token() -> None:
    fake = FakeCMA()
    uid = fake.add_release("Old", [])
    async with make_client(fake, "admin", Guard(confirming_policy())) as client:
        asked = data_of(await client.call_tool("delete_release", {"release_uid": uid}))
        assert fake.writes == []
        token = asked["confirmation"]["confirmation_token"]
        done = data_of(await client.call_tool("delete_release", {"release_uid": uid, "confirmation_token": token}))
    assert asked["deleted"] is False
    assert asked["verdict"]["decision"] == "confirm"
    assert uid in asked["confirmation"]["preview"]
    assert done["deleted"] is True
    assert done["verdict"]["decision"] == "confirmed"
    assert [w.method for w in fake.writes] == ["DELETE"]


async def test_a_deploy_to_a_confirmed_environment_reports_the_preflight_and_waits_for_the_token() -> None:
    fake = FakeCMA()
    fake.add_entry("blog_post", "post1", version=2)
    uid = fake.add_release("R", [post_item("post1", version=1)])
    args = {"release_uid": uid, "environments": ["production"]}
    async with make_client(fake, "admin", Guard(confirming_policy())) as client:
        asked = data_of(await client.call_tool("deploy_release", args))
        assert fake.writes == []
        token = asked["confirmation"]["confirmation_token"]
        other = await client.call_tool("deploy_release", {**args, "action": "unpublish", "confirmation_token": token})
        assert other.is_error
        done = data_of(await client.call_tool("deploy_release", {**args, "confirmation_token": token}))
    assert asked["preflight"]["stale_count"] == 1
    assert asked["notice"] is None
    assert done["notice"] == "Release sent successfully for deployment."
    assert [w.url.path for w in fake.writes] == [
        f"/v3/releases/{uid}",
        f"/v3/releases/{uid}/deploy",
        f"/v3/releases/{uid}",
    ]


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("create_release", {"name": "Spring"}),
        ("update_release", {"name": "Renamed"}),
        ("add_release_items", {"items": [{"type": "entry", "content_type": "blog_post", "uid": "post1"}]}),
        ("remove_release_items", {"all": True}),
        ("clone_release", {"name": "Copy"}),
    ],
)
async def test_a_release_edit_listed_under_confirm_waits_for_the_token_then_runs(
    tool: str, arguments: dict[str, Any]
) -> None:
    fake = FakeCMA()
    uid = fake.add_release("Old", [post_item("post0")])
    if tool != "create_release":
        arguments = {"release_uid": uid, **arguments}
    policy = Policy(roles=resolve_roles(dict(BUILTIN_ROLE_SPECS)), confirm=ConfirmSpec(tools=[tool], fallback="token"))
    async with make_client(fake, "admin", Guard(policy)) as client:
        asked = data_of(await client.call_tool(tool, arguments))
        assert fake.writes == []
        token = asked["confirmation"]["confirmation_token"]
        done = data_of(await client.call_tool(tool, {**arguments, "confirmation_token": token}))
    assert asked["verdict"]["decision"] == "confirm"
    assert done["verdict"]["decision"] == "confirmed"
    assert fake.writes != []


async def test_a_confirmed_remove_all_does_not_run_once_the_release_holds_more_items() -> None:
    fake = FakeCMA()
    uid = fake.add_release("Small", [post_item("post0")])
    policy = Policy(
        roles=resolve_roles(dict(BUILTIN_ROLE_SPECS)),
        confirm=ConfirmSpec(tools=["remove_release_items"], fallback="token"),
    )
    async with make_client(fake, "admin", Guard(policy)) as client:
        asked = data_of(await client.call_tool("remove_release_items", {"release_uid": uid, "all": True}))
        fake.releases[uid]["items"].append(post_item("post1"))  # someone adds an item meanwhile
        stale = await client.call_tool(
            "remove_release_items",
            {"release_uid": uid, "all": True, "confirmation_token": asked["confirmation"]["confirmation_token"]},
        )
    assert stale.is_error
    assert fake.writes == []


class GrowingCMA(FakeCMA):
    """A CMA on which someone adds an item to the release right after the tool first reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.item_reads = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        answer = super().__call__(request)
        if request.method == "GET" and request.url.path.endswith("/items"):
            self.item_reads += 1
            if self.item_reads == 1:
                uid = request.url.path.split("/")[-2]
                self.releases[uid]["items"].append(post_item("post9"))
        return answer


async def test_a_release_that_changes_between_the_check_and_the_deploy_is_not_deployed() -> None:
    fake = GrowingCMA()
    uid = fake.add_release("Moving", [post_item("post0")])
    async with make_client(fake) as client:
        result = await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["development"]})
    assert result.is_error
    assert not any(w.url.path.endswith("/deploy") for w in fake.writes)


async def test_a_confirmed_delete_does_not_run_once_the_release_holds_more_items() -> None:
    fake = FakeCMA()
    uid = fake.add_release("Small", [post_item("post0")])
    async with make_client(fake, "admin", Guard(confirming_policy())) as client:
        asked = data_of(await client.call_tool("delete_release", {"release_uid": uid}))
        fake.releases[uid]["items"].append(post_item("post1"))  # someone adds an item meanwhile
        stale = await client.call_tool(
            "delete_release", {"release_uid": uid, "confirmation_token": asked["confirmation"]["confirmation_token"]}
        )
    assert stale.is_error
    assert fake.writes == []
