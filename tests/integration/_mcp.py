"""An MCP client of the real server in process, its backend the loopback sandbox of the flow."""

from __future__ import annotations

import httpx2
from mcp import Client

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.sandbox.runner import RunningSandbox
from cs_mcp.server import build_server
from tests.helpers import UNPACED


def mcp_client(
    sandbox: RunningSandbox,
    role: str,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    guard: Guard | None = None,
    toolsets: str | None = None,
) -> Client:
    """A client of a server for `role` under the built-in policy (or `guard`), with the sandbox's
    settings (and `toolsets` when given) and wide client-side rate limits."""
    settings = Settings.from_env(sandbox.env())
    if toolsets is not None:
        settings = settings.model_copy(update={"toolsets": toolsets})
    server = build_server(
        settings,
        backend="sandbox",
        guard=guard or Guard(builtin_policy()),
        stdio_role=role,
        transport=transport,
        rate_limits=UNPACED,
    )
    return Client(server)
