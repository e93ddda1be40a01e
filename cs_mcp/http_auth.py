"""Bearer authentication for the Streamable HTTP app: a token in, a principal out.

`Authorization: Bearer <token>` is hashed with SHA-256 and compared in constant time with every
principal's `token_sha256` in the policy (tokens are never stored, only their hashes). A match
puts the principal in the ASGI scope, where the tools read it; the principal comes from the
transport only, never from tool arguments. No token, or an unknown one, is a 401, unless the
policy names an `anonymous_role`. The token is never logged nor echoed.

With an identity provider configured (`CS_MCP_OAUTH_*`), a token that is no static one is read
as a JWT access token (`cs_mcp.oauth`): a valid one becomes the principal `oauth:<name>` with
the role the policy's `[oauth]` rules give its claims. A refused JWT is a 401 with
`error="invalid_token"`; a valid one that no rule gives a role is a 403 with
`error="insufficient_scope"`. Every 401 then names the protected resource metadata
(`WWW-Authenticate: Bearer resource_metadata="…"`, RFC 9728), where clients find the identity
provider to sign in with.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from cs_mcp.guard import Policy, Principal
from cs_mcp.safe_text import one_line
from cs_mcp.toolkit.context import PRINCIPAL_SCOPE_KEY

if TYPE_CHECKING:
    from cs_mcp.oauth import JwtVerifier

ANONYMOUS = "anonymous"
# OAuth discovery (RFC 8414, RFC 9728) is not behind the token. Without an identity provider
# the app answers 404 there and OAuth-capable clients fall back to the bearer header instead of
# starting a flow that cannot succeed; with one, the protected resource metadata answers.
OAUTH_DISCOVERY_PREFIX = "/.well-known/oauth-"

logger = logging.getLogger("cs_mcp.http")


@dataclass(frozen=True)
class Refusal:
    """Why a request is not let in: its status, the OAuth error code and a description."""

    status: int
    error: str | None
    description: str


def token_sha256(token: str) -> str:
    """The hex SHA-256 of a bearer token: what a principal's `token_sha256` holds."""
    return hashlib.sha256(token.encode()).hexdigest()


def generate_token() -> str:
    """A new random bearer token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def bearer_token(scope: Scope) -> str | None:
    """The bearer token of an HTTP request's `Authorization` header, if it carries one."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def static_principal(policy: Policy, token: str | None) -> Principal | None:
    """The [[principals]] entry whose token this is, else None.

    Every principal's hash is compared (in constant time), so the time taken does not reveal
    which one, or whether any, matched.
    """
    found: Principal | None = None
    if token is not None:
        digest = token_sha256(token).encode()
        for spec in policy.principals:
            if hmac.compare_digest(digest, spec.token_sha256.lower().encode()) and found is None:
                found = Principal(name=spec.name, role=spec.role, transport="http")
    return found


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts: the shape of a JWS compact serialization."""
    return token.count(".") == 2


def principal_for_token(policy: Policy, token: str | None) -> Principal | None:
    """The principal whose token this is; the anonymous principal when there is no match and
    the policy allows one; else None.

    Every principal's hash is compared (in constant time), so the time taken does not reveal
    which one, or whether any, matched.
    """
    found = static_principal(policy, token)
    if found is None and policy.anonymous_role is not None:
        found = Principal(name=ANONYMOUS, role=policy.anonymous_role, transport="http")
    return found


class BearerAuth:
    """ASGI middleware: authenticates every HTTP request but the exempt paths and OAuth discovery.

    `oauth` (with the metadata URL for `WWW-Authenticate`) checks JWT access tokens beside the
    policy's static ones."""

    def __init__(
        self,
        app: ASGIApp,
        policy: Policy,
        exempt_paths: tuple[str, ...] = ("/healthz",),
        *,
        oauth: JwtVerifier | None = None,
    ) -> None:
        self.app = app
        self.policy = policy
        self.exempt_paths = frozenset(exempt_paths)
        self.oauth = oauth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path in self.exempt_paths or path.startswith(OAUTH_DISCOVERY_PREFIX):
            await self.app(scope, receive, send)
            return
        found = await self.authenticate(bearer_token(scope))
        if isinstance(found, Refusal):
            await self._refuse(found, send)
            return
        scope[PRINCIPAL_SCOPE_KEY] = found
        await self.app(scope, receive, send)

    async def authenticate(self, token: str | None) -> Principal | Refusal:
        """The principal a request's bearer token stands for, or why it is refused."""
        if token is not None and self.oauth is not None:
            found = static_principal(self.policy, token)
            if found is not None:
                return found
            if looks_like_jwt(token):
                return await self._oauth_principal(token, self.oauth)
            return Refusal(401, "invalid_token", "the bearer token is neither one the policy knows nor a JWT")
        # Without an identity provider an unknown token counts as none, as it always did.
        found = principal_for_token(self.policy, token)
        if found is not None:
            return found
        how = "a token the server's policy knows" + (
            ", or an access token from the identity provider" if self.oauth else ""
        )
        return Refusal(401, None, f"send Authorization: Bearer <token> with {how}")

    async def _oauth_principal(self, token: str, verifier: JwtVerifier) -> Principal | Refusal:
        # Here, not at the top: over stdio, and over HTTP without a provider, the JOSE library
        # is never loaded.
        from cs_mcp.oauth import JwksUnavailable, TokenRejected, principal_name, role_for

        try:
            verified = await verifier.verify(token)
        except TokenRejected as exc:
            logger.info("access token refused: %s", exc.reason)
            return Refusal(401, "invalid_token", str(exc))
        except JwksUnavailable as exc:
            logger.warning("%s", exc)
            return Refusal(503, "temporarily_unavailable", f"{exc}; try again shortly")
        spec = self.policy.oauth
        choice = role_for(spec, verified)
        name = principal_name(spec, verified)
        if choice.role is None:
            # The name claim is its user's to choose: escaped, it cannot draw a line of its own.
            logger.info("access token of %s matches no [oauth] rule", one_line(name))
            return Refusal(
                403,
                "insufficient_scope",
                f"signed in as {name}, but the server's policy gives this account no role; ask its operator",
            )
        return Principal(name=name, role=choice.role, transport="http")

    async def _refuse(self, refusal: Refusal, send: Send) -> None:
        body = json.dumps({"error": refusal.error or "unauthorized", "error_description": refusal.description}).encode()
        challenge = ['realm="cs-mcp"']
        if self.oauth is not None:
            challenge.append(f'resource_metadata="{self.oauth.settings.metadata_url}"')
        if refusal.error is not None:
            challenge.append(f'error="{refusal.error}"')
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if refusal.status in (401, 403):
            headers.append((b"www-authenticate", ("Bearer " + ", ".join(challenge)).encode()))
        if refusal.status == 503:
            headers.append((b"retry-after", b"5"))
        await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
