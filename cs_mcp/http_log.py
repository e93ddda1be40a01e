"""One log line per HTTP request: method, path, status, principal and duration.

The line carries the path without its query string and the principal's name, never a header:
the bearer token cannot reach the log. Both are written with every control character escaped
(`\\n`, `\\x1b`): the server decodes the path (`%0A` is a line feed) and an identity
provider's name claim is its user's to choose, so neither can draw a line of its own.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cs_mcp.guard import Principal
from cs_mcp.safe_text import one_line
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
                name = one_line(principal.name) if isinstance(principal, Principal) else "-"
                elapsed_ms = (time.perf_counter() - started) * 1000
                path = one_line(str(scope.get("path", "-")))
                args = (one_line(str(scope.get("method", "-"))), path, status or "-", name, elapsed_ms)
                # The record made here, not by `logger.info`: that one walks the stack for the
                # caller's file and line on every request, which the line never shows.
                record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, _LINE, args, None, "__call__")
                logger.handle(record)
