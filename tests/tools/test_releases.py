"""The releases toolset through an in-memory client on the sandbox: listing, reading, creating
and editing releases, locks, deploys with their preflight, clones, deletes and confirmations.
Faults a test is about (a failure midway, a release that changes under the call) are injected in
front of the sandbox with httpx2.MockTransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx2
import pytest
from mcp import Client
from mcp.client.client import ConnectMode

from cs_mcp.client import ASSET_CONTENT_TYPE
from cs_mcp.guard import Guard, Policy, builtin_policy
from cs_mcp.guard.policy import BUILTIN_ROLE_SPECS, ConfirmSpec, RoleSpec, resolve_roles
from cs_mcp.guard.scopes import Scope
from tests.conftest import Fault, SandboxStack
from tests.helpers import text_of

pytestmark = pytest.mark.anyio

ARTICLE_SCHEMA: list[dict[str, Any]] = [
    {"uid": "title", "data_type": "text", "mandatory": True},
    {"uid": "author", "data_type": "reference", "reference_to": ["writer"]},
    {
        "uid": "seo",
        "data_type": "group",
        "schema": [{"uid": "related", "data_type": "reference", "reference_to": ["article"]}],
    },
]
TITLE_ONLY: list[dict[str, Any]] = [{"uid": "title", "data_type": "text", "mandatory": True}]


@pytest.fixture
def stack(on_sandbox: SandboxStack) -> SandboxStack:
    """The sandbox with articles art0..art59, writers a1 (live in development and staging) and
    a2, a gadget p1 and an asset asset1 (version 2)."""
    on_sandbox.save_content_type("article", ARTICLE_SCHEMA)
    on_sandbox.save_content_type("writer", TITLE_ONLY)
    on_sandbox.save_content_type("gadget", TITLE_ONLY)
    for i in range(60):
        on_sandbox.save_entry("article", f"art{i}", {"title": f"art{i}"})
    on_sandbox.save_entry("writer", "a1", {"title": "a1"})
    on_sandbox.save_entry("writer", "a2", {"title": "a2"})
    on_sandbox.save_entry("gadget", "p1", {"title": "p1"})
    for environment in ("development", "staging"):
        on_sandbox.publish("writer", "a1", environment)
    on_sandbox.save_asset("asset1", versions=2)
    return on_sandbox


def item(uid: str, version: int = 1, locale: str = "en-us", ct: str = "article") -> dict[str, Any]:
    return {"uid": uid, "version": version, "locale": locale, "content_type_uid": ct, "action": "publish"}


def entry_input(uid: str, ct: str = "article") -> dict[str, Any]:
    return {"type": "entry", "content_type": ct, "uid": uid}


def grows_after_the_first_read(stack: SandboxStack, uid: str, added: dict[str, Any]) -> Fault:
    """A fault that adds `added` to release `uid` right after the call's first read of its items,
    as someone else would meanwhile."""
    item_reads: list[str] = []

    async def fault(request: httpx2.Request) -> httpx2.Response | None:
        answer = await stack.transport.handle_async_request(request)
        if request.method == "GET" and request.url.path.endswith("/items"):
            item_reads.append(request.url.path)
            if len(item_reads) == 1:
                stack.add_release_item(uid, added)
        return answer

    return fault


def restricted_policy() -> Policy:
    """A publisher limited to articles and writers, in development and staging."""
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["article-publisher"] = RoleSpec(
        inherits=["publisher"], content_types=["article", "writer"], environments=["development", "staging"]
    )
    return Policy(roles=resolve_roles(specs))


def confirming_policy() -> Policy:
    """Built-in roles; deletes of releases and anything touching production need a human's yes."""
    return Policy(
        roles=resolve_roles(dict(BUILTIN_ROLE_SPECS)),
        confirm=ConfirmSpec(environments=["production"], tools=["delete_release"], fallback="token"),
    )


