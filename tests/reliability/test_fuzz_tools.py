"""Property-based fuzzing of every tool's arguments: whatever the model sends, and whatever
Contentstack answers, no unexpected exception reaches the model as "Error executing tool"."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any, cast

import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp_types import Tool

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.server import build_server
from tests._examples import EXAMPLES
from tests.helpers import UNPACED, text_of

ENV = {
    "CONTENTSTACK_API_KEY": "blt_fuzz_api_key",
    "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_fuzz_management_token",
    "CONTENTSTACK_AUTHTOKEN": "blt_fuzz_authtoken",
    "CONTENTSTACK_ORGANIZATION_UID": "org_fuzz",
    "CS_MCP_DELIVERY_TOKENS": "development=cs_fuzz_dev,production=cs_fuzz_prod",
    "CS_MCP_TOOLSETS": "all",  # every tool of the shared examples is served
}

BLOG = {"uid": "blog_post", "title": "Blog", "schema": [{"uid": "title", "data_type": "text"}]}
NOT_FOUND = {"error_message": "The requested object doesn't exist.", "error_code": 141, "errors": {"uid": ["invalid"]}}

# Answers the mock stack picks from: plausible, empty, malformed, and refusals.
_ANSWERS: list[tuple[int, Any]] = [
    (200, {"entries": [], "count": 0}),
    (200, {"entry": {"uid": "blt1", "title": "t", "_version": 1, "locale": "en-us"}}),
    (
        200,
        {"content_types": [{"uid": "blog_post", "title": "Blog", "schema": [{"uid": "title", "data_type": "text"}]}]},
    ),
    (200, {"content_type": {"uid": "blog_post", "title": "Blog", "schema": [{"uid": "title", "data_type": "text"}]}}),
    (200, {"environments": [{"name": "development"}], "locales": [{"code": "en-us"}]}),
    (200, {"releases": [], "release": {"uid": "r1", "name": "n", "items": []}, "items": []}),
    (200, {"jobId": "j1", "paginated": False, "data": [], "meta": {}}),
    (200, {"rules": [], "projects": [], "data": [], "notice": "ok"}),
    (200, {"unexpected": [1, 2, {"deep": None}]}),
    (200, b"{truncated"),
    (200, b"[]"),
    (
        422,
        {
            "error_message": "The requested object doesn't exist.",
            "error_code": 141,
            "errors": {"uid": ["is not valid."]},
        },
    ),
    (401, {"error_message": "Invalid token.", "error_code": 105}),
    (403, {"error_message": "No permission.", "error_code": 316}),
    (400, b"<html>bad request</html>"),
]


# Requests whose path or query a hostile value changed beyond its own segment.
VIOLATIONS: list[str] = []
_PREFIXES = ("/v3/", "/analytics/v2/", "/v1/")


def check_request(request: httpx2.Request) -> None:
    raw = request.url.raw_path.decode()
    path = raw.partition("?")[0]
    if not path.startswith(_PREFIXES):
        VIOLATIONS.append(f"path outside the API: {path}")
    if any(seg in (".", "..") for seg in path.split("/")):
        VIOLATIONS.append(f"dot segment in path: {path}")
    if "#" in raw:
        VIOLATIONS.append(f"fragment in request: {raw}")


def make_handler(seed: int) -> Callable[[httpx2.Request], httpx2.Response]:
    rng = random.Random(seed)

    def handler(request: httpx2.Request) -> httpx2.Response:
        check_request(request)
        status, body = rng.choice(_ANSWERS)
        if isinstance(body, bytes):
            return httpx2.Response(status, content=body)
        return httpx2.Response(status, json=body)

    return handler


@pytest.fixture(scope="module")
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal(backend="asyncio") as p:
        yield p


@pytest.fixture(scope="module")
def connected(portal: BlockingPortal) -> Iterator[tuple[Client, list[Tool]]]:
    server = build_server(
        Settings.from_env(ENV),
        guard=Guard(builtin_policy()),
        stdio_role="admin",
        transport=httpx2.MockTransport(make_handler(7)),
        rate_limits=UNPACED,
    )
    with portal.wrap_async_context_manager(Client(server)) as client:
        yield client, portal.call(client.list_tools).tools


JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.text(max_size=30)
)
JUNK = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "../..",
        "a/b?c=d#e",
        "blog_post",
        "production",
        "Production",
        "en-us",
        "\u202eevil",
        "x" * 300,
        "2020-01-01",
        "2999-12-31",
        '{"title": {"$where": "1"}}',
        '{"title": "x"}',
        "null",
        "😀",
    ]
)


def schema_strategy(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for `schema`, mostly well-typed, sometimes not."""
    if depth > 4:
        return JSON_LEAF
    if "$ref" in schema:
        return schema_strategy(defs.get(str(schema["$ref"]).split("/")[-1], {}), defs, depth + 1)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = cast(list[dict[str, Any]], schema[key])
            return st.one_of([schema_strategy(b, defs, depth + 1) for b in branches])
    if "enum" in schema:
        return st.sampled_from(cast(list[Any], schema["enum"])) | HOSTILE_TEXT
    if "const" in schema:
        return st.just(schema["const"]) | HOSTILE_TEXT
    kind = schema.get("type")
    kinds = cast(list[str], kind) if isinstance(kind, list) else [kind]
    options: list[st.SearchStrategy[Any]] = []
    for k in kinds:
        if k == "string":
            options.append(HOSTILE_TEXT | st.text(max_size=40))
        elif k == "integer":
            options.append(st.integers(-5, 500) | st.integers())
        elif k == "number":
            options.append(st.floats(allow_nan=False, allow_infinity=False))
        elif k == "boolean":
            options.append(st.booleans())
        elif k == "null":
            options.append(st.none())
        elif k == "array":
            items = cast(dict[str, Any], schema.get("items", {}))
            options.append(st.lists(schema_strategy(items, defs, depth + 1), max_size=4))
        elif k == "object":
            options.append(object_strategy(schema, defs, depth + 1))
    if not options:
        return JUNK
    return st.one_of(options) | JUNK if depth > 0 else st.one_of(options)


