"""Bearer authentication: a token in, a principal out, 401 for anything else."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, Policy, Principal, parse_policy
from cs_mcp.http import create_http_app
from cs_mcp.http_auth import BearerAuth
from cs_mcp.server import build_server
from cs_mcp.toolkit.context import PRINCIPAL_SCOPE_KEY

pytestmark = pytest.mark.anyio

BOT_TOKEN = "bot-token-3f9a1c7e5d2b"
EDITOR_TOKEN = "editor-token-8e4d6a0b1c"


def policy_text(anonymous: str | None = None) -> str:
    text = f'anonymous_role = "{anonymous}"\n' if anonymous else ""
    for name, token, role in (("release-bot", BOT_TOKEN, "publisher"), ("writer", EDITOR_TOKEN, "editor")):
        digest = hashlib.sha256(token.encode()).hexdigest()
        text += f'\n[[principals]]\nname = "{name}"\ntoken_sha256 = "{digest}"\nrole = "{role}"\n'
    return text


async def whoami(request: Request) -> JSONResponse:
    principal: Any = request.scope.get(PRINCIPAL_SCOPE_KEY)
    assert isinstance(principal, Principal)
    return JSONResponse({"name": principal.name, "role": principal.role, "transport": principal.transport})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"authenticated": PRINCIPAL_SCOPE_KEY in request.scope})


def client_for(policy: Policy) -> httpx2.AsyncClient:
    app = BearerAuth(Starlette(routes=[Route("/whoami", whoami), Route("/healthz", healthz)]), policy)
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8765")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {BOT_TOKEN[:-1]}"},  # truncated
        {"Authorization": f"Bearer {BOT_TOKEN}x"},
        {"Authorization": f"Basic {BOT_TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": hashlib.sha256(BOT_TOKEN.encode()).hexdigest()},  # the hash is not the token
    ],
)
async def test_a_request_without_a_known_bearer_token_is_a_401(headers: dict[str, str]) -> None:
    async with client_for(parse_policy(policy_text())) as client:
        response = await client.get("/whoami", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"] == "unauthorized"


async def test_the_right_token_makes_the_request_its_principal() -> None:
    async with client_for(parse_policy(policy_text())) as client:
        bot = await client.get("/whoami", headers={"Authorization": f"Bearer {BOT_TOKEN}"})
        writer = await client.get("/whoami", headers={"authorization": f"bearer {EDITOR_TOKEN}"})
    assert bot.json() == {"name": "release-bot", "role": "publisher", "transport": "http"}
    assert writer.json() == {"name": "writer", "role": "editor", "transport": "http"}


async def test_an_anonymous_role_serves_requests_without_a_token_only_when_the_policy_says_so() -> None:
    async with client_for(parse_policy(policy_text(anonymous="viewer"))) as client:
        anonymous = await client.get("/whoami")
        wrong = await client.get("/whoami", headers={"Authorization": "Bearer wrong"})
        bot = await client.get("/whoami", headers={"Authorization": f"Bearer {BOT_TOKEN}"})
    assert anonymous.json() == {"name": "anonymous", "role": "viewer", "transport": "http"}
    assert wrong.json()["role"] == "viewer"
    assert bot.json()["role"] == "publisher"


async def test_a_principal_header_or_query_cannot_name_the_principal() -> None:
    async with client_for(parse_policy(policy_text())) as client:
        response = await client.get(
            "/whoami?principal=release-bot", headers={"X-Principal": "release-bot", "X-Role": "admin"}
        )
    assert response.status_code == 401


async def test_the_exempt_health_path_needs_no_token() -> None:
    async with client_for(parse_policy(policy_text())) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"authenticated": False}


async def test_the_token_is_never_logged_nor_echoed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with client_for(parse_policy(policy_text())) as client:
        refused = await client.get("/whoami", headers={"Authorization": "Bearer not-the-bot-token-123"})
        allowed = await client.get("/whoami", headers={"Authorization": f"Bearer {BOT_TOKEN}"})
    assert "not-the-bot-token-123" not in refused.text
    assert BOT_TOKEN not in allowed.text
    assert BOT_TOKEN not in caplog.text
    assert "not-the-bot-token-123" not in caplog.text


async def test_the_http_app_refuses_mcp_without_a_token_and_serves_healthz() -> None:
    policy = parse_policy(policy_text())
    server = build_server(Settings(), guard=Guard(policy))
    app = create_http_app(server, policy)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
        refused = await client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        health = await client.get("/healthz")
    assert refused.status_code == 401
    assert health.status_code == 200
    assert health.json()["status"] == "ok"


STACK_ENV = {"CONTENTSTACK_API_KEY": "blt_key_1", "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_token_1"}


def stack_handler(request: httpx2.Request) -> httpx2.Response:
    """A stack with nothing in it."""
    name = request.url.path.rsplit("/", 1)[-1]
    return httpx2.Response(200, json={name: [], "count": 0})


@asynccontextmanager
async def running_http_app(policy: Policy) -> AsyncGenerator[ASGIApp]:
    """The real HTTP app with its lifespan running (the MCP session manager)."""
    server = build_server(
        Settings.from_env(STACK_ENV), guard=Guard(policy), transport=httpx2.MockTransport(stack_handler)
    )
    app = create_http_app(server, policy)
    assert isinstance(app, BearerAuth)
    inner: Any = app.app
    async with inner.router.lifespan_context(inner):
        yield app


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_an_origin_from_another_site_is_refused_even_with_a_right_token() -> None:
    async with running_http_app(parse_policy(policy_text())) as app:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
            headers = {**MCP_HEADERS, "Authorization": f"Bearer {BOT_TOKEN}"}
            foreign = await client.post("/mcp", json=INITIALIZE, headers={**headers, "Origin": "http://evil.example"})
            local = await client.post("/mcp", json=INITIALIZE, headers={**headers, "Origin": "http://127.0.0.1:8765"})
    assert foreign.status_code == 403
    assert local.status_code == 200


@pytest.mark.parametrize(("token", "role"), [(BOT_TOKEN, "publisher"), (EDITOR_TOKEN, "editor")])
async def test_over_mcp_the_tools_see_the_principal_of_the_bearer_token(token: str, role: str) -> None:
    async with running_http_app(parse_policy(policy_text())) as app:
        http = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url="http://127.0.0.1:8765",
            headers={"Authorization": f"Bearer {token}"},
        )
        async with http, Client(streamable_http_client("http://127.0.0.1:8765/mcp", http_client=http)) as client:
            result = await client.call_tool("describe_stack", {})
    assert result.structured_content is not None, result
    assert result.structured_content["permissions"]["role"] == role
    assert result.structured_content["permissions"]["principal"] == ("release-bot" if role == "publisher" else "writer")