def make_client(
    stack: SandboxStack, role: str = "admin", guard: Guard | None = None, fault: Fault | None = None
) -> Client:
    return stack.client(role, guard=guard or Guard(builtin_policy()), fault=fault)


def data_of(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    return cast(dict[str, Any], result.structured_content)


def writes(stack: SandboxStack) -> list[httpx2.Request]:
    return [r for r in stack.transport.requests if r.method != "GET"]


def release_exists(stack: SandboxStack, uid: str) -> bool:
    return bool(stack.rows("SELECT uid FROM releases WHERE uid = ?", uid))


async def test_list_releases_pages_with_a_cursor_and_reports_the_total(stack: SandboxStack) -> None:
    before = len(stack.rows("SELECT uid FROM releases"))
    for n in range(3):
        stack.add_release(f"R{n}", [item("art1")])
    async with make_client(stack, "viewer") as client:
        first = data_of(await client.call_tool("list_releases", {"limit": 2}))
        second = data_of(await client.call_tool("list_releases", {"limit": 2, "cursor": first["next_cursor"]}))
    assert [r["name"] for r in first["releases"]] == ["R2", "R1"]
    assert first["total"] == before + 3
    assert first["releases"][0]["items_count"] == 1
    assert second["releases"][0]["name"] == "R0"


async def test_get_release_says_which_items_have_a_newer_entry_version(stack: SandboxStack) -> None:
    for _ in range(3):
        stack.save_entry("article", "art1", {"title": "art1"})
    uid = stack.add_release("R", [item("art0"), item("art1", version=2), item("gone")])
    async with make_client(stack, "viewer") as client:
        data = data_of(await client.call_tool("get_release", {"release_uid": uid}))
    items = {i["uid"]: i for i in data["items"]}
    assert items["art0"]["newer_version_exists"] is False
    assert (items["art1"]["version"], items["art1"]["latest_version"]) == (2, 4)
    assert items["art1"]["newer_version_exists"] is True
    assert items["gone"]["newer_version_exists"] is None
    assert items["gone"]["note"]
    assert data["items_page"]["total"] == 3
    assert data["release"]["items_count"] == 3


async def test_get_release_of_an_unknown_uid_is_a_tool_error(stack: SandboxStack) -> None:
    async with make_client(stack, "viewer") as client:
        result = await client.call_tool("get_release", {"release_uid": "nope"})
    assert result.is_error
    assert "list_releases" in text_of(result)


async def test_create_release_with_60_items_sends_one_create_and_three_item_requests(stack: SandboxStack) -> None:
    items = [entry_input(f"art{i}") for i in range(60)]
    async with make_client(stack, "publisher") as client:
        data = data_of(await client.call_tool("create_release", {"name": "Spring", "items": items}))
    uid = data["release"]["uid"]
    assert [(w.method, w.url.path) for w in writes(stack)] == [("POST", "/cma/v3/releases")] + [
        ("POST", f"/cma/v3/releases/{uid}/items")
    ] * 3
    assert [len(json.loads(w.content)["items"]) for w in writes(stack)[1:]] == [25, 25, 10]
    assert data["items_added"] == 60
    assert stack.release_items(uid) == [f"art{i}" for i in range(60)]
    (first,) = stack.rows(
        "SELECT version, locale, action FROM release_items WHERE release_uid = ? AND uid = 'art0'", uid
    )
    assert (first["version"], first["locale"], first["action"]) == (1, "en-us", "publish")


async def test_a_failure_midway_says_how_many_items_were_added_and_how_to_go_on(stack: SandboxStack) -> None:
    answered: list[str] = []

    async def third_item_request_fails(request: httpx2.Request) -> httpx2.Response | None:
        if request.method == "POST" and request.url.path.endswith("/items"):
            answered.append(request.url.path)
            if len(answered) == 3:
                return httpx2.Response(500, json={"error_message": "Something went wrong.", "error_code": 500})
        return None

    items = [entry_input(f"art{i}") for i in range(60)]
    async with make_client(stack, "publisher", fault=third_item_request_fails) as client:
        result = await client.call_tool("create_release", {"name": "Half", "items": items})
    assert result.is_error
    assert "add_release_items" in text_of(result)
    (created,) = stack.rows("SELECT uid FROM releases WHERE name = 'Half'")
    assert len(stack.release_items(created["uid"])) == 50
    # The failed write was not repeated: a 5xx to a write may have half-happened.
    assert len(answered) == 3


async def test_a_dry_run_create_answers_the_plan_and_sends_nothing(stack: SandboxStack) -> None:
    items = [entry_input(f"art{i}") for i in range(30)]
    async with make_client(stack, "publisher") as client:
        data = data_of(await client.call_tool("create_release", {"name": "Plan", "items": items, "dry_run": True}))
    assert writes(stack) == []
    assert data["dry_run"] is True
    assert [r["path"] for r in data["plan"]["requests"]] == ["/v3/releases"] + [
        "/v3/releases/{new release uid}/items"
    ] * 2
    assert data["plan"]["targets"]["content_type"] == ["article"]
    assert data["release"] is None


async def test_an_item_that_does_not_exist_stops_the_create_before_anything_is_sent(stack: SandboxStack) -> None:
    async with make_client(stack, "publisher") as client:
        result = await client.call_tool(
            "create_release", {"name": "R", "items": [entry_input("art1"), entry_input("missing")]}
        )
    assert result.is_error
    assert "missing" in text_of(result)
    assert writes(stack) == []


async def test_a_viewer_cannot_create_a_release(stack: SandboxStack) -> None:
    async with make_client(stack, "viewer") as client:
        result = await client.call_tool("create_release", {"name": "R"})
    assert result.is_error
    assert writes(stack) == []


async def test_the_guard_refuses_items_outside_the_roles_content_types_naming_the_item(stack: SandboxStack) -> None:
    uid = stack.add_release("R", [])
    items = [entry_input("art1"), entry_input("p1", "gadget")]
    async with make_client(stack, "article-publisher", Guard(restricted_policy())) as client:
        result = await client.call_tool("add_release_items", {"release_uid": uid, "items": items})
    assert result.is_error
    assert "gadget/p1" in text_of(result)
    assert writes(stack) == []


def entry_releaser_guard() -> Guard:
    """A role that may put entries in releases, and assets not at all (no `cm.asset:publish`)."""
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["entry-releaser"] = RoleSpec(
        inherits=["viewer"], scopes=["cm.entry:write", "cm.entry:publish", "cm.release:write"]
    )
    return Guard(Policy(roles=resolve_roles(specs)))


@pytest.mark.parametrize("tool", ["add_release_items", "create_release"])
async def test_an_asset_named_as_an_entry_of_the_asset_pseudo_content_type_needs_the_asset_publish_scope(
    stack: SandboxStack, tool: str
) -> None:
    # Contentstack names a release's assets with the pseudo content type built_io_upload: an
    # "entry" of it is the asset, and putting it in a release needs what an asset needs.
    uid = stack.add_release("R", [])
    disguised = {"type": "entry", "content_type": "built_io_upload", "uid": "asset1"}
    arguments = {"release_uid": uid} if tool == "add_release_items" else {"name": "R2"}
    async with make_client(stack, "entry-releaser", entry_releaser_guard()) as client:
        before = len(stack.transport.requests)
        result = await client.call_tool(tool, {**arguments, "items": [disguised]})
    assert result.is_error
    # Refused for its scopes before anything is read, as any write the role may not make.
    assert stack.transport.requests[before:] == []
    assert stack.release_items(uid) == []


async def test_a_locked_release_refuses_edits_until_unlocked(stack: SandboxStack) -> None:
    uid = stack.add_release("Frozen", [item("art1")], locked=True)
    new = [entry_input("art2")]
    async with make_client(stack, "publisher") as client:
        rename = await client.call_tool("update_release", {"release_uid": uid, "name": "New"})
        add = await client.call_tool("add_release_items", {"release_uid": uid, "items": new})
        remove = await client.call_tool("remove_release_items", {"release_uid": uid, "all": True})
        assert writes(stack) == []
        unlocked = data_of(await client.call_tool("update_release", {"release_uid": uid, "locked": False}))
        added = data_of(await client.call_tool("add_release_items", {"release_uid": uid, "items": new}))
    for refused in (rename, add, remove):
        assert refused.is_error
        assert "locked=false" in text_of(refused)
    assert unlocked["release"]["locked"] is False
    assert added["items_changed"] == 1
    assert stack.release_items(uid) == ["art1", "art2"]


async def test_locking_a_release_resends_its_name_and_description_as_the_documented_update_body(
    stack: SandboxStack,
) -> None:
    uid = stack.add_release("Spring", [])
    async with make_client(stack, "publisher") as client:
        data_of(await client.call_tool("update_release", {"release_uid": uid, "description": "The spring campaign"}))
        stack.forget_requests()
        data_of(await client.call_tool("update_release", {"release_uid": uid, "locked": True}))
    (put,) = writes(stack)
    assert json.loads(put.content) == {
        "release": {"name": "Spring", "description": "The spring campaign", "locked": True}
    }
    (row,) = stack.rows("SELECT name, description, locked FROM releases WHERE uid = ?", uid)
    assert (row["name"], row["description"], row["locked"]) == ("Spring", "The spring campaign", 1)


async def test_locking_an_already_locked_release_sends_nothing(stack: SandboxStack) -> None:
    uid = stack.add_release("Frozen", [], locked=True)
    async with make_client(stack, "publisher") as client:
        data = data_of(await client.call_tool("update_release", {"release_uid": uid, "locked": True}))
    assert writes(stack) == []
    assert data["notice"]
    assert data["written"] is False


async def test_remove_release_items_sends_the_stored_items_and_lists_those_not_found(stack: SandboxStack) -> None:
    uid = stack.add_release("R", [item("art1"), item("art2")])
    wanted = [entry_input("art1"), entry_input("art9")]
    async with make_client(stack, "publisher") as client:
        data = data_of(await client.call_tool("remove_release_items", {"release_uid": uid, "items": wanted}))
        both = await client.call_tool("remove_release_items", {"release_uid": uid, "items": wanted, "all": True})
    assert [i["uid"] for i in json.loads(writes(stack)[0].content)["items"]] == ["art1"]
    assert data["items_changed"] == 1
    assert data["not_in_release"] == ["entry article/art9"]
    assert stack.release_items(uid) == ["art2"]
    assert both.is_error


async def test_remove_all_items_names_every_item_it_read_25_a_request(stack: SandboxStack) -> None:
    uid = stack.add_release("R", [item(f"art{i}") for i in range(30)])
    async with make_client(stack, "publisher") as client:
        data = data_of(await client.call_tool("remove_release_items", {"release_uid": uid, "all": True}))
    first, second = writes(stack)
    assert "all" not in first.url.params
    assert "all" not in second.url.params
    assert [i["uid"] for i in json.loads(first.content)["items"]] == [f"art{i}" for i in range(25)]
    assert [i["uid"] for i in json.loads(second.content)["items"]] == [f"art{i}" for i in range(25, 30)]
    assert data["items_changed"] == 30
    assert stack.release_items(uid) == []


async def test_remove_all_from_an_empty_release_sends_nothing_and_says_no_write_was_made(stack: SandboxStack) -> None:
    uid = stack.add_release("Empty", [])
    async with make_client(stack, "publisher") as client:
        data = data_of(await client.call_tool("remove_release_items", {"release_uid": uid, "all": True}))
    assert writes(stack) == []
    assert data["written"] is False
    assert data["items_changed"] == 0
    assert data["notice"]


async def test_remove_all_leaves_an_item_added_after_the_read_that_the_guard_never_saw(stack: SandboxStack) -> None:
    uid = stack.add_release("R", [item("art0")])
    # A gadget, outside the role's content types, is added right after the read.
    grows = grows_after_the_first_read(stack, uid, item("p1", ct="gadget"))
    async with make_client(stack, "article-publisher", Guard(restricted_policy()), grows) as client:
        data = data_of(await client.call_tool("remove_release_items", {"release_uid": uid, "all": True}))
    assert data["items_changed"] == 1
    assert stack.release_items(uid) == ["p1"]


async def test_deploy_reports_a_preflight_with_stale_items_and_missing_references(stack: SandboxStack) -> None:
    for version in (2, 3):
        stack.save_entry(
            "article", "art1", {"title": f"v{version}", "author": [{"uid": "a1", "_content_type_uid": "writer"}]}
        )
    stack.save_entry("article", "art2", {"title": "art2", "author": [{"uid": "a2", "_content_type_uid": "writer"}]})
    stack.save_entry(
        "article", "art3", {"title": "art3", "seo": {"related": [{"uid": "art4", "_content_type_uid": "article"}]}}
    )
    stack.save_entry("article", "art5", {"title": "art5", "author": [{"uid": "ghost", "_content_type_uid": "writer"}]})
    uid = stack.add_release(
        "R",
        [item("art1", version=2), item("art2", 2), item("art3", 2), item("art4"), item("art5", 2), item("vanished")],
    )
    async with make_client(stack, "publisher") as client:
        data = data_of(await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["staging"]}))
    preflight = data["preflight"]
    assert [(s["uid"], s["version_in_release"], s["latest_version"]) for s in preflight["stale_items"]] == [
        ("art1", 2, 3)
    ]
    missing = {(m["uid"], m["reason"]): m for m in preflight["missing_references"]}
    # a1 is published in staging; art4 is in the release; a2 and ghost are not.
    assert set(missing) == {("a2", "not_published"), ("ghost", "missing")}
    assert missing[("a2", "not_published")]["item"] == "entry article/art2 (en-us)"
    assert missing[("a2", "not_published")]["field"] == "author"
    assert missing[("a2", "not_published")]["environments"] == ["staging"]
    checks = {c["check"]: c["ok"] for c in preflight["checks"]}
    assert checks["release is not empty"] is True
    assert checks["every item's entry still exists"] is False
    assert checks["items are at their entry's latest version"] is False
    assert checks["referenced entries are published or in the release"] is False
    # The release is locked for the deploy and unlocked after.
    lock, deploy, unlock = writes(stack)
    assert deploy.url.path == f"/cma/v3/releases/{uid}/deploy"
    assert json.loads(lock.content)["release"]["locked"] is True
    assert json.loads(unlock.content)["release"]["locked"] is False
    # The documented body always names locales: the items' own when the caller gives none.
    assert json.loads(deploy.content) == {
        "release": {"environments": ["staging"], "action": "publish", "locales": ["en-us"]}
    }
    assert data["notice"]
    assert stack.rows("SELECT locked FROM releases WHERE uid = ?", uid) == [{"locked": 0}]


