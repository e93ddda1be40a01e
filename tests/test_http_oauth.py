"""The HTTP app as an OAuth 2.1 resource server: a local identity provider over loopback, the
sandbox over loopback, and the real app with its lifespan running."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from cs_mcp.client import RateLimits, RetryPolicy
from cs_mcp.config import Settings
from cs_mcp.guard import AuditLog, Guard, Policy, parse_policy, read_audit
from cs_mcp.http import create_http_app
from cs_mcp.http_auth import BearerAuth
from cs_mcp.sandbox.runner import running_sandbox
from cs_mcp.sandbox.state import SandboxConfig
from cs_mcp.server import build_server
from tests.oauth_issuer import AUDIENCE, TEAM_RULES, LocalIssuer, oauth_rules, running_issuer

pytestmark = pytest.mark.anyio

BOT_TOKEN = "static-bot-token-7c1d9e2f"
BASE = "http://127.0.0.1:8765"
METADATA_URL = "https://mcp.example.test/.well-known/oauth-protected-resource/mcp"

POLICY = f"""
[[principals]]
name = "release-bot"
token_sha256 = "{hashlib.sha256(BOT_TOKEN.encode()).hexdigest()}"
role = "publisher"

[oauth]
name_claim = "email"
{oauth_rules(TEAM_RULES)}"""


class Recording(httpx2.AsyncBaseTransport):
    """Sends to the sandbox over loopback and keeps every request cs-mcp made."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.requests: list[httpx2.Request] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class World:
    issuer: LocalIssuer
    app: BearerAuth
    sent: Recording
    audit_path: Path
    settings: Settings
    extra: dict[str, Any] = field(default_factory=lambda: {})

    def http(self, token: str | None = None) -> httpx2.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.app), base_url=BASE, headers=headers)

    @asynccontextmanager
    async def mcp(self, token: str) -> AsyncGenerator[Client]:
        http = self.http(token)
        async with http, Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client:
            yield client


@asynccontextmanager
async def world(tmp_path: Path, policy_text: str = POLICY) -> AsyncGenerator[World]:
    async with running_issuer() as issuer, running_sandbox(SandboxConfig(rate_limits=False)) as sandbox:
        settings = Settings.from_env({**sandbox.env(), **issuer.env()})
        policy: Policy = parse_policy(policy_text)
        audit_path = tmp_path / "audit.jsonl"
        sent = Recording()
        server = build_server(
            settings,
            backend="sandbox",
            guard=Guard(policy, audit=AuditLog(audit_path)),
            transport=sent,
            rate_limits=RateLimits(cma_read=1000, cma_write=1000),
            retry=RetryPolicy(attempts=1),
        )
        app = create_http_app(server, policy, oauth=settings.oauth)
        assert isinstance(app, BearerAuth)
        inner: Any = app.app
        with anyio.fail_after(60):
            async with inner.router.lifespan_context(inner):
                yield World(issuer, app, sent, audit_path, settings)


@pytest.mark.parametrize("path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"])
async def test_the_protected_resource_metadata_names_this_resource_and_its_identity_provider(
    tmp_path: Path, path: str
) -> None:
    async with world(tmp_path) as w, w.http() as http:
        response = await http.get(path)
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["resource"] == AUDIENCE
    assert metadata["authorization_servers"] == [w.issuer.issuer]
    assert metadata["scopes_supported"] == ["cs-mcp.write"]
    assert metadata["bearer_methods_supported"] == ["header"]


