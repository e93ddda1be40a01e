"""Running the sandbox: in the caller's event loop, in a thread, or as the `cs-mcp sandbox` command.

The sandbox always serves real HTTP on loopback (uvicorn), so the client under test goes
through the same sockets, headers and encodings as against Contentstack.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import anyio
import anyio.from_thread
import uvicorn

from cs_mcp.sandbox.app import create_app
from cs_mcp.sandbox.credentials import SandboxCredentials
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState

STARTUP_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox that answers at `base_url` (no trailing slash)."""

    base_url: str
    state: SandboxState

    @property
    def credentials(self) -> SandboxCredentials:
        return self.state.credentials

    def env(self) -> dict[str, str]:
        """The CONTENTSTACK_* variables that point cs-mcp (or any Contentstack client) at this sandbox."""
        return sandbox_env(self.base_url, self.credentials)


def sandbox_env(base_url: str, creds: SandboxCredentials) -> dict[str, str]:
    """The environment variables of a sandbox answering at `base_url` with `creds`."""
    return {
        "CONTENTSTACK_CMA_BASE_URL": f"{base_url}/cma",
        "CONTENTSTACK_CDA_BASE_URL": f"{base_url}/cdn",
        "CONTENTSTACK_ANALYTICS_BASE_URL": base_url,
        "CONTENTSTACK_AUTOMATIONS_BASE_URL": f"{base_url}/automate",
        "CONTENTSTACK_API_KEY": creds.api_key,
        "CONTENTSTACK_MANAGEMENT_TOKEN": creds.management_token,
        "CONTENTSTACK_AUTHTOKEN": creds.authtoken,
        "CONTENTSTACK_ORGANIZATION_UID": creds.organization_uid,
        "CONTENTSTACK_BRANCH": creds.branch,
        "CS_MCP_DELIVERY_TOKENS": ",".join(f"{env}={tok}" for env, tok in creds.delivery_tokens.items()),
        "CONTENTSTACK_DELIVERY_TOKEN": creds.delivery_tokens["development"],
        "CONTENTSTACK_ENVIRONMENT": "development",
    }


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host process."""

    @contextmanager
    def capture_signals(self) -> Generator[None]:
        yield


def _build(config: SandboxConfig, clock: SandboxClock | None = None) -> tuple[SandboxState, uvicorn.Config]:
    state = SandboxState(config=config, db=Database(config.db_path), clock=clock or SandboxClock())
    try:
        app = create_app(state)
    except BaseException:
        state.db.close()
        raise
    return state, uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False)


def _bound_url(server: uvicorn.Server, host: str) -> str:
    port = int(server.servers[0].sockets[0].getsockname()[1])
    return f"http://{host}:{port}"


async def _wait_started(server: uvicorn.Server) -> None:
    with anyio.fail_after(STARTUP_TIMEOUT_SECONDS):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event; only startup polls
            await anyio.sleep(0.01)


@asynccontextmanager
async def running_sandbox(
    config: SandboxConfig | None = None, clock: SandboxClock | None = None
) -> AsyncGenerator[RunningSandbox]:
    """Serves a sandbox on a free loopback port inside the caller's event loop.

    `clock` (real time by default) lets tests start from a fixed moment.

    Stops the server and closes the database on exit. Raises TimeoutError when it does not
    start within `STARTUP_TIMEOUT_SECONDS`.
    """
    state, uconfig = _build(config or SandboxConfig(), clock)
    server = _EmbeddedServer(uconfig)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve)
            try:
                await _wait_started(server)
                yield RunningSandbox(base_url=_bound_url(server, "127.0.0.1"), state=state)
            finally:
                server.should_exit = True
    finally:
        state.db.close()


@contextmanager
def start_sandbox_thread(
    config: SandboxConfig | None = None, clock: SandboxClock | None = None
) -> Generator[RunningSandbox]:
    """Serves a sandbox from an event loop in a background thread, for synchronous code."""
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(running_sandbox(config, clock)) as running,
    ):
        yield running


def describe(base_url: str, credentials: SandboxCredentials) -> str:
    """What `cs-mcp sandbox` prints at start: where it answers and the demo credentials."""
    lines = [
        f"cs-mcp sandbox: a local Contentstack stack with demo data at {base_url}",
        f"  CMA        {base_url}/cma/v3",
        f"  CDA        {base_url}/cdn/v3",
        f"  Analytics  {base_url}/analytics/v2",
        f"  Automate   {base_url}/automate/v1",
        "",
        "Demo credentials (they open only this sandbox):",
        f"  api_key            {credentials.api_key}",
        f"  management token   {credentials.management_token}",
        f"  authtoken          {credentials.authtoken}",
        f"  organization uid   {credentials.organization_uid}",
        f"  branch             {credentials.branch}",
    ]
    lines += [f"  delivery token     {env}: {tok}" for env, tok in credentials.delivery_tokens.items()]
    lines += ["", "Point cs-mcp at it with:"]
    lines += [f"  export {name}={value}" for name, value in sandbox_env(base_url, credentials).items()]
    return "\n".join(lines)


def serve_sandbox(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8766) -> None:
    """Serves a sandbox on `host:port` until interrupted (Ctrl+C), printing its credentials first."""
    state, uconfig = _build(config)
    uconfig.host, uconfig.port = host, port

    async def serve() -> None:
        server = uvicorn.Server(uconfig)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve)
            await _wait_started(server)
            shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - a name to print, not a bind
            print(describe(_bound_url(server, shown), state.credentials), flush=True)

    try:
        anyio.run(serve)
    finally:
        state.db.close()
        print("cs-mcp sandbox: stopped", file=sys.stderr)