async def test_a_dry_run_deploy_reports_the_preflight_and_sends_nothing(stack: SandboxStack) -> None:
    for _ in range(4):
        stack.save_entry("article", "art1", {"title": "art1"})
    uid = stack.add_release("R", [item("art1", version=1)])
    async with make_client(stack, "publisher") as client:
        data = data_of(
            await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["staging"], "dry_run": True})
        )
    assert writes(stack) == []
    assert data["dry_run"] is True
    assert data["preflight"]["stale_count"] == 1
    assert data["notice"] is None


async def test_a_scheduled_deploy_sends_the_time_in_utc_and_a_past_time_is_refused(stack: SandboxStack) -> None:
    uid = stack.add_release("R", [item("art1")])
    later = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    earlier = datetime.now(UTC) - timedelta(hours=1)
    async with make_client(stack, "publisher") as client:
        args = {"release_uid": uid, "environments": ["staging"]}
        data = data_of(
            await client.call_tool("deploy_release", {**args, "scheduled_at": later.astimezone().isoformat()})
        )
        past = await client.call_tool("deploy_release", {**args, "scheduled_at": earlier.isoformat()})
        naive = await client.call_tool("deploy_release", {**args, "scheduled_at": "2999-01-01T00:00:00"})
        garbage = await client.call_tool("deploy_release", {**args, "scheduled_at": "tomorrow"})
    # A scheduled deploy leaves the release it locked locked: lock, then deploy, and no unlock.
    assert [w.method for w in writes(stack)] == ["PUT", "POST"]
    sent = json.loads(writes(stack)[1].content)["release"]["scheduled_at"]
    assert sent == later.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert data["scheduled_at"] == sent
    assert stack.rows("SELECT status FROM publish_queue WHERE release_uid = ?", uid) == [{"status": "scheduled"}]
    assert past.is_error
    assert naive.is_error
    assert garbage.is_error


