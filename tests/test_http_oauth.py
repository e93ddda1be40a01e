"""The HTTP app as an OAuth 2.1 resource server: a local identity provider over loopback, the
sandbox over loopback, and the real app with its lifespan running."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

from bench._common import free_port
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
class Served:
    """The HTTP app with its lifespan running, what it sent to the sandbox, its audit file."""

    app: BearerAuth
    sent: Recording
    audit_path: Path
    settings: Settings

    def http(self, token: str | None = None) -> httpx2.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.app), base_url=BASE, headers=headers)

    @asynccontextmanager
    async def mcp(self, token: str) -> AsyncGenerator[Client]:
        http = self.http(token)
        async with http, Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client:
            yield client


@dataclass
class World(Served):
    issuer: LocalIssuer = field(default_factory=LocalIssuer)


@asynccontextmanager
async def served(tmp_path: Path, identity_env: dict[str, str], policy_text: str = POLICY) -> AsyncGenerator[Served]:
    """The app as a resource server of the identity provider `identity_env` names, on the sandbox."""
    async with running_sandbox(SandboxConfig(rate_limits=False)) as sandbox:
        settings = Settings.from_env({**sandbox.env(), **identity_env})
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
                yield Served(app, sent, audit_path, settings)


@asynccontextmanager
async def world(tmp_path: Path, policy_text: str = POLICY) -> AsyncGenerator[World]:
    async with running_issuer() as issuer, served(tmp_path, issuer.env(), policy_text) as s:
        yield World(s.app, s.sent, s.audit_path, s.settings, issuer)


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


async def test_a_name_claim_with_a_newline_cannot_draw_a_log_line_of_its_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cs_mcp.http")
    crafted = "eve@example.com\naccess token of admin@example.com matches rule 0"
    async with world(tmp_path) as w, w.http(w.issuer.token(groups=["contractors"], email=crafted)) as http:
        response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    messages = [r.getMessage() for r in caplog.records if r.name == "cs_mcp.http"]
    assert response.status_code == 403
    assert messages
    assert all("\n" not in m for m in messages)
    assert any("eve@example.com\\naccess token" in m for m in messages)


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


NODE = Path(__file__).resolve().parents[1] / ".ci" / "node" / "node_modules"
PROVIDER_SCRIPT = Path(__file__).resolve().parent / "identity" / "provider.mjs"
# The provider's tokens name the app by the URL its clients reach it at, as an MCP client checks.
RESOURCE = f"{BASE}/mcp"


@asynccontextmanager
async def oidc_provider() -> AsyncGenerator[str]:
    """panva's oidc-provider, a certified OpenID provider, on a free loopback port (Node and the
    package from .ci/node-peers.sh); yields its issuer URL."""
    if not (NODE / ".bin" / "node").exists() or not (NODE / "oidc-provider").is_dir():
        pytest.skip("the identity provider is not installed: run `bash .ci/node-peers.sh`")
    port = free_port()
    command = [str(NODE / ".bin" / "node"), str(PROVIDER_SCRIPT), str(port), RESOURCE, str(NODE)]
    async with await anyio.open_process(command, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        try:
            assert process.stdout is not None
            with anyio.fail_after(30):
                said = b""
                async for chunk in process.stdout:
                    said += chunk
                    if b"listening" in said:
                        break
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()


async def provider_env(issuer: str) -> dict[str, str]:
    """Our settings for the provider, found the way docs/DEPLOY.md says: its OpenID configuration
    names the issuer and the JWKS."""
    async with httpx2.AsyncClient() as http:
        configuration = (await http.get(f"{issuer}/.well-known/openid-configuration")).json()
    return {
        "CS_MCP_OAUTH_ISSUER": configuration["issuer"],
        "CS_MCP_OAUTH_JWKS_URL": configuration["jwks_uri"],
        "CS_MCP_OAUTH_AUDIENCE": RESOURCE,
    }


async def client_credentials_token(issuer: str, client_id: str, scope: str | None = None) -> str:
    """An access token for this resource from the provider's token endpoint, for `client_id`."""
    form = {"grant_type": "client_credentials", "resource": RESOURCE} | ({"scope": scope} if scope else {})
    async with httpx2.AsyncClient() as http:
        answer = await http.post(
            f"{issuer}/token",
            data=form,
            auth=(client_id, f"{client_id}-secret-0123456789"),
        )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@pytest.mark.node
