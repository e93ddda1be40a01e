"""The Streamable HTTP app: MCP at /mcp, /healthz, bearer authentication, Host/Origin checks.

Bound to 127.0.0.1 by default. The SDK's transport security refuses a Host or Origin that is
not this server (DNS rebinding protection), at /mcp and /healthz alike; bearer tokens map to
principals of the policy.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from cs_mcp import __version__
from cs_mcp.config import Settings
from cs_mcp.guard import Policy
from cs_mcp.http_auth import BearerAuth
from cs_mcp.http_sessions import SessionGuard

MAX_BODY_BYTES = 1_000_000
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def transport_security(host: str, port: int, extra_hosts: tuple[str, ...] = ()) -> TransportSecuritySettings:
    """Host and Origin allow-lists for a server bound to `host:port`."""
    names = {*LOOPBACK_NAMES, *extra_hosts}
    if host not in ("0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        names.add(f"[{host}]" if ":" in host else host)
    hosts = sorted(f"{name}:{port}" for name in names)
    origins = sorted(f"{scheme}://{name}:{port}" for name in names for scheme in ("http", "https"))
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def create_http_app(
    server: MCPServer[Any],
    policy: Policy,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    extra_hosts: tuple[str, ...] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
    max_sessions_per_principal: int | None = None,
) -> ASGIApp:
    """The ASGI app to serve; its lifespan runs the MCP session manager (and so the server's
    lifespan, which owns the Contentstack client). Each MCP session is bound to the principal
    that opened it, and one principal holds at most `max_sessions_per_principal` open
    (default: `CS_MCP_MAX_SESSIONS_PER_PRINCIPAL`, else 20).

    Raises:
        ConfigError: `CS_MCP_MAX_SESSIONS_PER_PRINCIPAL` is not a whole number of at least 1.
    """

    security = transport_security(host, port, extra_hosts)
    host_check = TransportSecurityMiddleware(security)

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(request: Request) -> Response:  # pyright: ignore[reportUnusedFunction]
        # The same Host and Origin checks as /mcp: a rebound DNS name learns nothing here either.
        refused = await host_check.validate_request(request)
        if refused is not None:
            return refused
        return JSONResponse({"status": "ok", "server": "cs-mcp", "version": __version__})

    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=security,
        max_request_body_size=max_body_bytes,
        host=host,
    )
    if max_sessions_per_principal is None:
        max_sessions_per_principal = Settings.from_env().max_sessions_per_principal
    # Inside the Starlette app, so inside bearer authentication: the principal is known.
    app.add_middleware(
        SessionGuard, manager=server.session_manager, path="/mcp", max_per_principal=max_sessions_per_principal
    )
    return BearerAuth(app, policy, exempt_paths=("/healthz",))