async def test_deploy_refuses_an_empty_release_and_an_unknown_environment(stack: SandboxStack) -> None:
    empty = stack.add_release("Empty", [])
    full = stack.add_release("Full", [item("art1")])
    async with make_client(stack, "publisher") as client:
        nothing = await client.call_tool("deploy_release", {"release_uid": empty, "environments": ["staging"]})
        nowhere = await client.call_tool("deploy_release", {"release_uid": full, "environments": ["prod"]})
    assert nothing.is_error
    assert "add_release_items" in text_of(nothing)
    assert nowhere.is_error
    assert "production" in text_of(nowhere)
    assert writes(stack) == []


async def test_the_guard_refuses_a_deploy_because_of_one_item_and_sends_nothing(stack: SandboxStack) -> None:
    uid = stack.add_release("R", [item(f"art{i}") for i in range(10)] + [item("p1", ct="gadget")])
    async with make_client(stack, "article-publisher", Guard(restricted_policy())) as client:
        result = await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["staging"]})
        outside = await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["production"]})
    assert result.is_error
    assert "gadget/p1" in text_of(result)
    assert outside.is_error
    assert writes(stack) == []


async def test_clone_copies_the_release_and_delete_removes_one(stack: SandboxStack) -> None:
    uid = stack.add_release("R", [item("art1"), item("art2")], locked=True)
    async with make_client(stack, "admin") as client:
        cloned = data_of(await client.call_tool("clone_release", {"release_uid": uid, "name": "R copy"}))
        copy_uid = cloned["release"]["uid"]
        dry = data_of(await client.call_tool("delete_release", {"release_uid": copy_uid, "dry_run": True}))
        assert release_exists(stack, copy_uid)
        # Deleting needs a yes by default: the first call answers a token, the second carries it.
        asked = data_of(await client.call_tool("delete_release", {"release_uid": copy_uid}))
        token = asked["confirmation"]["confirmation_token"]
        deleted = data_of(
            await client.call_tool("delete_release", {"release_uid": copy_uid, "confirmation_token": token})
        )
        locked = await client.call_tool("delete_release", {"release_uid": uid})
    assert cloned["release"]["name"] == "R copy"
    assert cloned["plan"]["items"] == ["entry article/art1 (en-us)", "entry article/art2 (en-us)"]
    assert dry["deleted"] is False
    assert deleted["deleted"] is True
    assert not release_exists(stack, copy_uid)
    assert locked.is_error
    assert release_exists(stack, uid)