@pytest.mark.subprocess
async def test_a_token_from_a_real_openid_provider_signs_in_with_the_role_its_groups_map_to(tmp_path: Path) -> None:
    async with oidc_provider() as issuer:
        env = await provider_env(issuer)
        token = await client_credentials_token(issuer, "release-agent", scope="cs-mcp.write")
        async with served(tmp_path, env) as s, s.mcp(token) as client:
            result = await client.call_tool("describe_stack", {})
        assert result.structured_content is not None, result
        assert result.structured_content["permissions"]["role"] == "publisher"
        # No email claim in a client's token: the name is the subject the provider gave it.
        assert result.structured_content["permissions"]["principal"] == "oauth:release-agent"
        assert all(token not in request.headers.get("authorization", "") for request in s.sent.requests)


@pytest.mark.node
@pytest.mark.subprocess
async def test_a_real_openid_providers_token_whose_groups_map_to_no_role_is_a_403(tmp_path: Path) -> None:
    async with oidc_provider() as issuer:
        env = await provider_env(issuer)
        token = await client_credentials_token(issuer, "stranger-agent")
        async with served(tmp_path, env) as s, s.http(token) as http:
            response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


class ToAppOrNetwork(httpx2.AsyncBaseTransport):
    """Requests for the app go to it in memory; the identity provider's go over loopback."""

    def __init__(self, app: BearerAuth) -> None:
        self.app = httpx2.ASGITransport(app=app)
        self.network = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        to_app = f"{request.url.scheme}://{request.url.netloc.decode()}" == BASE
        return await (self.app if to_app else self.network).handle_async_request(request)

    async def aclose(self) -> None:
        await self.network.aclose()


@dataclass
class Browser:
    """What a person does in the browser the MCP client opens: signs in as `login` on the
    provider's login page, consents, and lands on the client's redirect URI with a code."""

    login: str
    landed: httpx2.URL | None = None

    async def open(self, url: str) -> None:
        async with httpx2.AsyncClient() as browser:
            response = await browser.get(url)
            for _ in range(10):
                if response.is_redirect:
                    target = response.url.join(response.headers["location"])
                    if target.host == "localhost":  # the client's redirect URI: done
                        self.landed = target
                        return
                    response = await browser.get(target)
                    continue
                # A page of the provider's own (login, then consent): post its one form.
                page = response.text
                action = re.search(r'action="([^"]+)"', page)
                assert action is not None, page[:500]
                form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
                if 'name="login"' in page:
                    form |= {"login": self.login, "password": "any"}
                response = await browser.post(response.url.join(action.group(1)), data=form)
        raise AssertionError("the provider never sent the browser back to the client")

    async def callback(self) -> AuthorizationCodeResult:
        assert self.landed is not None
        params = self.landed.params
        return AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))


class MemoryTokens:
    """The MCP client's token storage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


@pytest.mark.node
@pytest.mark.subprocess
@pytest.mark.parametrize(("login", "role"), [("ann", "publisher"), ("root-subject", "admin")])
async def test_the_sdks_oauth_client_signs_a_person_in_through_a_real_provider_from_our_metadata_alone(
    tmp_path: Path, login: str, role: str
) -> None:
    # The client knows only the MCP URL: the 401 names our metadata, the metadata the provider;
    # it registers itself there, runs the code flow with PKCE for this resource, and retries.
    browser = Browser(login)
    storage = MemoryTokens()
    async with oidc_provider() as issuer, served(tmp_path, await provider_env(issuer)) as s:
        auth = OAuthClientProvider(
            server_url=RESOURCE,
            client_metadata=OAuthClientMetadata(
                redirect_uris=[AnyUrl("http://localhost:3030/callback")],
                token_endpoint_auth_method="none",
                client_name="cs-mcp tests",
            ),
            storage=storage,
            redirect_handler=browser.open,
            callback_handler=browser.callback,
        )
        http = httpx2.AsyncClient(transport=ToAppOrNetwork(s.app), auth=auth, timeout=30)
        async with http, Client(streamable_http_client(RESOURCE, http_client=http)) as client:
            result = await client.call_tool("describe_stack", {})
    assert storage.client is not None
    assert storage.tokens is not None
    assert result.structured_content is not None, result
    assert result.structured_content["permissions"]["role"] == role
    assert result.structured_content["permissions"]["principal"] == f"oauth:{login}"
    assert all(storage.tokens.access_token not in str(request.headers) for request in s.sent.requests)
