"""Releases end to end: the MCP tools, the client and the sandbox over real loopback HTTP.

A release of 60 entries is created (one create and three item requests of at most 25), locked,
deployed to staging, and its entries are then served by the CDA in staging only; it is cloned
and the clone deleted; a deploy is refused by the guard because of one item; and the deploy
preflight reports a stale item version and a reference that will not resolve.
"""

from __future__ import annotations

from typing import Any, cast

import httpx2
import pytest

from cs_mcp.client import Api, ContentstackClient, NotFoundError
from cs_mcp.config import Settings
from cs_mcp.guard import Guard, PermitAuthority, Policy
from cs_mcp.guard.policy import BUILTIN_ROLE_SPECS, RoleSpec, resolve_roles
from cs_mcp.sandbox import store
from cs_mcp.sandbox.runner import RunningSandbox
from tests.helpers import structured, text_of
from tests.integration._mcp import mcp_client

pytestmark = pytest.mark.anyio


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Real HTTP to the sandbox, keeping the method and path of every request sent."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self.sent: list[tuple[str, str]] = []
        self._closed = False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append((request.method, request.url.path))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        # The client closes one pool per API, all sharing this transport.
        if not self._closed:
            self._closed = True
            await self._inner.aclose()

    def count(self, method: str, path_end: str) -> int:
        return sum(1 for m, p in self.sent if m == method and p.endswith(path_end))


def blog_publisher_policy() -> Policy:
    """A publisher who may release blog posts and authors only."""
    specs = dict(BUILTIN_ROLE_SPECS)
    specs["blog-publisher"] = RoleSpec(inherits=["publisher"], content_types=["blog_post", "author"])
    return Policy(roles=resolve_roles(specs))


def save_entry(sandbox: RunningSandbox, content_type: str, uid: str, version: int = 1, **fields: Any) -> None:
    """Stores a new version of an entry straight in the sandbox, published nowhere."""
    now = store.iso(sandbox.state.clock.now())
    entry: dict[str, Any] = {
        "uid": uid,
        "locale": "en-us",
        "_version": version,
        "created_at": now,
        "updated_at": now,
        "created_by": "tester",
        "updated_by": "tester",
        "tags": [],
        "title": f"{uid} v{version}",
        **fields,
    }
    with sandbox.state.db.transaction() as conn:
        store.save_entry(conn, content_type, entry)


def fresh_posts(sandbox: RunningSandbox, count: int, prefix: str) -> list[str]:
    uids = [f"blt{prefix}{i:03d}" for i in range(count)]
    for uid in uids:
        save_entry(sandbox, "blog_post", uid, publish_date="2024-01-01")
    return uids


def posts_and_a_product(sandbox: RunningSandbox, posts: list[str]) -> tuple[str, list[dict[str, str]]]:
    """Release items of the posts plus one product (a content type the blog publisher may not
    touch), and that product's uid."""
    with sandbox.state.db.read() as conn:
        product = store.entry_uids(conn, "product")[0]
    items = [{"type": "entry", "content_type": "blog_post", "uid": uid} for uid in posts]
    return product, [*items, {"type": "entry", "content_type": "product", "uid": product}]


async def served_by_cda(client: ContentstackClient, uid: str, environment: str) -> dict[str, Any] | None:
    try:
        body = await client.request(
            Api.CDA,
            "GET",
            ["content_types", "blog_post", "entries", uid],
            params={"environment": environment, "locale": "en-us"},
            environment=environment,
        )
    except NotFoundError:
        return None
    return cast(dict[str, Any], body["entry"])


async def test_a_release_of_60_items_is_created_locked_deployed_to_staging_cloned_and_deleted(
    sandbox: RunningSandbox,
) -> None:
    posts = fresh_posts(sandbox, 60, "flow")
    transport = RecordingTransport()
    items = [{"type": "entry", "content_type": "blog_post", "uid": uid} for uid in posts]
    async with mcp_client(sandbox, "publisher", transport=transport) as client:
        created = structured(await client.call_tool("create_release", {"name": "Launch", "items": items}))
        uid = created["release"]["uid"]
        assert transport.count("POST", "/releases") == 1
        assert transport.count("POST", f"/releases/{uid}/items") == 3
        assert created["items_added"] == 60

        locked = structured(await client.call_tool("update_release", {"release_uid": uid, "locked": True}))
        assert locked["release"]["locked"] is True
        refused = await client.call_tool("remove_release_items", {"release_uid": uid, "all": True})
        assert refused.is_error
        assert "locked=false" in text_of(refused)

        deployed = structured(
            await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["staging"]})
        )
        assert deployed["notice"] == "Release sent successfully for deployment."
        assert deployed["items"] == 60
        assert deployed["preflight"]["stale_count"] == 0

        detail = structured(await client.call_tool("get_release", {"release_uid": uid, "items_limit": 100}))
        assert detail["items_page"]["total"] == 60
        assert all(item["newer_version_exists"] is False for item in detail["items"])

        cloned = structured(await client.call_tool("clone_release", {"release_uid": uid, "name": "Launch again"}))
        copy_uid = cloned["release"]["uid"]
        copy = structured(await client.call_tool("get_release", {"release_uid": copy_uid, "items_limit": 1}))
        assert copy["items_page"]["total"] == 60
        assert copy["release"]["locked"] is False

        # Deleting needs a yes by default: the first call answers a token, the second carries it.
        asked = structured(await client.call_tool("delete_release", {"release_uid": copy_uid}))
        token = asked["confirmation"]["confirmation_token"]
        deleted = structured(
            await client.call_tool("delete_release", {"release_uid": copy_uid, "confirmation_token": token})
        )
        assert deleted["deleted"] is True
        gone = await client.call_tool("get_release", {"release_uid": copy_uid})
        assert gone.is_error
        still_locked = await client.call_tool("delete_release", {"release_uid": uid})
        assert still_locked.is_error

    settings = Settings.from_env(sandbox.env())
    async with ContentstackClient(settings.client_config(), permits=PermitAuthority()) as cda:
        for post in posts:
            staged = await served_by_cda(cda, post, "staging")
            assert staged is not None, post
            assert staged["uid"] == post
            assert await served_by_cda(cda, post, "production") is None
            assert await served_by_cda(cda, post, "development") is None


