"""Completions in memory: stack object names for prompt arguments and resource template uids."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp_types import PromptReference, ResourceTemplateReference

from cs_mcp.completions import MAX_VALUES, match, register_completions
from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.guard.policy import Policy, RoleSpec, resolve_roles
from cs_mcp.prompts import load_prompts, register_prompts
from cs_mcp.resources import register_resources
from cs_mcp.server import build_server
from cs_mcp.toolkit.context import AppState

pytestmark = pytest.mark.anyio

ENV = {"CONTENTSTACK_API_KEY": "blt_api_key_1234", "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_management_token_1234"}
CONTENT_TYPES = ["blog_post", "Banner", "author", "page"]


def stack(request: httpx2.Request, sent: list[str]) -> httpx2.Response:
    path = request.url.path.removeprefix("/v3")
    sent.append(path)
    body: dict[str, Any]
    if path == "/content_types":
        body = {"content_types": [{"uid": uid, "title": uid, "schema": []} for uid in CONTENT_TYPES], "count": 4}
    elif path == "/environments":
        body = {"environments": [{"name": "staging"}, {"name": "production"}, {"name": "preview"}]}
    elif path == "/locales":
        body = {"locales": [{"code": "en-us"}, {"code": "fr-fr", "fallback_locale": "en-us"}]}
    elif path == "/releases":
        body = {"releases": [{"uid": "rel_spring", "name": "Spring"}, {"uid": "rel_summer", "name": "Summer"}]}
    else:
        return httpx2.Response(404, json={"error_message": "no route", "error_code": 0})
    return httpx2.Response(200, json=body)


def make_server(role: str = "viewer", guard: Guard | None = None, sent: list[str] | None = None) -> MCPServer[AppState]:
    log: list[str] = sent if sent is not None else []
    server = build_server(
        Settings.from_env(ENV),
        guard=guard or Guard(builtin_policy()),
        stdio_role=role,
        transport=httpx2.MockTransport(lambda request: stack(request, log)),
    )
    register_prompts(server, load_prompts())
    register_resources(server)
    register_completions(server)
    return server


def prompt(name: str) -> PromptReference:
    return PromptReference(type="ref/prompt", name=name)


def template(uri: str) -> ResourceTemplateReference:
    return ResourceTemplateReference(type="ref/resource", uri=uri)


async def test_the_server_advertises_completions() -> None:
    async with Client(make_server()) as client:
        assert client.server_capabilities.completions is not None


async def test_a_content_type_argument_completes_by_prefix_case_insensitively() -> None:
    async with Client(make_server()) as client:
        result = await client.complete(prompt("content-audit"), {"name": "content_type", "value": "b"})
        everything = await client.complete(prompt("content-audit"), {"name": "content_type", "value": ""})
    assert result.completion.values == ["Banner", "blog_post"]
    assert result.completion.total == 2
    assert result.completion.has_more is False
    assert sorted(everything.completion.values) == sorted(CONTENT_TYPES)


async def test_environments_and_locales_complete_the_last_item_of_a_list() -> None:
    async with Client(make_server()) as client:
        envs = await client.complete(prompt("publish-checklist"), {"name": "environments", "value": "staging, pr"})
        single = await client.complete(prompt("content-audit"), {"name": "environment", "value": "st"})
        locales = await client.complete(prompt("publish-checklist"), {"name": "locales", "value": "f"})
    assert envs.completion.values == ["staging,production", "staging,preview"]
    assert single.completion.values == ["staging"]
    assert locales.completion.values == ["fr-fr"]


Reference = PromptReference | ResourceTemplateReference
# One completion: what is completed, its argument, and the values it must offer.
Completion = tuple[Reference, dict[str, str], list[str]]
# Two completions of the same stack objects, one after the other, and the path they read once.
CACHED: dict[str, tuple[Completion, Completion, str]] = {
    "release uids, for the prompt and the resource template": (
        (prompt("plan-release"), {"name": "release_uid", "value": "rel_su"}, ["rel_summer"]),
        (template("contentstack://releases/{uid}"), {"name": "uid", "value": "rel"}, ["rel_spring", "rel_summer"]),
        "/releases",
    ),
    "content type uids, for the resource template and the prompt": (
        (template("contentstack://content-types/{uid}"), {"name": "uid", "value": "pa"}, ["page"]),
        (prompt("publish-checklist"), {"name": "content_type", "value": "a"}, ["author"]),
        "/content_types",
    ),
}


@pytest.mark.parametrize(("first", "then", "path"), CACHED.values(), ids=CACHED.keys())
async def test_uids_complete_from_metadata_read_once_for_both(first: Completion, then: Completion, path: str) -> None:
    sent: list[str] = []
    async with Client(make_server(sent=sent)) as client:
        answers = [await client.complete(ref, argument) for ref, argument, _values in (first, then)]
    assert [a.completion.values for a in answers] == [first[2], then[2]]
    assert sent.count(path) == 1  # cached between the two


async def test_arguments_that_name_no_stack_object_complete_to_nothing() -> None:
    sent: list[str] = []
    async with Client(make_server(sent=sent)) as client:
        by_name = await client.complete(prompt("plan-release"), {"name": "name", "value": "S"})
        unknown_template = await client.complete(template("contentstack://other/{uid}"), {"name": "uid", "value": ""})
    assert by_name.completion.values == []
    assert unknown_template.completion.values == []
    assert sent == []


async def test_a_role_that_may_not_read_releases_gets_no_release_uids() -> None:
    sent: list[str] = []
    policy = Policy(roles=resolve_roles({"schema_only": RoleSpec(scopes=["cm.content-type:read"])}))
    async with Client(make_server("schema_only", guard=Guard(policy), sent=sent)) as client:
        releases = await client.complete(prompt("plan-release"), {"name": "release_uid", "value": ""})
        types = await client.complete(prompt("content-audit"), {"name": "content_type", "value": "p"})
    assert releases.completion.values == []
    assert types.completion.values == ["page"]
    assert "/releases" not in sent


def test_at_most_one_hundred_values_are_answered_and_the_total_is_told() -> None:
    candidates = [f"type_{i:03d}" for i in range(250)]
    completion = match(candidates, "TYPE_")
    assert len(completion.values) == MAX_VALUES
    assert completion.total == 250
    assert completion.has_more is True


def test_a_list_does_not_offer_an_item_already_chosen() -> None:
    completion = match(["staging", "production"], "staging,", is_list=True)
    assert completion.values == ["staging,production"]