async def test_without_an_identity_provider_the_metadata_path_answers_404() -> None:
    policy = parse_policy(POLICY)
    app = create_http_app(build_server(Settings(), guard=Guard(policy)), policy)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE) as http:
        response = await http.get("/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 404


async def test_a_request_without_a_token_is_a_401_that_points_at_the_metadata(tmp_path: Path) -> None:
    async with world(tmp_path) as w, w.http() as http:
        response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{METADATA_URL}"' in challenge
    assert "error=" not in challenge


REFUSED: list[Callable[[LocalIssuer], str]] = [
    lambda i: i.token(iss="https://other-idp.example", groups=["staff"]),
    lambda i: i.token(aud="https://other.example/mcp", groups=["staff"]),
    lambda i: i.token(lifetime=-120, groups=["staff"]),
    lambda i: i.token("rsa-stray", groups=["staff"]),
]


@pytest.mark.parametrize("make", REFUSED, ids=["wrong issuer", "wrong audience", "expired", "unknown kid"])
async def test_a_refused_access_token_is_a_401_invalid_token_that_never_echoes_it(
    tmp_path: Path, make: Callable[[LocalIssuer], str]
) -> None:
    async with world(tmp_path) as w:
        token = make(w.issuer)
        async with w.http(token) as http:
            response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert f'resource_metadata="{METADATA_URL}"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_token"
    assert token not in response.text


async def test_a_valid_token_that_no_rule_gives_a_role_is_a_403_insufficient_scope(tmp_path: Path) -> None:
    async with world(tmp_path) as w, w.http(w.issuer.token(groups=["contractors"])) as http:
        response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"sub": "root-subject"}, "admin"),
        ({"groups": ["cms-publishers"]}, "publisher"),
        ({"scope": "openid cs-mcp.write"}, "editor"),
        ({"groups": ["staff"]}, "viewer"),
    ],
)
async def test_over_mcp_a_signed_in_person_gets_the_role_their_claims_map_to(
    tmp_path: Path, claims: dict[str, Any], role: str
) -> None:
    async with world(tmp_path) as w, w.mcp(w.issuer.token(email="ann@example.com", **claims)) as client:
        result = await client.call_tool("describe_stack", {})
    assert result.structured_content is not None, result
    assert result.structured_content["permissions"]["role"] == role
    assert result.structured_content["permissions"]["principal"] == "oauth:ann@example.com"


async def test_static_bearer_tokens_still_work_beside_oauth(tmp_path: Path) -> None:
    async with world(tmp_path) as w, w.mcp(BOT_TOKEN) as client:
        result = await client.call_tool("describe_stack", {})
    assert result.structured_content is not None
    assert result.structured_content["permissions"]["principal"] == "release-bot"


ENTRY = {"content_type": "author", "fields": {"title": "Written through OAuth"}, "locale": "en-us"}


async def test_a_denied_principals_write_sends_no_request_and_is_audited(tmp_path: Path) -> None:
    async with world(tmp_path) as w, w.mcp(w.issuer.token(email="val@example.com", groups=["staff"])) as client:
        before = len(w.sent.requests)
        result = await client.call_tool("create_entry", ENTRY)
        sent = w.sent.requests[before:]
    assert result.is_error
    assert [r for r in sent if r.method != "GET"] == []
    [line] = read_audit(w.audit_path)
    assert (line.principal, line.role, line.decision) == ("oauth:val@example.com", "viewer", "deny")


async def test_the_persons_token_never_reaches_contentstack_the_servers_own_credentials_do(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        token = w.issuer.token(email="pat@example.com", scope="cs-mcp.write")
        async with w.mcp(token) as client:
            result = await client.call_tool("create_entry", ENTRY)
    assert not result.is_error, result
    writes = [r for r in w.sent.requests if r.method == "POST"]
    assert writes, "the write reached the sandbox"
    management_token = w.settings.management_token
    assert management_token is not None
    for request in w.sent.requests:
        seen = json.dumps([str(request.url), list(request.headers.items()), request.content.decode(errors="replace")])
        assert token not in seen
        assert token.split(".")[1] not in seen, "not even the token's claims"
        assert request.headers.get("authorization") in (None, management_token.get_secret_value())
    assert {r.headers.get("authorization") for r in writes} == {management_token.get_secret_value()}
    [line] = read_audit(w.audit_path)
    assert (line.principal, line.role, line.decision) == ("oauth:pat@example.com", "editor", "allow")
    assert token not in w.audit_path.read_text()
