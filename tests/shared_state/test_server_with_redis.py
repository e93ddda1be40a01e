"""A server configured with Redis draws its Contentstack requests from the shared window."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client

from cs_mcp.config import Settings
from cs_mcp.server import build_server
from cs_mcp.shared_state import KEY_PREFIX, limit_scope
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
    window = f"{KEY_PREFIX}:rl:{limit_scope(settings)}:cma.read"
    assert sent
    assert redis_server.client().zcard(window) == len(sent)