async def test_asset_items_are_released_with_their_latest_version(stack: SandboxStack) -> None:
    uid = stack.add_release("R", [])
    async with make_client(stack, "publisher") as client:
        data_of(
            await client.call_tool(
                "add_release_items", {"release_uid": uid, "items": [{"type": "asset", "uid": "asset1"}]}
            )
        )
        bad = await client.call_tool(
            "add_release_items", {"release_uid": uid, "items": [{"type": "entry", "uid": "art1"}]}
        )
    assert json.loads(writes(stack)[0].content)["items"] == [
        {"uid": "asset1", "content_type_uid": "built_io_upload", "version": 2, "locale": "en-us", "action": "publish"}
    ]
    assert stack.release_items(uid) == ["asset1"]
    assert bad.is_error


async def test_delete_release_waits_for_confirmation_then_deletes_with_the_token(stack: SandboxStack) -> None:
    uid = stack.add_release("Old", [])
    async with make_client(stack, "admin", Guard(confirming_policy())) as client:
        asked = data_of(await client.call_tool("delete_release", {"release_uid": uid}))
        assert writes(stack) == []
        token = asked["confirmation"]["confirmation_token"]
        done = data_of(await client.call_tool("delete_release", {"release_uid": uid, "confirmation_token": token}))
    assert asked["deleted"] is False
    assert asked["verdict"]["decision"] == "confirm"
    assert uid in asked["confirmation"]["preview"]
    assert done["deleted"] is True
    assert done["verdict"]["decision"] == "confirmed"
    assert [w.method for w in writes(stack)] == ["DELETE"]
    assert not release_exists(stack, uid)


