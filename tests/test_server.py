"""The server in memory: listing per role, annotations, structured output, plain errors."""

from __future__ import annotations

import inspect
import json
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult, TextResourceContents
from pydantic import SecretStr

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.guard.loader import parse_policy
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.server import build_server
from cs_mcp.toolkit.registry import registered_tools
from tests.conftest import SandboxStack
from tests.helpers import full_env, text_of

pytestmark = pytest.mark.anyio

FULL_ENV = full_env("blt_api_key_1234", "cs_management_token_1234", "blt_authtoken_1234", "org_1")

CONTENT_TYPES: dict[str, Any] = {
    "content_types": [
        {
            "uid": "blog_post",
            "title": "Blog\u202e post",
            "schema": [
                {"uid": "title", "data_type": "text", "mandatory": True, "display_name": "Title"},
                {"uid": "author", "data_type": "reference", "reference_to": ["author"], "multiple": False},
                {
                    "uid": "seo",
                    "data_type": "group",
                    "schema": [{"uid": "keywords", "data_type": "text", "multiple": True}],
                },
                {
                    "uid": "sections",
                    "data_type": "blocks",
                    "multiple": True,
                    "blocks": [{"uid": "hero", "title": "Hero", "schema": [{"uid": "image", "data_type": "file"}]}],
                },
            ],
        }
    ],
    "count": 1,
}


def stack_handler(request: httpx2.Request) -> httpx2.Response:
    path = request.url.path
    if path.endswith("/content_types"):
        return httpx2.Response(200, json=CONTENT_TYPES)
    if path.endswith("/content_types/blog_post"):
        return httpx2.Response(200, json={"content_type": CONTENT_TYPES["content_types"][0]})
    if "/content_types/" in path:
        return httpx2.Response(422, json={"error_message": "The Content Type was not found.", "error_code": 118})
    if path.endswith("/environments"):
        return httpx2.Response(200, json={"environments": [{"name": "development"}, {"name": "production"}]})
    if path.endswith("/locales"):
        return httpx2.Response(
            200, json={"locales": [{"code": "en-us", "name": "English"}, {"code": "fr-fr", "fallback_locale": "en-us"}]}
        )
    return httpx2.Response(404, json={"error_message": "no route", "error_code": 0})


def make_server(role: str = "viewer", env: dict[str, str] | None = None):
    return build_server(
        Settings.from_env(env if env is not None else FULL_ENV),
        guard=Guard(builtin_policy()),
        stdio_role=role,
        transport=httpx2.MockTransport(stack_handler),
    )


async def test_every_tool_lists_only_the_annotations_that_differ_from_the_spec_defaults() -> None:
    async with Client(make_server("admin")) as client:
        tools = (await client.list_tools()).tools
    specs = {spec.name: spec for spec in registered_tools()}
    assert tools
    for tool in tools:
        a = tool.annotations
        spec = specs[tool.name]
        assert a is not None, tool.name
        # Read with the specification's defaults, the hints say what the declaration says.
        assert (a.read_only_hint or False) == spec.read_only, tool.name
        assert (a.open_world_hint is not False) == spec.open_world, tool.name
        if not spec.read_only:
            assert (a.destructive_hint is not False) == spec.destructive, tool.name
            assert (a.idempotent_hint or False) == spec.idempotent, tool.name
        # No hint equal to its default is listed.
        assert a.read_only_hint is not False, tool.name
        assert a.destructive_hint is not True, tool.name
        assert a.idempotent_hint is not False, tool.name
        assert a.open_world_hint is not True, tool.name
        assert tool.output_schema is not None, f"{tool.name} has no structured output"


def test_every_registered_tool_declares_scopes_and_a_description() -> None:
    for spec in registered_tools():
        assert spec.scopes, spec.name
        assert len(spec.description) > 40, spec.name
        if not spec.read_only:
            parameters = inspect.signature(spec.fn).parameters
            assert "dry_run" in parameters, f"{spec.name} is a write without dry_run"
            # Any tool may be listed under [confirm] tools, so every write must take the token back.
            assert "confirmation_token" in parameters, f"{spec.name} cannot be confirmed with a token"


async def test_a_viewer_sees_no_write_tool() -> None:
    async with Client(make_server("viewer")) as client:
        tools = (await client.list_tools()).tools
    assert tools
    assert all(t.annotations is not None and t.annotations.read_only_hint for t in tools)


