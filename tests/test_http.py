"""The HTTP app around MCP: Host checks everywhere, sessions bound to their principal and capped."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any, cast

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp_types import ElicitResult
from mcp_types.jsonrpc import HEADER_MISMATCH
from pydantic import Field

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, parse_policy
from cs_mcp.http import create_http_app
from cs_mcp.http_auth import BearerAuth
from cs_mcp.sandbox.runner import running_sandbox
from cs_mcp.sandbox.state import SandboxConfig
from cs_mcp.server import build_server
from tests.test_http_auth import (
    BOT_TOKEN,
    EDITOR_TOKEN,
    INITIALIZE,
    MCP_HEADERS,
    STACK_ENV,
    policy_text,
    stack_handler,
)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "127.0.0.1:8765"}, 200),
        ({"Host": "localhost:8765"}, 200),
        ({"Host": "rebound.attacker.example:8765"}, 421),
        ({"Host": "127.0.0.1:8765", "Origin": "http://evil.example"}, 403),
    ],
)
async def test_healthz_checks_host_and_origin_like_the_mcp_endpoint(headers: dict[str, str], status: int) -> None:
    policy = parse_policy(policy_text())
    app = create_http_app(build_server(Settings(), guard=Guard(policy)), policy)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8765") as client:
        response = await client.get("/healthz", headers=headers)
    assert response.status_code == status
    assert ("version" in response.text) is (status == 200)


@asynccontextmanager
async def running_app(**options: Any) -> AsyncGenerator[tuple[MCPServer[Any], BearerAuth]]:
    """The server and the real HTTP app around it (`create_http_app`'s `options`), its lifespan
    (the MCP session manager) running."""
    policy = parse_policy(policy_text())
    server = build_server(
        Settings.from_env(STACK_ENV), guard=Guard(policy), transport=httpx2.MockTransport(stack_handler)
    )
    app = create_http_app(server, policy, **options)
    assert isinstance(app, BearerAuth)
    inner: Any = app.app
    async with inner.router.lifespan_context(inner):
        yield server, app


@asynccontextmanager
async def mcp_http(max_sessions_per_principal: int = 20) -> AsyncGenerator[httpx2.AsyncClient]:
    """A client of the real HTTP app, its lifespan (the MCP session manager) running."""
    async with (
        running_app(max_sessions_per_principal=max_sessions_per_principal) as (_server, app),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8765") as client,
    ):
        yield client


def as_principal(token: str, session: str | None = None) -> dict[str, str]:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2025-11-25"}
    return {**headers, "mcp-session-id": session} if session else headers


async def open_session(client: httpx2.AsyncClient, token: str) -> httpx2.Response:
    return await client.post("/mcp", json=INITIALIZE, headers=as_principal(token))


PING = {"jsonrpc": "2.0", "id": 2, "method": "ping"}


async def test_a_session_answers_only_the_principal_that_opened_it() -> None:
    async with mcp_http() as client:
        opened = await open_session(client, BOT_TOKEN)
        session = opened.headers["mcp-session-id"]
        used = await client.post("/mcp", json=PING, headers=as_principal(EDITOR_TOKEN, session))
        deleted = await client.delete("/mcp", headers=as_principal(EDITOR_TOKEN, session))
        unknown = await client.post("/mcp", json=PING, headers=as_principal(EDITOR_TOKEN, "f" * 32))
        owner = await client.post("/mcp", json=PING, headers=as_principal(BOT_TOKEN, session))
    assert opened.status_code == 200
    # Refused exactly as a session that does not exist: nothing tells the editor it is there.
    assert (used.status_code, deleted.status_code) == (404, 404)
    assert (used.json(), deleted.json()) == (unknown.json(), unknown.json())
    assert owner.status_code == 200  # still open: the editor's DELETE did nothing


async def test_one_principal_cannot_hold_more_than_its_cap_of_sessions_nor_lock_out_others() -> None:
    async with mcp_http(max_sessions_per_principal=2) as client:
        first, second = [await open_session(client, BOT_TOKEN) for _ in range(2)]
        refused = await open_session(client, BOT_TOKEN)
        other = await open_session(client, EDITOR_TOKEN)
        ended = await client.delete("/mcp", headers=as_principal(BOT_TOKEN, first.headers["mcp-session-id"]))
        again = await open_session(client, BOT_TOKEN)
    assert (first.status_code, second.status_code) == (200, 200)
    assert refused.status_code == 429
    assert "mcp-session-id" not in refused.headers
    assert refused.json()["error"]["code"] == -32000
    assert other.status_code == 200
    assert ended.status_code == 200
    assert again.status_code == 200  # an ended session frees its place


async def test_concurrent_openings_by_one_principal_do_not_slip_past_the_cap() -> None:
    statuses: list[int] = []
    async with mcp_http(max_sessions_per_principal=3) as client:

        async def open_one() -> None:
            statuses.append((await open_session(client, BOT_TOKEN)).status_code)

        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(open_one)
    assert sorted(statuses) == [200] * 3 + [429] * 5


class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer without affinity: each request to the next replica in turn."""

    def __init__(self, apps: list[Any]) -> None:
        self.transports = [httpx2.ASGITransport(app=app) for app in apps]
        self.served: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        index = len(self.served) % len(self.transports)
        self.served.append(index)
        return await self.transports[index].handle_async_request(request)


@asynccontextmanager
async def replicas(stateless: bool, count: int = 2) -> AsyncGenerator[RoundRobin]:
    """`count` HTTP apps, each its own server (as separate processes would be), lifespans running."""
    policy = parse_policy(policy_text())
    apps: list[Any] = []
    async with AsyncExitStack() as stack:
        for _ in range(count):
            server = build_server(
                Settings.from_env(STACK_ENV), guard=Guard(policy), transport=httpx2.MockTransport(stack_handler)
            )
            app = create_http_app(server, policy, stateless=stateless)
            assert isinstance(app, BearerAuth)
            inner: Any = app.app
            await stack.enter_async_context(inner.router.lifespan_context(inner))
            apps.append(app)
        yield RoundRobin(apps)


# "legacy": the initialize handshake of 2025-11-25 and before; "auto": the 2026-07-28 revision.
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stateless_replicas_answer_one_clients_requests_whichever_replica_each_reaches(mode: str) -> None:
    async with replicas(stateless=True) as balancer:
        http = httpx2.AsyncClient(transport=balancer, headers={"Authorization": f"Bearer {BOT_TOKEN}"})
        transport = streamable_http_client("http://127.0.0.1:8765/mcp", http_client=http)
        async with http, Client(transport, mode=mode) as client:
            listed = await client.list_tools()
            described = await client.call_tool("describe_stack", {})
            again = await client.call_tool("describe_stack", {})
    assert {"describe_stack", "create_entry"} <= {t.name for t in listed.tools}
    assert not described.is_error
    assert not again.is_error
    assert set(balancer.served) == {0, 1}, "both replicas answered"


async def test_without_stateless_a_session_opened_on_one_replica_is_unknown_to_the_other() -> None:
    async with replicas(stateless=False) as balancer:
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {BOT_TOKEN}"}
        async with httpx2.AsyncClient(transport=balancer, base_url="http://127.0.0.1:8765") as http:
            opened = await http.post("/mcp", json=INITIALIZE, headers=headers)
            session = opened.headers["mcp-session-id"]
            listed = await http.post(
                "/mcp",
                json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                headers={**headers, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"},
            )
    assert opened.status_code == 200
    assert listed.status_code == 404


ADMIN_TOKEN = "stateless-admin-token-5e6f7a8b"


async def accept_confirmation(context: Any, params: Any) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": True})


@pytest.mark.parametrize(("mode", "written"), [("legacy", False), ("auto", True)])
async def test_over_stateless_http_a_confirmed_write_elicits_for_current_clients_and_answers_a_token_for_older_ones(
    mode: str, written: bool
) -> None:
    digest = hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()
    principal = f'[[principals]]\nname = "a"\ntoken_sha256 = "{digest}"\nrole = "admin"\n'
    policy = parse_policy('[confirm]\ntools = ["create_entry"]\n\n' + principal)
    async with running_sandbox(SandboxConfig(rate_limits=False)) as sandbox:
        server = build_server(Settings.from_env(sandbox.env()), backend="sandbox", guard=Guard(policy))
        app = create_http_app(server, policy, stateless=True)
        assert isinstance(app, BearerAuth)
        inner: Any = app.app
        async with inner.router.lifespan_context(inner):
            http = httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            )
            transport = streamable_http_client("http://127.0.0.1:8765/mcp", http_client=http)
            async with http, Client(transport, mode=mode, elicitation_callback=accept_confirmation) as client:
                result = await client.call_tool(
                    "create_entry", {"content_type": "author", "fields": {"title": "Asked"}, "locale": "en-us"}
                )
    assert result.structured_content is not None, result
    assert result.structured_content["written"] is written
    if not written:
        assert result.structured_content["confirmation"]["confirmation_token"]


async def regional(region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})]) -> str:
    """Answers its region."""
    return region


