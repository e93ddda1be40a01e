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

from starlette.types import ASGIApp, Receive, Scope, Send

from cs_mcp.guard import Policy, Principal
from cs_mcp.tools._context import PRINCIPAL_SCOPE_KEY

ANONYMOUS = "anonymous"


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
        digest = hashlib.sha256(token.encode()).hexdigest().encode()
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
        if scope["type"] != "http" or scope.get("path") in self.exempt_paths:
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
