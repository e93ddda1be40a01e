"""The HTTP app around MCP: Host checks everywhere, sessions bound to their principal and capped."""

from __future__ import annotations

import httpx2
import pytest

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, parse_policy
from cs_mcp.http import create_http_app
from cs_mcp.server import build_server
from tests.test_http_auth import policy_text

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "127.0.0.1:8765"}, 200),
        ({"Host": "localhost:8765"}, 200),
        ({"Host": "rebound.attacker.example:8765"}, 421),
        ({"Host": "127.0.0.1:8765", "Origin": "http://evil.example"}, 403),
    ],
)
async def test_healthz_checks_host_and_origin_like_the_mcp_endpoint(headers: dict[str, str], status: int) -> None:
    policy = parse_policy(policy_text())
    app = create_http_app(build_server(Settings(), guard=Guard(policy)), policy)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8765") as client:
        response = await client.get("/healthz", headers=headers)
    assert response.status_code == status
    assert ("version" in response.text) is (status == 200)
