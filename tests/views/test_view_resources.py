"""The views as MCP resources: which tools name them, how they read, what their pages allow."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp_types import TextResourceContents

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.server import build_server
from cs_mcp.views import ANALYTICS_VIEW, MIME_TYPE, RELEASE_VIEW, VIEWS, WRITE_PREVIEW_VIEW, view_html
from tests.helpers import full_env

pytestmark = pytest.mark.anyio

ENV = full_env("blt_api_key_1234", "cs_management_token_1234", "cs_authtoken_1234", "blt_org_1234")
LINKED = {
    "get_analytics": ANALYTICS_VIEW,
    "get_analytics_job": ANALYTICS_VIEW,
    "get_release": RELEASE_VIEW,
    "publish": WRITE_PREVIEW_VIEW,
    "unpublish": WRITE_PREVIEW_VIEW,
    "deploy_release": WRITE_PREVIEW_VIEW,
    "delete_entry": WRITE_PREVIEW_VIEW,
    "delete_release": WRITE_PREVIEW_VIEW,
}


def nothing_sent(request: httpx2.Request) -> httpx2.Response:
    raise AssertionError(f"no request expected, got {request.method} {request.url}")


def admin_server() -> Client:
    server = build_server(
        Settings.from_env(ENV),
        guard=Guard(builtin_policy()),
        stdio_role="admin",
        transport=httpx2.MockTransport(nothing_sent),
    )
    return Client(server)


async def test_each_tool_with_a_view_names_it_in_meta_ui_and_the_others_carry_no_meta() -> None:
    async with admin_server() as client:
        tools = (await client.list_tools()).tools
    named: dict[str, Any] = {t.name: (t.meta or {}).get("ui") for t in tools}
    assert {name: ui["resourceUri"] for name, ui in named.items() if ui} == LINKED
    assert all(t.meta is None for t in tools if t.name not in LINKED)


async def test_every_view_reads_as_one_mcp_app_page_that_allows_no_external_origin() -> None:
    async with admin_server() as client:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        for view in VIEWS:
            assert listed[view.uri].mime_type == MIME_TYPE
            (content,) = (await client.read_resource(view.uri)).contents
            assert isinstance(content, TextResourceContents)
            assert content.mime_type == MIME_TYPE
            assert content.text == view_html(view.file)
            assert content.meta == {
                "ui": {
                    "csp": {"connectDomains": [], "resourceDomains": [], "frameDomains": [], "baseUriDomains": []},
                    "prefersBorder": True,
                }
            }


def policy_of(html: str) -> dict[str, list[str]]:
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert found is not None
    directives = [d.strip().split() for d in found.group(1).split(";")]
    return {d[0]: d[1:] for d in directives}


def hashes_of(html: str, tag: str) -> list[str]:
    bodies = re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", html, flags=re.DOTALL)
    return [f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in bodies]


@pytest.mark.parametrize("file", [v.file for v in VIEWS])
def test_a_view_runs_only_its_own_inline_code_and_loads_nothing(file: str) -> None:
    html = view_html(file)
    policy = policy_of(html)
    assert policy["default-src"] == ["'none'"]
    assert policy["connect-src"] == ["'none'"]
    assert policy["script-src"] == hashes_of(html, "script")  # by hash: no 'unsafe-inline'
    assert policy["style-src"] == hashes_of(html, "style")
    assert policy["img-src"] == ["data:"]
    # No element loads anything: no src or href attribute, no stylesheet link, no @import.
    assert re.search(r"<(script|img|link|iframe)\b[^>]*\b(src|href)=", html) is None
    assert "@import" not in html