async def test_the_listing_is_built_once_and_answered_the_same_every_time() -> None:
    server = make_server("editor")
    built: list[str] = []

    async def count_listings(ctx: Any, call_next: Any) -> Any:
        # Placed behind the listing guard: sees every tools/list the guard does not answer itself.
        if ctx.method == "tools/list":
            built.append(ctx.method)
        return await call_next(ctx)

    server.middleware.append(count_listings)
    async with Client(server) as client:
        first = (await client.list_tools()).tools
        second = (await client.list_tools()).tools
        third = (await client.list_tools()).tools
    assert first == second == third
    assert first
    assert len(built) == 1


async def test_a_listing_after_the_policy_changed_is_the_new_policys() -> None:
    guard = Guard(builtin_policy())
    server = build_server(
        Settings.from_env(FULL_ENV), guard=guard, stdio_role="editor", transport=httpx2.MockTransport(stack_handler)
    )
    async with Client(server) as client:
        before = (await client.list_tools()).tools
        # The editor's scopes become the viewer's while the server runs.
        roles = guard.policy.roles
        editor = roles["editor"].model_copy(update={"scopes": roles["viewer"].scopes})
        guard.policy = guard.policy.model_copy(update={"roles": {**roles, "editor": editor}})
        after = (await client.list_tools()).tools
        guard.policy = Guard(builtin_policy()).policy
        again = (await client.list_tools()).tools
    async with Client(make_server("viewer")) as viewer:
        viewers = (await viewer.list_tools()).tools
    assert any(not (t.annotations and t.annotations.read_only_hint) for t in before)
    assert after == viewers
    assert again == before


async def test_a_role_without_scopes_sees_nothing_and_cannot_call() -> None:
    async with Client(make_server("nobody")) as client:
        assert (await client.list_tools()).tools == []
        result = await client.call_tool("get_content_type", {"content_type": "blog_post"})
    assert result.is_error


