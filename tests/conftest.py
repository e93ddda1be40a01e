"""Fixtures every test may use: the anyio backend, and the sandbox in process (`on_sandbox`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.client import ConnectMode
from mcp.client.session import ElicitationFnT

from cs_mcp.config import Settings
from cs_mcp.guard import Guard
from cs_mcp.sandbox import store
from cs_mcp.sandbox.app import create_app
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.runner import sandbox_env
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState
from cs_mcp.server import build_server
from tests.helpers import UNPACED, CountingTransport, agreeing_after, text_of

SANDBOX_START = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
# Answers a request in the sandbox's place (a fault a test is about), or None to let it through.
Fault = Callable[[httpx2.Request], Awaitable[httpx2.Response | None]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class SandboxStack:
    """A freshly seeded sandbox app, reached in process through a `CountingTransport`: the tool
    tests call the real server on it, so a wrong parameter meets Contentstack's documented
    answer, not a fake that answers the same whatever it is sent."""

    state: SandboxState
    transport: CountingTransport
    settings: Settings

    def client(
        self,
        role: str = "admin",
        *,
        guard: Guard | None = None,
        fault: Fault | None = None,
        env: dict[str, str] | None = None,
        elicitation_callback: ElicitationFnT | None = None,
        mode: ConnectMode = "auto",
    ) -> Client:
        """An in-memory MCP client of a server for `role` on this sandbox (`env` adds settings),
        connected in `mode`, answering the server's questions to its human with
        `elicitation_callback` when given.
        `fault` sees every request first, through an `httpx2.MockTransport`: what it answers
        replaces the sandbox's answer; None lets the request through."""
        transport: httpx2.AsyncBaseTransport = self.transport
        if fault is not None:
            inject = fault

            async def handle(request: httpx2.Request) -> httpx2.Response:
                injected = await inject(request)
                return injected if injected is not None else await self.transport.handle_async_request(request)

            transport = httpx2.MockTransport(handle)
        settings = (
            Settings.from_env({**sandbox_env("http://sandbox.test", DEMO_CREDENTIALS), **env}) if env else self.settings
        )
        server = build_server(
            settings, backend="sandbox", guard=guard, stdio_role=role, transport=transport, rate_limits=UNPACED
        )
        return Client(server, elicitation_callback=elicitation_callback, mode=mode)

    async def refused_after_agreeing(
        self,
        change: Callable[[], None],
        tool: str,
        arguments: dict[str, Any],
        *,
        role: str,
        guard: Guard,
        toolsets: str,
        mode: ConnectMode,
    ) -> str:
        """Calls `tool` as `role`; the server asks its human once, who agrees after `change`
        was made to the stack (by an editor elsewhere, while the question was read). Asserts
        that the call was refused with no write sent, and answers the refusal's text."""
        agree, asked = agreeing_after(change)
        env = {"CS_MCP_TOOLSETS": toolsets}
        async with self.client(role, guard=guard, env=env, elicitation_callback=agree, mode=mode) as client:
            refused = await client.call_tool(tool, arguments)
        assert len(asked) == 1
        assert refused.is_error
        assert self.writes() == []
        return text_of(refused)

    def forget_requests(self) -> None:
        """Forgets the requests sent so far (those that set a test up)."""
        self.transport.sent.clear()
        self.transport.requests.clear()

    def writes(self) -> list[tuple[str, str]]:
        """(method, path) of every request that was not a read."""
        return self.transport.writes()

    def save_content_type(self, uid: str, schema: list[dict[str, Any]]) -> None:
        """Adds (or replaces) a content type with `schema`."""
        stamp = store.iso(SANDBOX_START)
        with self.state.db.transaction() as conn:
            store.save_content_type(
                conn, {"uid": uid, "title": uid, "schema": schema, "created_at": stamp, "updated_at": stamp}
            )

    def save_entry(self, content_type: str, uid: str, fields: dict[str, Any], locale: str = "en-us") -> dict[str, Any]:
        """Saves a new version of an entry (version 1 if it is new); entries saved later are
        older, so that a list (newest first) answers them in the order they were saved."""
        with self.state.db.transaction() as conn:
            old = store.get_entry(conn, content_type, uid, locale)
            version = int(old["_version"]) + 1 if old else 1
            known = store.entry_uids(conn, content_type)
            created = str(old["created_at"]) if old else store.iso(SANDBOX_START - timedelta(minutes=len(known)))
            entry: dict[str, Any] = {
                "uid": uid,
                "locale": locale,
                "_version": version,
                "created_at": created,
                "updated_at": created,
                "tags": [],
                **fields,
            }
            store.save_entry(conn, content_type, entry)
        return entry

    def publish(self, content_type: str, uid: str, environment: str, locale: str = "en-us", version: int = 1) -> None:
        """Makes `version` of an entry live in `environment`."""
        with self.state.db.transaction() as conn:
            stamp = store.iso(SANDBOX_START)
            store.set_published(conn, "entry", content_type, uid, environment, locale, version, stamp, "blt_user")

    def publish_asset(self, uid: str, environment: str, locale: str = "en-us", version: int = 1) -> None:
        """Makes `version` of an asset live in `environment`."""
        with self.state.db.transaction() as conn:
            stamp = store.iso(SANDBOX_START)
            store.set_published(conn, "asset", "", uid, environment, locale, version, stamp, "blt_user")

    def publish_unlocalized(
        self, content_type: str, uid: str, environment: str, locale: str, *, answered_in: str | None = None
    ) -> Fault:
        """Makes an entry's master version live in `environment` in `locale`, where it has no
        version of its own (Contentstack publishes the master's content there), and answers the
        fault that makes a query of the content type's entries in `answered_in` (default
        `locale`) answer the master version with that publish record. Contentstack does not
        document which query answers it: the entry read in `locale`, or the master version it
        was published from. The sandbox answers only an entry's own versions in a locale, with
        the records of that locale."""
        with self.state.db.read() as conn:
            entry = store.get_entry(conn, content_type, uid, store.master_locale(conn))
            environment_uid = store.environment_uid(conn, environment)
        assert entry is not None, f"no entry {content_type}/{uid}"
        version = int(entry["_version"])
        self.publish(content_type, uid, environment, locale, version)
        stamp = store.iso(SANDBOX_START)
        record = {"environment": environment_uid, "locale": locale, "version": version, "time": stamp}
        answer = {"entries": [entry | {"publish_details": [record]}], "count": 1}
        queried = answered_in or locale

        async def in_locale(request: httpx2.Request) -> httpx2.Response | None:
            asked = request.url.path.endswith(f"/v3/content_types/{content_type}/entries")
            return httpx2.Response(200, json=answer) if asked and request.url.params.get("locale") == queried else None

        return in_locale

    def save_asset(self, uid: str, versions: int = 1) -> None:
        """Adds an image asset with `versions` versions."""
        stamp = store.iso(SANDBOX_START)
        with self.state.db.transaction() as conn:
            for version in range(1, versions + 1):
                asset = {"uid": uid, "_version": version, "title": uid, "content_type": "image/png"}
                store.save_asset(conn, {**asset, "filename": f"{uid}.png", "created_at": stamp, "updated_at": stamp})

    def add_environments(self, *names: str) -> None:
        with self.state.db.transaction() as conn:
            for name in names:
                store.save_environment(conn, {"name": name, "uid": f"env_{name}", "urls": []})

    def add_locale(self, code: str, fallback: str = "en-us") -> None:
        with self.state.db.transaction() as conn:
            store.save_locale(conn, {"code": code, "name": code, "fallback_locale": fallback})

    def delete_entry(self, content_type: str, uid: str, locale: str) -> None:
        with self.state.db.transaction() as conn:
            store.delete_entry(conn, content_type, uid, locale)

    def add_release(self, name: str, items: list[dict[str, Any]], *, locked: bool = False) -> str:
        """Adds a release holding `items` (uid, content_type_uid, locale, version, action) as
        they are, whether their entries exist or not; newer than every release before it."""
        with self.state.db.transaction() as conn:
            count = int(conn.execute("SELECT COUNT(*) FROM releases").fetchone()[0])
            uid = f"rel{count}"
            stamp = store.iso(SANDBOX_START + timedelta(minutes=count))
            conn.execute(
                "INSERT INTO releases (uid, name, description, locked, archived, version, created_at, updated_at,"
                " created_by, updated_by) VALUES (?, ?, '', ?, 0, 1, ?, ?, 'blt_user', 'blt_user')",
                (uid, name, int(locked), stamp, stamp),
            )
        for item in items:
            self.add_release_item(uid, item)
        return uid

    def add_release_item(self, release_uid: str, item: dict[str, Any]) -> None:
        with self.state.db.transaction() as conn:
            conn.execute(
                "INSERT INTO release_items (release_uid, uid, content_type_uid, locale, version, action, title)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    release_uid,
                    item["uid"],
                    item["content_type_uid"],
                    item["locale"],
                    item["version"],
                    item["action"],
                    item["uid"],
                ),
            )

    def release_items(self, release_uid: str) -> list[str]:
        """The uids of a release's items, in the order they were added."""
        return [
            r["uid"]
            for r in self.rows("SELECT uid FROM release_items WHERE release_uid = ? ORDER BY rowid", release_uid)
        ]

    def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows of the sandbox's database, as dicts."""
        with self.state.db.read() as conn:
            return [dict(row) for row in conn.execute(sql, params)]


@pytest.fixture
def on_sandbox() -> SandboxStack:
    return new_sandbox()


def new_sandbox(clock: SandboxClock | None = None) -> SandboxStack:
    """A freshly seeded sandbox in process, its clock at SANDBOX_START unless `clock` is given."""
    config = SandboxConfig(rate_limits=False)
    state = SandboxState(config=config, db=Database(config.db_path), clock=clock or SandboxClock(SANDBOX_START))
    transport = CountingTransport(httpx2.ASGITransport(create_app(state)))
    return SandboxStack(state, transport, Settings.from_env(sandbox_env("http://sandbox.test", DEMO_CREDENTIALS)))
