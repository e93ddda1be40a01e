"""The sandbox as one ASGI app: the four APIs under their prefixes, its controls, its limits.

`create_app(state)` mounts the routes of the modules `MOUNTS` lists under their prefix and
runs the `setup` of each of them that has one (tables and seed data; the seed's content first,
then the modules in `MOUNTS`' order, cma before publishing, releases and analytics, which read
it):

    /cma/v3        cma + assets + content_types + publishing + releases + stack_admin
    /cdn/v3        cdn
    /analytics/v2  analytics
    /automate/v1   automate
    /_sandbox      admin (clock, faults, stats)

wrapped in `limits.SandboxMiddleware`. Unknown paths and methods answer in Contentstack's
error body shape instead of Starlette's plain text.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from cs_mcp.sandbox import (
    admin,
    analytics,
    assets,
    automate,
    cdn,
    cma,
    content_types,
    publishing,
    releases,
    seed,
    stack_admin,
)
from cs_mcp.sandbox.limits import SandboxMiddleware
from cs_mcp.sandbox.state import SandboxState, error_response


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return error_response(404, 404, "The requested URL was not found on this server.", {"url": [request.url.path]})
    if status == 405:
        return error_response(405, 405, f"The method {request.method} is not allowed on this URL.")
    return error_response(status, status, "The server encountered an error. Please try again later.")


# Each API's prefix and the modules whose routes it mounts: the one list both the routes and
# the setups come from, so a module's `setup` runs as soon as it is mounted.
MOUNTS: tuple[tuple[str, tuple[ModuleType, ...]], ...] = (
    ("/cma/v3", (cma, assets, content_types, publishing, releases, stack_admin)),
    ("/cdn/v3", (cdn,)),
    ("/analytics/v2", (analytics,)),
    ("/automate/v1", (automate,)),
    ("/_sandbox", (admin,)),
)


def create_app(state: SandboxState) -> Starlette:
    """The sandbox app over `state`; creates and seeds the database when it is empty."""
    seed.setup(state)
    for _, modules in MOUNTS:
        for module in modules:
            # Optional: a module that keeps no tables of its own defines none.
            setup: Callable[[SandboxState], None] | None = getattr(module, "setup", None)
            if setup is not None:
                setup(state)
    routes = [
        Mount(prefix, routes=[route for module in modules for route in module.routes(state)])
        for prefix, modules in MOUNTS
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SandboxMiddleware, state=state)],
        # Exception: a bug in a handler still answers in the documented body shape.
        exception_handlers={404: _http_error, 405: _http_error, Exception: _http_error},
    )