async def test_a_deploy_to_a_confirmed_environment_reports_the_preflight_and_waits_for_the_token(
    stack: SandboxStack,
) -> None:
    stack.save_entry("article", "art1", {"title": "art1"})
    uid = stack.add_release("R", [item("art1", version=1)])
    args = {"release_uid": uid, "environments": ["production"]}
    async with make_client(stack, "admin", Guard(confirming_policy())) as client:
        asked = data_of(await client.call_tool("deploy_release", args))
        assert writes(stack) == []
        token = asked["confirmation"]["confirmation_token"]
        other = await client.call_tool("deploy_release", {**args, "action": "unpublish", "confirmation_token": token})
        assert other.is_error
        done = data_of(await client.call_tool("deploy_release", {**args, "confirmation_token": token}))
    assert asked["preflight"]["stale_count"] == 1
    assert asked["notice"] is None
    assert done["notice"]
    assert [w.url.path for w in writes(stack)] == [
        f"/cma/v3/releases/{uid}",
        f"/cma/v3/releases/{uid}/deploy",
        f"/cma/v3/releases/{uid}",
    ]


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("create_release", {"name": "Spring"}),
        ("update_release", {"name": "Renamed"}),
        ("add_release_items", {"items": [entry_input("art1")]}),
        ("remove_release_items", {"all": True}),
        ("clone_release", {"name": "Copy"}),
    ],
)
async def test_a_release_edit_listed_under_confirm_waits_for_the_token_then_runs(
    stack: SandboxStack, tool: str, arguments: dict[str, Any]
) -> None:
    uid = stack.add_release("Old", [item("art0")])
    if tool != "create_release":
        arguments = {"release_uid": uid, **arguments}
    policy = Policy(roles=resolve_roles(dict(BUILTIN_ROLE_SPECS)), confirm=ConfirmSpec(tools=[tool], fallback="token"))
    async with make_client(stack, "admin", Guard(policy)) as client:
        asked = data_of(await client.call_tool(tool, arguments))
        assert writes(stack) == []
        token = asked["confirmation"]["confirmation_token"]
        done = data_of(await client.call_tool(tool, {**arguments, "confirmation_token": token}))
    assert asked["verdict"]["decision"] == "confirm"
    assert done["verdict"]["decision"] == "confirmed"
    assert done["written"] is True
    assert writes(stack) != []