async def test_toolsets_without_credentials_are_not_listed_and_describe_stack_says_what_to_set() -> None:
    env = {"CONTENTSTACK_API_KEY": "k", "CONTENTSTACK_MANAGEMENT_TOKEN": "m"}
    async with Client(make_server("admin", env)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("describe_stack", {})
    assert "describe_stack" in names
    assert not any(spec.name in names for spec in registered_tools() if spec.toolset in ("analytics", "automations"))
    assert result.structured_content is not None
    assert "CONTENTSTACK_AUTHTOKEN" in result.structured_content["toolsets"]["analytics"]


async def test_describe_stack_answers_structured_output_with_master_locale_and_permissions() -> None:
    async with Client(make_server("viewer")) as client:
        result = await client.call_tool("describe_stack", {})
    assert not result.is_error
    data = result.structured_content
    assert data is not None
    assert data["environments"] == ["development", "production"]
    assert [(loc["code"], loc["master"]) for loc in data["locales"]] == [("en-us", True), ("fr-fr", False)]
    assert data["content_types"] == [{"uid": "blog_post", "title": "Blog post", "field_count": 4}]
    assert data["permissions"]["role"] == "viewer"
    assert data["permissions"]["read_only"] is True


async def test_get_content_type_answers_a_compact_schema_with_nested_fields() -> None:
    async with Client(make_server()) as client:
        result = await client.call_tool("get_content_type", {"content_type": "blog_post"})
    data = result.structured_content
    assert data is not None
    fields = {f["uid"]: f for f in data["fields"]}
    assert fields["title"]["required"] is True
    assert fields["author"]["reference_to"] == ["author"]
    assert fields["seo"]["fields"][0]["uid"] == "keywords"
    assert fields["sections"]["blocks"][0]["fields"][0]["type"] == "file"


async def test_an_unknown_content_type_is_a_tool_error_that_lists_the_known_ones() -> None:
    async with Client(make_server()) as client:
        result = await client.call_tool("get_content_type", {"content_type": "nope"})
    assert result.is_error
    assert "blog_post" in text_of(result)


async def test_a_bad_argument_is_a_tool_error_not_a_crash() -> None:
    async with Client(make_server()) as client:
        result = await client.call_tool("get_content_type", {"content_type": ""})
        missing = await client.call_tool("get_content_type", {})
    assert result.is_error
    assert missing.is_error
    # In our words, naming the argument: no pydantic report.
    assert "'content_type'" in text_of(result)
    assert "'content_type'" in text_of(missing)
    assert "validation error" not in text_of(result) + text_of(missing)


async def test_a_contentstack_failure_reaches_the_model_in_plain_words() -> None:
    def unauthorized(_request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(401, json={"error_message": "Bad token cs_management_token_1234", "error_code": 105})

    server = build_server(Settings.from_env(FULL_ENV), transport=httpx2.MockTransport(unauthorized))
    async with Client(server) as client:
        result = await client.call_tool("describe_stack", {})
    assert result.is_error
    text = text_of(result)
    assert "invalid or expired" in text
    assert "cs_management_token_1234" not in text


@pytest.mark.anyio
async def test_a_configured_token_stored_in_stack_content_is_answered_redacted(on_sandbox: SandboxStack) -> None:
    # The server's own credential must not reach a principal through the content it reads (an
    # editor pasted it into an entry) or through a plan that repeats an argument.
    token = DEMO_CREDENTIALS.management_token
    on_sandbox.save_content_type("article", [{"uid": "title", "data_type": "text"}])
    on_sandbox.save_entry("article", "art1", {"title": f"the key is {token}"})
    async with on_sandbox.client("admin", guard=Guard(builtin_policy())) as client:
        read = await client.call_tool("get_entry", {"content_type": "article", "uid": "art1"})
        plan = await client.call_tool("create_release", {"name": f"Launch {token}", "dry_run": True})
    for result in (read, plan):
        assert not result.is_error, text_of(result)
        assert token not in result.model_dump_json()
    assert read.structured_content is not None
    assert read.structured_content["entry"]["title"] == "the key is [redacted]"


@pytest.mark.anyio
async def test_a_configured_secret_that_json_escapes_is_still_found_in_structured_content(
    on_sandbox: SandboxStack,
) -> None:
    # A Redis URL's password or a secret key may hold a quote or a backslash, which JSON writes
    # escaped: the search for it in an answer must look for it as written there.
    secret = 'k3y"with\\odd'
    settings = on_sandbox.settings.model_copy(update={"secret_key": SecretStr(secret)})
    on_sandbox.save_content_type("article", [{"uid": "title", "data_type": "text"}])
    on_sandbox.save_entry("article", "art1", {"title": f"the key is {secret}"})
    server = build_server(
        settings, backend="sandbox", guard=Guard(builtin_policy()), stdio_role="admin", transport=on_sandbox.transport
    )
    async with Client(server) as client:
        read = await client.call_tool("get_entry", {"content_type": "article", "uid": "art1"})
    assert not read.is_error, text_of(read)
    assert read.structured_content is not None
    assert read.structured_content["entry"]["title"] == "the key is [redacted]"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_configured_token_quoted_in_an_argument_is_cut_out_of_the_preview_a_human_is_asked_with(
    on_sandbox: SandboxStack, mode: str
) -> None:
    # The preview travels in an elicitation request, outside the tool answer: mid-call on older
    # protocol revisions ("legacy"), in an InputRequiredResult on newer ones ("auto").
    token = DEMO_CREDENTIALS.management_token
    shown: list[str] = []

    async def record(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        shown.append(params.model_dump_json())
        return ElicitResult(action="decline")

    guard = Guard(parse_policy('[confirm]\ntools = ["create_release"]\n'))
    server = build_server(
        on_sandbox.settings, backend="sandbox", guard=guard, stdio_role="admin", transport=on_sandbox.transport
    )
    with anyio.fail_after(10):
        async with Client(server, mode=mode, elicitation_callback=record) as client:
            result = await client.call_tool("create_release", {"name": f"Launch {token}"})
    assert result.is_error
    assert on_sandbox.writes() == []
    [preview] = shown
    assert "Launch [redacted]" in preview
    assert token not in preview


@pytest.mark.anyio
async def test_a_configured_token_stored_in_stack_content_is_read_redacted_from_a_resource(
    on_sandbox: SandboxStack,
) -> None:
    token = DEMO_CREDENTIALS.management_token
    on_sandbox.save_content_type("article", [{"uid": "title", "data_type": "text", "display_name": f"Key {token}"}])
    async with on_sandbox.client("admin", guard=Guard(builtin_policy())) as client:
        read = await client.read_resource("contentstack://content-types/article")
    assert token not in read.model_dump_json()
    [content] = read.contents
    assert isinstance(content, TextResourceContents)
    assert json.loads(content.text)["fields"][0]["display_name"] == "Key [redacted]"
