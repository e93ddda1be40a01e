"""What a tool reads from the server: the shared state and the calling principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from cs_mcp.client import ContentstackClient
from cs_mcp.config import Settings
from cs_mcp.guard import Guard, Principal
from cs_mcp.toolkit.stackmeta import StackMetadata

# The key under which the HTTP app stores the authenticated principal in the ASGI scope.
PRINCIPAL_SCOPE_KEY = "cs_mcp.principal"


@dataclass
class AppState:
    """Everything the lifespan owns and every tool shares."""

    settings: Settings
    client: ContentstackClient
    guard: Guard
    backend: Literal["live", "sandbox"]
    stdio_principal: Principal
    # toolset -> None when available, else what to set to enable it
    toolsets: dict[str, str | None] = field(default_factory=lambda: {})
    # The configured tokens (`settings_secrets`), never shown to a caller: the server cuts
    # them out of its answers, the write pipeline out of the preview it asks a human with.
    secrets: tuple[str, ...] = ()
    meta: StackMetadata = field(init=False)

    def __post_init__(self) -> None:
        self.meta = StackMetadata(self.client, self.settings.locale)


ToolContext = Context[AppState, Any]


def app_state(ctx: ToolContext) -> AppState:
    """The server's shared state."""
    return ctx.request_context.lifespan_context


def principal_in(request: Any, fallback: Principal) -> Principal | None:
    """The principal an HTTP request was authenticated as (None if it was not), else
    `fallback` (the stdio principal: stdio and in-memory requests carry no HTTP scope)."""
    raw_scope: Any = getattr(request, "scope", None)
    if isinstance(raw_scope, dict):
        scope = cast(dict[str, Any], raw_scope)
        found = scope.get(PRINCIPAL_SCOPE_KEY)
        if isinstance(found, Principal):
            return found
        if scope.get("type") == "http":
            return None
    return fallback


def principal_of(ctx: ToolContext) -> Principal:
    """The caller: from the HTTP request's authenticated scope, else the stdio principal.

    Raises:
        ToolError: an HTTP request that carries no authenticated principal (never expected:
            the HTTP app refuses such requests before they reach a tool).
    """
    found = principal_in(ctx.request_context.request, app_state(ctx).stdio_principal)
    if found is None:
        raise ToolError("this HTTP request is not authenticated; send Authorization: Bearer <token>")
    return found