async def unannotated(region: str) -> str:
    """Answers its region."""
    return region


async def call_regional(app: Any, region_header: str) -> int | None:
    """Calls `regional` with region "us" over the 2026-07-28 revision, sending `Mcp-Param-Region`:
    None when served, else the protocol error's code."""
    headers = {"Authorization": f"Bearer {BOT_TOKEN}", "Mcp-Param-Region": region_header}
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), headers=headers)
    transport = streamable_http_client("http://127.0.0.1:8765/mcp", http_client=http)
    refused: list[int] = []
    try:
        async with http, Client(transport, mode="auto") as client:
            result = await client.call_tool("regional", {"region": "us"})
            assert not result.is_error
    except* MCPError as group:
        pending: list[BaseException] = [group]
        while pending:  # the task groups of the client nest the error
            raised = pending.pop()
            if isinstance(raised, BaseExceptionGroup):
                pending.extend(cast(BaseExceptionGroup[BaseException], raised).exceptions)
            elif isinstance(raised, MCPError):
                refused.append(raised.error.code)
    return refused[0] if refused else None


async def test_mcp_param_headers_are_checked_for_a_tool_that_declares_them_even_when_it_is_registered_again() -> None:
    async with running_app(stateless=True) as (server, app):
        server.add_tool(unannotated, name="regional")
        # No x-mcp-header in its schema: a stray header is nobody's business.
        assert await call_regional(app, "eu") is None
        server.remove_tool("regional")
        server.add_tool(regional, name="regional")
        assert await call_regional(app, "us") is None
        assert await call_regional(app, "eu") == HEADER_MISMATCH
