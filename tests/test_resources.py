"""Resources read in memory against a mock stack: schemas, environments, releases, guard, errors."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, ResourceTemplateReference, TextResourceContents

from cs_mcp.completions import register_completions
from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.guard.policy import Policy, RoleSpec, resolve_roles
from cs_mcp.resources import install_request_binding, register_resources
from cs_mcp.sandbox.app import create_app
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState
from cs_mcp.server import build_server

pytestmark = pytest.mark.anyio

ENV = {"CONTENTSTACK_API_KEY": "blt_api_key_1234", "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_management_token_1234"}

BLOG_POST: dict[str, Any] = {
    "uid": "blog_post",
    "title": "Blog\u202e post",
    "schema": [
        {"uid": "title", "data_type": "text", "mandatory": True, "display_name": "Title"},
        {"uid": "author", "data_type": "reference", "reference_to": ["author"]},
        {"uid": "body", "data_type": "json", "field_metadata": {"allow_json_rte": True}},
    ],
}
RELEASE: dict[str, Any] = {"uid": "rel_1", "name": "Spring\u200b launch", "locked": False, "items_count": 3}
RELEASE_ITEMS: list[dict[str, Any]] = [
    {"uid": "blt1", "version": 2, "locale": "en-us", "content_type_uid": "blog_post", "action": "publish"},
    {"uid": "blt2", "version": 1, "locale": "en-us", "content_type_uid": "blog_post", "action": "publish"},
    {"uid": "asset1", "version": 1, "content_type_uid": "built_io_upload", "action": "publish"},
]


def not_found(message: str) -> httpx2.Response:
    return httpx2.Response(422, json={"error_message": message, "error_code": 141})


def stack(request: httpx2.Request) -> httpx2.Response:
    path = request.url.path.removeprefix("/v3")
    if path == "/content_types":
        return httpx2.Response(200, json={"content_types": [BLOG_POST], "count": 1})
    if path == "/content_types/blog_post":
        return httpx2.Response(200, json={"content_type": BLOG_POST})
    if path.startswith("/content_types/"):
        return not_found("The Content Type was not found.")
    if path == "/environments":
        return httpx2.Response(
            200,
            json={
                "environments": [
                    {
                        "name": "staging",
                        "uid": "env_1",
                        "urls": [{"locale": "en-us", "url": "https://staging.example"}],
                    },
                    {"name": "production", "uid": "env_2"},
                ]
            },
        )
    if path == "/releases/rel_1":
        return httpx2.Response(200, json={"release": RELEASE})
    if path == "/releases/rel_1/items":
        limit = int(request.url.params.get("limit", "100"))
        return httpx2.Response(200, json={"items": RELEASE_ITEMS[:limit], "count": len(RELEASE_ITEMS)})
    if path.startswith("/releases/"):
        return not_found("Release was not found.")
    return httpx2.Response(500, json={"error_message": "unexpected", "error_code": 0})


def make_server(role: str = "viewer", guard: Guard | None = None, handler: Any = stack):
    server = build_server(
        Settings.from_env(ENV),
        guard=guard or Guard(builtin_policy()),
        stdio_role=role,
        transport=httpx2.MockTransport(handler),
    )
    register_resources(server)
    return server


async def read_json(client: Client, uri: str) -> Any:
    result = await client.read_resource(uri)
    (content,) = result.contents
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "application/json"
    return json.loads(content.text)


async def test_the_resources_and_templates_are_listed() -> None:
    async with Client(make_server()) as client:
        resources = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    # And the views of the tools a viewer may use (no write preview: a viewer writes nothing).
    assert resources == {"contentstack://environments", "ui://cs-mcp/analytics", "ui://cs-mcp/release"}
    assert templates == {"contentstack://content-types/{uid}", "contentstack://releases/{uid}"}


async def test_a_content_type_resource_is_the_compact_schema_with_clean_text() -> None:
    async with Client(make_server()) as client:
        schema = await read_json(client, "contentstack://content-types/blog_post")
    assert schema["uid"] == "blog_post"
    assert schema["title"] == "Blog post"
    fields = {f["uid"]: f for f in schema["fields"]}
    assert fields["title"]["required"] is True
    assert fields["author"]["reference_to"] == ["author"]
    assert fields["body"]["type"] == "json_rich_text"


UNKNOWN = {
    "an unknown content type": "contentstack://content-types/nope",
    "an unknown release": "contentstack://releases/missing",
}


@pytest.mark.parametrize("uri", UNKNOWN.values(), ids=UNKNOWN.keys())
async def test_reading_an_unknown_object_is_an_invalid_params_error(uri: str) -> None:
    async with Client(make_server()) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource(uri)
    assert caught.value.error.code == INVALID_PARAMS


async def test_the_environments_resource_lists_names_uids_and_urls() -> None:
    async with Client(make_server()) as client:
        answer = await read_json(client, "contentstack://environments")
    assert [e["name"] for e in answer["environments"]] == ["staging", "production"]
    assert answer["environments"][0]["urls"][0]["url"] == "https://staging.example"
    assert "urls" not in answer["environments"][1]


async def test_a_release_resource_holds_its_items() -> None:
    async with Client(make_server()) as client:
        release = await read_json(client, "contentstack://releases/rel_1")
    assert release["name"] == "Spring launch"
    assert release["items_total"] == 3
    assert [i["type"] for i in release["items"]] == ["entry", "entry", "asset"]
    assert release["items"][0] == {
        "type": "entry",
        "content_type": "blog_post",
        "uid": "blt1",
        "version": 2,
        "locale": "en-us",
        "action": "publish",
    }
    assert "truncated" not in release


async def test_a_release_with_more_items_than_fit_says_it_was_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cs_mcp.resources.RELEASE_ITEMS_LIMIT", 2)
    async with Client(make_server()) as client:
        release = await read_json(client, "contentstack://releases/rel_1")
    assert len(release["items"]) == 2
    assert release["truncated"] is True


async def test_a_role_without_the_read_scope_neither_lists_nor_reads_and_nothing_is_sent() -> None:
    sent: list[httpx2.Request] = []

    def recording(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return stack(request)

    policy = Policy(roles=resolve_roles({"schema_only": RoleSpec(scopes=["cm.content-type:read"])}))
    server = make_server("schema_only", guard=Guard(policy), handler=recording)
    async with Client(server) as client:
        assert (await client.list_resources()).resources == []
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["contentstack://content-types/{uid}"]
        await read_json(client, "contentstack://content-types/blog_post")
        sent.clear()
        for uri in ("contentstack://environments", "contentstack://releases/rel_1"):
            with pytest.raises(MCPError):
                await client.read_resource(uri)
    assert sent == []


async def test_a_contentstack_failure_is_a_plain_resource_error() -> None:
    def failing(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(401, json={"error_message": "token invalid", "error_code": 105})

    async with Client(make_server(handler=failing)) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource("contentstack://environments")
    assert caught.value.error.code != INVALID_PARAMS
    assert "cs_management_token_1234" not in str(caught.value)


def test_the_request_binding_is_installed_once() -> None:
    server = make_server()
    count = len(server.middleware)
    install_request_binding(server)
    assert len(server.middleware) == count


def sandbox_server() -> Any:
    """The server over an in-process sandbox stack (ASGI, no sockets)."""
    config = SandboxConfig(rate_limits=False)
    app = create_app(SandboxState(config=config, db=Database(config.db_path), clock=SandboxClock()))
    base = "http://sandbox.test"
    env = {
        "CONTENTSTACK_CMA_BASE_URL": f"{base}/cma",
        "CONTENTSTACK_CDA_BASE_URL": f"{base}/cdn",
        "CONTENTSTACK_API_KEY": DEMO_CREDENTIALS.api_key,
        "CONTENTSTACK_MANAGEMENT_TOKEN": DEMO_CREDENTIALS.management_token,
    }
    server = build_server(
        Settings.from_env(env), guard=Guard(builtin_policy()), backend="sandbox", transport=httpx2.ASGITransport(app)
    )
    register_resources(server)
    register_completions(server)
    return server


async def test_every_resource_reads_from_the_sandbox_stack() -> None:
    async with Client(sandbox_server()) as client:
        environments = await read_json(client, "contentstack://environments")
        schema = await read_json(client, "contentstack://content-types/blog_post")
        releases = await client.complete(
            ResourceTemplateReference(type="ref/resource", uri="contentstack://releases/{uid}"),
            {"name": "uid", "value": ""},
        )
        assert releases.completion.values
        release = await read_json(client, f"contentstack://releases/{releases.completion.values[0]}")
    assert "production" in [e["name"] for e in environments["environments"]]
    assert schema["uid"] == "blog_post"
    assert any(f["required"] for f in schema["fields"])
    assert release["uid"] == releases.completion.values[0]
    assert isinstance(release["items"], list)
