"""MCP sessions over HTTP: each bound to the principal that opened it, and capped per principal.

The SDK's session manager already refuses a request for a session that another credential
opened, answering 404 exactly as for a session that does not exist; it learns the credential
from an authenticated user in the ASGI scope. `SessionGuard` puts the principal that bearer
authentication found there, so a second token that learns a session id can neither use nor
DELETE it, nor learn that it exists.

The SDK caps sessions for the whole server (10,000, each living until 30 minutes idle), so one
principal opening sessions in a loop would lock every other principal out. `SessionGuard` caps
the sessions one principal holds open: a request that would open one more is answered 429 with
what to do, and the other principals are unaffected.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Container

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cs_mcp.guard import Principal
from cs_mcp.toolkit.context import PRINCIPAL_SCOPE_KEY


def open_sessions(manager: StreamableHTTPSessionManager) -> Container[str]:
    """The ids of the sessions `manager` holds open now.

    The SDK offers no public view of them; its own map is the one place that knows when a
    session ended by DELETE, idle timeout or crash, so it is read rather than second-guessed.
    """
    return manager._server_instances  # pyright: ignore[reportPrivateUsage] - see the docstring


class SessionGuard:
    """ASGI middleware for the MCP path, inside bearer authentication: binds every request to
    its principal, and refuses a new session to a principal already holding `max_per_principal`.
    """

    def __init__(
        self, app: ASGIApp, manager: StreamableHTTPSessionManager, *, path: str, max_per_principal: int
    ) -> None:
        if max_per_principal < 1:
            raise ValueError("max_per_principal must be at least 1")
        self.app = app
        self.manager = manager
        self.path = path
        self.max_per_principal = max_per_principal
        self._sessions: dict[str, set[str]] = {}
        self._opening: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get(PRINCIPAL_SCOPE_KEY)
        if scope["type"] != "http" or scope.get("path") != self.path or not isinstance(principal, Principal):
            await self.app(scope, receive, send)
            return
        who = principal.name
        # The SDK compares this identity with the one that opened the session, on every request.
        scope["user"] = AuthenticatedUser(AccessToken(token="", client_id=who, scopes=[]))
        headers = Headers(scope=scope)
        version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
        opens_session = headers.get(MCP_SESSION_ID_HEADER) is None and (
            version is None or version in HANDSHAKE_PROTOCOL_VERSIONS
        )
        if not opens_session:
            # A request in a session, or of a protocol version without sessions.
            await self.app(scope, receive, send)
            return
        live = {sid for sid in self._sessions.get(who, set()) if sid in open_sessions(self.manager)}
        self._sessions[who] = live
        # Sessions still being opened count too: a burst of concurrent openings cannot slip past.
        if len(live) + self._opening[who] >= self.max_per_principal:
            await self._refuse(who, send)
            return
        self._opening[who] += 1

        async def record_session(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                sid = Headers(raw=message.get("headers", [])).get(MCP_SESSION_ID_HEADER)
                if sid:
                    self._sessions[who].add(sid)
            await send(message)

        try:
            await self.app(scope, receive, record_session)
        finally:
            self._opening[who] -= 1

    async def _refuse(self, who: str, send: Send) -> None:
        message = (
            f"principal {who!r} already holds {self.max_per_principal} open MCP sessions, the most one principal "
            "may (CS_MCP_MAX_SESSIONS_PER_PRINCIPAL); end one with an HTTP DELETE carrying its mcp-session-id, "
            "reuse an open one, or wait until one has been idle for 30 minutes"
        )
        body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": message}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
