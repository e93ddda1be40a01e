"""One sandbox service (Analytics, Automate) served in process, for the tests of that service alone."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import datetime

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState

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


def service_state(setup: Callable[[SandboxState], None], config: SandboxConfig, now: datetime) -> SandboxState:
    """A sandbox state with an in-memory database, its clock at `now`, and one service `setup` in it."""
    state = SandboxState(config=config, db=Database(":memory:"), clock=SandboxClock(now))
    setup(state)
    return state


def service_fixtures(make_state: Callable[[], SandboxState], mount: str, routes: Routes, headers: Mapping[str, str]):
    """The fixtures `state` (from `make_state`) and `http`, a `service_client` over that state."""

    @pytest.fixture(name="state")
    def state() -> SandboxState:
        return make_state()

    @pytest.fixture(name="http")
    async def http(state: SandboxState) -> AsyncGenerator[httpx2.AsyncClient]:
        async with service_client(state, mount, routes, headers) as client:
            yield client

    return state, http