async def test_a_confirmed_remove_all_does_not_run_once_the_release_holds_more_items(stack: SandboxStack) -> None:
    uid = stack.add_release("Small", [item("art0")])
    policy = Policy(
        roles=resolve_roles(dict(BUILTIN_ROLE_SPECS)),
        confirm=ConfirmSpec(tools=["remove_release_items"], fallback="token"),
    )
    async with make_client(stack, "admin", Guard(policy)) as client:
        asked = data_of(await client.call_tool("remove_release_items", {"release_uid": uid, "all": True}))
        stack.add_release_item(uid, item("art1"))  # someone adds an item meanwhile
        stale = await client.call_tool(
            "remove_release_items",
            {"release_uid": uid, "all": True, "confirmation_token": asked["confirmation"]["confirmation_token"]},
        )
    assert stale.is_error
    assert writes(stack) == []
    assert stack.release_items(uid) == ["art0", "art1"]


async def test_a_release_that_changes_between_the_check_and_the_deploy_is_not_deployed(stack: SandboxStack) -> None:
    uid = stack.add_release("Moving", [item("art0")])
    async with make_client(stack, fault=grows_after_the_first_read(stack, uid, item("art9"))) as client:
        result = await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["development"]})
    assert result.is_error
    assert not any(w.url.path.endswith("/deploy") for w in writes(stack))


