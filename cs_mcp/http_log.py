"""One log line per HTTP request: method, path, status, principal and duration.

The line carries the path without its query string and the principal's name, never a header:
the bearer token cannot reach the log. Neither can draw a line or a field of its own: the path is
written as the client sent it, still percent-encoded (the decoded one turns `%0A` into a line
feed and `%20` into a field separator), and a name (an identity provider's name claim is its
user's to choose) holding a space, a quote, a backslash or a hidden character is written as a
JSON string.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cs_mcp.guard import Principal
from cs_mcp.safe_text import json_line, one_line
from cs_mcp.toolkit.context import PRINCIPAL_SCOPE_KEY

logger = logging.getLogger("cs_mcp.http")
_LINE = "%s %s %s %s %.0fms"


class AccessLog:
    """ASGI middleware: logs every HTTP request at INFO on `cs_mcp.http` once it is answered.

    Wrap it around the authentication middleware, which puts the principal in the scope.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            if logger.isEnabledFor(logging.INFO):
                principal = scope.get(PRINCIPAL_SCOPE_KEY)
                name = _field(principal.name) if isinstance(principal, Principal) else "-"
                elapsed_ms = (time.perf_counter() - started) * 1000
                args = (_field(str(scope.get("method", "-"))), _path(scope), status or "-", name, elapsed_ms)
                # The record made here, not by `logger.info`: that one walks the stack for the
                # caller's file and line on every request, which the line never shows.
                record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, _LINE, args, None, "__call__")
                logger.handle(record)


def _field(text: str) -> str:
    """`text` as one field of the line: as it is when plain, else as a JSON string, which keeps
    a space, a quote, a backslash or a hidden character from reading as another field or line."""
    if text and not any(c in text for c in ' "\\') and one_line(text) == text:
        return text
    return json_line(text)


def _path(scope: Scope) -> str:
    """The request's path as the client sent it, percent-encoded, without its query string (the
    decoded `path` where the server gives no `raw_path`)."""
    raw = scope.get("raw_path")
    path = raw.split(b"?", 1)[0].decode("latin-1") if isinstance(raw, bytes) else str(scope.get("path", "-"))
    return _field(path)
