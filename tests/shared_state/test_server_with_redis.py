"""A server configured with Redis draws its Contentstack requests from the shared window."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client

from cs_mcp.config import Settings
from cs_mcp.sandbox.runner import running_sandbox
from cs_mcp.sandbox.state import SandboxConfig
from cs_mcp.server import build_server
from cs_mcp.shared_state import RATE_KEY_PREFIX, limit_scope
from tests.shared_state.conftest import RedisServer

pytestmark = pytest.mark.anyio


async def test_a_server_with_redis_counts_its_requests_in_the_organizations_shared_window(
    redis_server: RedisServer,
) -> None:
    sent: list[httpx2.Request] = []

    def unauthorized(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(401, json={"error_message": "Bad token", "error_code": 105})

    env = {
        "CONTENTSTACK_API_KEY": "blt_api_key_1234",
        "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_management_token_1234",
        "CS_MCP_REDIS_URL": redis_server.url,
        "CS_MCP_SECRET_KEY": "k" * 32,
    }
    settings = Settings.from_env(env)
    async with Client(build_server(settings, transport=httpx2.MockTransport(unauthorized))) as client:
        result = await client.call_tool("describe_stack", {})
    assert result.is_error
    window = f"{RATE_KEY_PREFIX}:{limit_scope(settings)}:cma.read"
    assert sent
    assert redis_server.client().zcard(window) == len(sent)


async def test_a_toolset_enabled_through_one_replica_is_listed_and_callable_through_another(
    redis_server: RedisServer,
) -> None:
    async with running_sandbox(SandboxConfig(rate_limits=False)) as sandbox:
        env = {
            **sandbox.env(),
            "CS_MCP_REDIS_URL": redis_server.url,
            "CS_MCP_SECRET_KEY": "k" * 32,
            "CS_MCP_TOOLSETS": "dynamic",
        }
        settings = Settings.from_env(env)
        one = build_server(settings, backend="sandbox", stdio_role="admin")
        two = build_server(settings, backend="sandbox", stdio_role="admin")
        async with Client(one) as first, Client(two) as second:
            before = {t.name for t in (await second.list_tools()).tools}
            enabled = await first.call_tool("enable_toolset", {"toolset": "releases"})
            after = {t.name for t in (await second.list_tools()).tools}
            called = await second.call_tool("list_releases", {})
    assert not enabled.is_error, enabled
    assert "list_releases" not in before
    assert "list_releases" in after
    assert not called.is_error, called


async def test_without_redis_a_toolset_enabled_in_one_server_stays_in_that_server() -> None:
    async with running_sandbox(SandboxConfig(rate_limits=False)) as sandbox:
        settings = Settings.from_env({**sandbox.env(), "CS_MCP_TOOLSETS": "dynamic"})
        one = build_server(settings, backend="sandbox", stdio_role="admin")
        two = build_server(settings, backend="sandbox", stdio_role="admin")
        async with Client(one) as first, Client(two) as second:
            await first.call_tool("enable_toolset", {"toolset": "releases"})
            listed_one = {t.name for t in (await first.list_tools()).tools}
            listed_two = {t.name for t in (await second.list_tools()).tools}
    assert "list_releases" in listed_one
    assert "list_releases" not in listed_two