async def test_a_confirmed_delete_does_not_run_once_the_release_holds_more_items(stack: SandboxStack) -> None:
    uid = stack.add_release("Small", [item("art0")])
    async with make_client(stack, "admin", Guard(confirming_policy())) as client:
        asked = data_of(await client.call_tool("delete_release", {"release_uid": uid}))
        stack.add_release_item(uid, item("art1"))  # someone adds an item meanwhile
        stale = await client.call_tool(
            "delete_release", {"release_uid": uid, "confirmation_token": asked["confirmation"]["confirmation_token"]}
        )
    assert stale.is_error
    assert writes(stack) == []
    assert release_exists(stack, uid)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(
    ("tool", "arguments"),
    [("delete_release", {}), ("update_release", {"locked": True}), ("clone_release", {"name": "Copy"})],
)
async def test_a_release_given_an_item_beyond_the_role_while_its_human_agrees_is_not_edited(
    stack: SandboxStack, mode: ConnectMode, tool: str, arguments: dict[str, Any]
) -> None:
    uid = stack.add_release("Small", [item("art0")])
    releases = stack.rows("SELECT uid FROM releases ORDER BY uid")
    policy = restricted_policy()
    guard = Guard(Policy(roles=policy.roles, confirm=ConfirmSpec(tools=[tool])))
    refusal = await stack.refused_after_agreeing(
        lambda: stack.add_release_item(uid, item("p1", ct="gadget")),
        tool,
        {"release_uid": uid, **arguments},
        role="article-publisher",
        guard=guard,
        toolsets="releases",
        mode=mode,
    )
    assert "gadget" in refusal
    assert stack.rows("SELECT uid FROM releases ORDER BY uid") == releases  # none deleted, none copied


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(
    "added",
    [
        item("blt_logo", ct=ASSET_CONTENT_TYPE),  # needs the asset scopes the role lacks
        item("art1"),  # within the role's limits, but not among the items the plan listed
    ],
)
async def test_a_release_given_an_item_while_its_human_agrees_is_not_cloned(
    stack: SandboxStack, mode: ConnectMode, added: dict[str, Any]
) -> None:
    uid = stack.add_release("Small", [item("art0")])
    releases = stack.rows("SELECT uid FROM releases ORDER BY uid")
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["entry-releaser"] = RoleSpec(inherits=["editor"], scopes=[Scope.ENTRY_PUBLISH, Scope.RELEASE_CLONE])
    guard = Guard(Policy(roles=resolve_roles(specs), confirm=ConfirmSpec(tools=["clone_release"])))
    # Refused whichever way the human was asked: mid-call, by the second read; between two calls,
    # by the second call's check of what the release holds then.
    await stack.refused_after_agreeing(
        lambda: stack.add_release_item(uid, added),
        "clone_release",
        {"release_uid": uid, "name": "Copy"},
        role="entry-releaser",
        guard=guard,
        toolsets="releases",
        mode=mode,
    )
    assert stack.rows("SELECT uid FROM releases ORDER BY uid") == releases  # none copied
