"""An MCP client of the real server in process, its backend the loopback sandbox of the flow."""

from __future__ import annotations

import httpx2
from mcp import Client

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.sandbox.runner import RunningSandbox
from tests.helpers import sandbox_server


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
    return Client(sandbox_server(settings, guard or Guard(builtin_policy()), role, transport=transport))
