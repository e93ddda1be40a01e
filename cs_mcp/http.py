"""The Streamable HTTP app: MCP at /mcp, /healthz, bearer authentication, Host/Origin checks.

Bound to 127.0.0.1 by default. The SDK's transport security refuses a Host or Origin that is
not this server (DNS rebinding protection), at /mcp and /healthz alike; bearer tokens map to
principals of the policy. With an identity provider configured, JWT access tokens are accepted
too and the protected resource metadata (RFC 9728) answers at
`/.well-known/oauth-protected-resource` (with and without the resource's path `/mcp`).

Stateless (`stateless=True`, what replicas sharing Redis run): every request stands alone, so
any replica answers any request. Clients of the 2026-07-28 revision are served that way in any
case; without it, clients of the handshake revisions get a session bound to one process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp.server import MCPServer
from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
from mcp.server.auth.routes import cors_middleware
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.shared.auth import ProtectedResourceMetadata
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from cs_mcp import __version__
from cs_mcp.config import OAuthSettings, Settings
from cs_mcp.guard import Policy
from cs_mcp.http_auth import BearerAuth
from cs_mcp.http_sessions import SessionGuard

if TYPE_CHECKING:
    from cs_mcp.oauth import JwtVerifier

MAX_BODY_BYTES = 1_000_000
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def transport_security(host: str, port: int, extra_hosts: tuple[str, ...] = ()) -> TransportSecuritySettings:
    """Host and Origin allow-lists for a server bound to `host:port`. `extra_hosts` are the names
    clients reach it by through a reverse proxy (`CS_MCP_ALLOWED_HOSTS`): allowed as given, and
    with any port when given without one."""
    names: set[str] = set(LOOPBACK_NAMES)
    if host not in ("0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        names.add(f"[{host}]" if ":" in host else host)
    hosts = {f"{name}:{port}" for name in names}
    origins = {f"{scheme}://{name}:{port}" for name in names for scheme in ("http", "https")}
    for extra in extra_hosts:
        forms = [extra] if ":" in extra else [extra, f"{extra}:*"]
        hosts.update(forms)
        origins.update(f"{scheme}://{form}" for form in forms for scheme in ("http", "https"))
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=sorted(hosts), allowed_origins=sorted(origins)
    )


def protected_resource_routes(oauth: OAuthSettings, policy: Policy) -> list[Route]:
    """The protected resource metadata (RFC 9728) at the resource's own well-known path
    (`/.well-known/oauth-protected-resource/mcp`) and at the root one, which clients of the
    first MCP authorization revision ask. The issuer is named exactly as configured (it must
    equal the tokens' `iss`)."""
    scopes = sorted({scope for rule in policy.oauth.rules for scope in rule.scopes or []})
    metadata = ProtectedResourceMetadata.model_validate(
        {
            "resource": oauth.audience,
            "authorization_servers": [oauth.issuer],
            "scopes_supported": scopes or None,
            "resource_name": "cs-mcp",
            "resource_signing_alg_values_supported": None,
        }
    )
    endpoint = cors_middleware(ProtectedResourceMetadataHandler(metadata).handle, ["GET", "OPTIONS"])
    paths = {urlsplit(oauth.metadata_url).path, "/.well-known/oauth-protected-resource"}
    return [Route(path, endpoint=endpoint, methods=["GET", "OPTIONS"]) for path in sorted(paths)]


def create_http_app(
    server: MCPServer[Any],
    policy: Policy,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    extra_hosts: tuple[str, ...] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
    max_sessions_per_principal: int | None = None,
    oauth: OAuthSettings | None = None,
    verifier: JwtVerifier | None = None,
    stateless: bool = False,
) -> ASGIApp:
    """The ASGI app to serve; its lifespan runs the MCP session manager (and so the server's
    lifespan, which owns the Contentstack client). Each MCP session is bound to the principal
    that opened it, and one principal holds at most `max_sessions_per_principal` open
    (default: `CS_MCP_MAX_SESSIONS_PER_PRINCIPAL`, else 20). `oauth` accepts the identity
    provider's access tokens (checked by `verifier`, else one made for `oauth`); `stateless`
    keeps no session between requests.

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
        stateless_http=stateless,
    )
    if oauth is not None:
        _add_routes(app, protected_resource_routes(oauth, policy))
        if verifier is None:
            from cs_mcp.oauth import JwtVerifier  # the JOSE library, only with a provider

            verifier = JwtVerifier(oauth)
    if not stateless:
        if max_sessions_per_principal is None:
            max_sessions_per_principal = Settings.from_env().max_sessions_per_principal
        # Inside the Starlette app, so inside bearer authentication: the principal is known.
        app.add_middleware(
            SessionGuard, manager=server.session_manager, path="/mcp", max_per_principal=max_sessions_per_principal
        )
    return BearerAuth(app, policy, exempt_paths=("/healthz",), oauth=verifier)


def _add_routes(app: Starlette, routes: list[Route]) -> None:
    app.router.routes.extend(routes)