def object_strategy(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    properties = cast(dict[str, dict[str, Any]], schema.get("properties", {}))
    if not properties:
        return st.dictionaries(st.text(max_size=8), JSON_LEAF, max_size=3)
    return st.fixed_dictionaries(
        {}, optional={name: schema_strategy(sub, defs, depth) for name, sub in properties.items()}
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_no_tool_lets_an_unexpected_exception_reach_the_model(
    name: str, data: st.DataObject, connected: tuple[Client, list[Tool]], portal: BlockingPortal
) -> None:
    client, tools = connected
    tool = next(t for t in tools if t.name == name)
    defs = cast(dict[str, Any], tool.input_schema.get("$defs", {}))
    # Drawn from the schema, or a valid example with one argument drawn from the schema instead.
    drawn = data.draw(object_strategy(tool.input_schema, defs), label="arguments")
    arguments = data.draw(st.sampled_from([drawn, {**EXAMPLES[name], **dict(list(drawn.items())[:1])}]))
    if "dry_run" in cast(dict[str, Any], tool.input_schema.get("properties", {})):
        # Writes run as dry runs half the time, and for real against the mock the other half.
        arguments.setdefault("dry_run", data.draw(st.booleans()))
    result = portal.call(client.call_tool, name, arguments)
    text = text_of(result)
    assert text.strip() != f"Error executing tool {name}", f"{name} crashed on {json.dumps(arguments)[:300]}"
    assert not VIOLATIONS, VIOLATIONS[:3]
    for secret in ENV.values():
        if secret.startswith(("cs_", "blt_")):
            assert secret not in text