async def test_the_guard_refuses_a_deploy_because_of_one_item_and_nothing_is_deployed(
    sandbox: RunningSandbox,
) -> None:
    posts = fresh_posts(sandbox, 5, "guard")
    product, items = posts_and_a_product(sandbox, posts)
    admin_transport = RecordingTransport()
    async with mcp_client(sandbox, "admin", transport=admin_transport) as admin:
        uid = structured(await admin.call_tool("create_release", {"name": "Mixed", "items": items}))["release"]["uid"]

    transport = RecordingTransport()
    async with mcp_client(
        sandbox, "blog-publisher", transport=transport, guard=Guard(blog_publisher_policy())
    ) as client:
        refused = await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["staging"]})
    assert refused.is_error
    assert f"product/{product}" in text_of(refused)
    assert transport.count("POST", f"/releases/{uid}/deploy") == 0
    assert not any(method != "GET" for method, _ in transport.sent)

    settings = Settings.from_env(sandbox.env())
    async with ContentstackClient(settings.client_config(), permits=PermitAuthority()) as cda:
        assert await served_by_cda(cda, posts[0], "staging") is None


async def test_the_deploy_preflight_reports_a_stale_version_and_a_missing_reference(sandbox: RunningSandbox) -> None:
    save_entry(sandbox, "author", "bltghostauthor")  # published nowhere
    save_entry(sandbox, "blog_post", "bltstale", publish_date="2024-01-01")
    save_entry(
        sandbox,
        "blog_post",
        "bltreferrer",
        publish_date="2024-01-01",
        author=[{"uid": "bltghostauthor", "_content_type_uid": "author"}],
    )
    save_entry(sandbox, "blog_post", "bltfine", publish_date="2024-01-01")
    items = [
        {"type": "entry", "content_type": "blog_post", "uid": uid} for uid in ("bltstale", "bltreferrer", "bltfine")
    ]
    transport = RecordingTransport()
    async with mcp_client(sandbox, "publisher", transport=transport) as client:
        uid = structured(await client.call_tool("create_release", {"name": "Checks", "items": items}))["release"]["uid"]
        # The entry moves on after it was put in the release.
        save_entry(sandbox, "blog_post", "bltstale", version=2, publish_date="2024-01-02")
        planned = structured(
            await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["staging"], "dry_run": True})
        )
        assert transport.count("POST", f"/releases/{uid}/deploy") == 0
        deployed = structured(
            await client.call_tool("deploy_release", {"release_uid": uid, "environments": ["staging"]})
        )

    for answer in (planned, deployed):
        preflight = answer["preflight"]
        assert [(s["uid"], s["version_in_release"], s["latest_version"]) for s in preflight["stale_items"]] == [
            ("bltstale", 1, 2)
        ]
        assert [
            (m["item"], m["field"], m["uid"], m["environments"], m["reason"]) for m in preflight["missing_references"]
        ] == [("entry blog_post/bltreferrer (en-us)", "author", "bltghostauthor", ["staging"], "not_published")]
        checks = {c["check"]: c["ok"] for c in preflight["checks"]}
        assert checks["release exists"] is True
        assert checks["release is not empty"] is True
        assert checks["every item's entry still exists"] is True
        assert checks["items are at their entry's latest version"] is False
        assert checks["referenced entries are published or in the release"] is False
    assert deployed["notice"] == "Release sent successfully for deployment."
    assert transport.count("POST", f"/releases/{uid}/deploy") == 1


async def test_cancelling_a_scheduled_deployment_checks_the_items_of_the_release_the_queue_row_names(
    sandbox: RunningSandbox,
) -> None:
    product, items = posts_and_a_product(sandbox, fresh_posts(sandbox, 2, "cancel"))
    when = store.iso(sandbox.state.clock.now().replace(year=sandbox.state.clock.now().year + 1))
    async with mcp_client(sandbox, "admin", transport=RecordingTransport()) as admin:
        uid = structured(await admin.call_tool("create_release", {"name": "Later", "items": items}))["release"]["uid"]
        structured(await admin.call_tool("update_release", {"release_uid": uid, "locked": True}))
        structured(
            await admin.call_tool(
                "deploy_release", {"release_uid": uid, "environments": ["staging"], "scheduled_at": when}
            )
        )
        rows = structured(await admin.call_tool("list_publish_queue", {"status": "scheduled"}))["rows"]
    (row,) = [r for r in rows if r["release"] == uid]
    assert row["item_uid"] != uid  # the row's own reference; the release is entry.release.uid

    transport = RecordingTransport()
    async with mcp_client(
        sandbox, "blog-publisher", transport=transport, guard=Guard(blog_publisher_policy())
    ) as client:
        refused = await client.call_tool("cancel_scheduled_publish", {"queue_uid": row["uid"]})
    assert refused.is_error
    assert f"product/{product}" in text_of(refused)
    assert transport.count("GET", f"/releases/{uid}/items") >= 1
    assert transport.count("GET", "/unschedule") == 0
