"""Bearer authentication for the Streamable HTTP app: a token in, a principal out.

`Authorization: Bearer <token>` is hashed with SHA-256 and compared in constant time with every
principal's `token_sha256` in the policy (tokens are never stored, only their hashes). A match
puts the principal in the ASGI scope, where the tools read it; the principal comes from the
transport only, never from tool arguments. No token, or an unknown one, is a 401, unless the
policy names an `anonymous_role`. The token is never logged nor echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from cs_mcp.guard import Policy, Principal
from cs_mcp.toolkit.context import PRINCIPAL_SCOPE_KEY

ANONYMOUS = "anonymous"
# OAuth discovery (RFC 8414, RFC 9728) is not behind the token: cs-mcp configures no OAuth, so
# the app answers 404 there and OAuth-capable clients fall back to the bearer header instead of
# starting a flow that cannot succeed.
OAUTH_DISCOVERY_PREFIX = "/.well-known/oauth-"


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


def principal_for_token(policy: Policy, token: str | None) -> Principal | None:
    """The principal whose token this is; the anonymous principal when there is no match and
    the policy allows one; else None.

    Every principal's hash is compared (in constant time), so the time taken does not reveal
    which one, or whether any, matched.
    """
    found: Principal | None = None
    if token is not None:
        digest = token_sha256(token).encode()
        for spec in policy.principals:
            if hmac.compare_digest(digest, spec.token_sha256.lower().encode()) and found is None:
                found = Principal(name=spec.name, role=spec.role, transport="http")
    if found is None and policy.anonymous_role is not None:
        found = Principal(name=ANONYMOUS, role=policy.anonymous_role, transport="http")
    return found


class BearerAuth:
    """ASGI middleware: authenticates every HTTP request but the exempt paths."""

    def __init__(self, app: ASGIApp, policy: Policy, exempt_paths: tuple[str, ...] = ("/healthz",)) -> None:
        self.app = app
        self.policy = policy
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path in self.exempt_paths or path.startswith(OAUTH_DISCOVERY_PREFIX):
            await self.app(scope, receive, send)
            return
        principal = principal_for_token(self.policy, bearer_token(scope))
        if principal is None:
            await self._unauthorized(send)
            return
        scope[PRINCIPAL_SCOPE_KEY] = principal
        await self.app(scope, receive, send)

    async def _unauthorized(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": "unauthorized",
                "error_description": "send Authorization: Bearer <token> with a token the server's policy knows",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="cs-mcp"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
