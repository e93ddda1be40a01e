"""One sandbox service (Analytics, Automate) served in process, for the tests of that service alone."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from cs_mcp.sandbox.state import SandboxState

Routes = Callable[[SandboxState], list[BaseRoute]]


def service_client(
    state: SandboxState, mount: str, routes: Routes, headers: Mapping[str, str] | None = None
) -> httpx2.AsyncClient:
    """An HTTP client of the service's `routes` over `state`, mounted at `mount` (its base URL),
    sending `headers` with every request."""
    app = Starlette(routes=[Mount(mount, routes=routes(state))])
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=f"http://sandbox{mount}", headers=headers
    )


def service_fixture(mount: str, routes: Routes, headers: Mapping[str, str]):
    """The fixture `http`: a `service_client` over the test's `state` fixture."""

    @pytest.fixture(name="http")
    async def http(state: SandboxState) -> AsyncGenerator[httpx2.AsyncClient]:
        async with service_client(state, mount, routes, headers) as client:
            yield client

    return http
