"""A local identity provider for the OAuth tests: generated keys, its JWKS served over loopback,
and access tokens signed the way a real provider signs them (or wrongly, on purpose)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cs_mcp.config import OAuthSettings

AUDIENCE = "https://mcp.example.test/mcp"

# The OAuth tests' rules, (role, the claims the rule matches), in order: the first that matches decides.
TEAM_RULES: list[tuple[str, dict[str, list[str]]]] = [
    ("admin", {"subjects": ["root-subject"]}),
    ("publisher", {"groups": ["cms-publishers"]}),
    ("editor", {"scopes": ["cs-mcp.write"]}),
    ("viewer", {"groups": ["staff"]}),
]


def oauth_rules(rules: list[tuple[str, dict[str, list[str]]]]) -> str:
    """The policy's [[oauth.rules]] tables, one a (role, claims) rule, in order."""
    return "".join(
        f'\n[[oauth.rules]]\nrole = "{role}"\n'
        + "".join(f"{key} = {json.dumps(values)}\n" for key, values in claims.items())
        for role, claims in rules
    )


@dataclass
class LocalIssuer:
    """Keys `rsa-1` (RS256) and `ec-1` (ES256) published in the JWKS; `rsa-stray` is never
    published (a token signed with it has an unknown kid)."""

    url: str = ""
    published: dict[str, Any] = field(default_factory=lambda: {})
    unpublished: dict[str, Any] = field(default_factory=lambda: {})
    jwks_requests: int = 0

    def __post_init__(self) -> None:
        self.published = {
            "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec-1": ec.generate_private_key(ec.SECP256R1()),
        }
        self.unpublished = {"rsa-stray": rsa.generate_private_key(public_exponent=65537, key_size=2048)}

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks.json"

    def settings(self) -> OAuthSettings:
        return OAuthSettings(issuer=self.issuer, audience=AUDIENCE, jwks_url=self.jwks_url)

    def env(self) -> dict[str, str]:
        return {
            "CS_MCP_OAUTH_ISSUER": self.issuer,
            "CS_MCP_OAUTH_AUDIENCE": AUDIENCE,
            "CS_MCP_OAUTH_JWKS_URL": self.jwks_url,
        }

    def jwks(self) -> dict[str, Any]:
        keys: list[dict[str, Any]] = []
        for kid, key in self.published.items():
            if kid.startswith("rsa"):
                jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
                jwk["alg"] = "RS256"
            else:
                jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
                jwk["alg"] = "ES256"
            keys.append({**jwk, "kid": kid, "use": "sig"})
        return {"keys": keys}

    def rotate(self, kid: str) -> None:
        """Publishes a new RSA key `kid` (as a provider does when it rotates its keys)."""
        self.published[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def token(self, kid: str = "rsa-1", *, lifetime: float = 300, **claims: Any) -> str:
        """An access token for `sub` "alice" with this issuer and the audience, `claims` added
        or replacing (None removes one)."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "alice",
            "iat": now,
            "exp": now + int(lifetime),
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        key = self.published.get(kid) or self.unpublished[kid]
        algorithm = "ES256" if kid.startswith("ec") else "RS256"
        return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid})


def unsigned(token: str) -> str:
    """The token re-headed with `alg: none` and its signature dropped."""
    _header, payload, _signature = token.split(".")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).decode().rstrip("=")
    return f"{header}.{payload}."


def tampered(token: str) -> str:
    """The token with another subject in its payload, the signature left as it was."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None]:
        yield


@asynccontextmanager
async def running_issuer() -> AsyncGenerator[LocalIssuer]:
    """The issuer's JWKS served on a free loopback port inside the caller's event loop."""
    issuer = LocalIssuer()

    async def jwks(request: Request) -> JSONResponse:
        issuer.jwks_requests += 1
        return JSONResponse(issuer.jwks())

    app = Starlette(routes=[Route("/jwks.json", jwks)])
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server.serve)
        try:
            with anyio.fail_after(10):
                while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
                    await anyio.sleep(0.01)
            port = int(server.servers[0].sockets[0].getsockname()[1])
            issuer.url = f"http://127.0.0.1:{port}"
            yield issuer
        finally:
            server.should_exit = True
