"""Listed schemas every client accepts, and the server's own check of a call's arguments."""

from __future__ import annotations

import json
from typing import Any, cast

import httpx2
import pytest
from mcp import Client
from pydantic import TypeAdapter, ValidationError

from cs_mcp.config import Settings
from cs_mcp.server import build_server
from cs_mcp.toolkit.identifiers import IDENTIFIER_PATTERN
from cs_mcp.toolkit.registry import registered_tools
from cs_mcp.toolkit.schema import JsonObjectText, check_arguments, compact_schema
from tests.helpers import text_of

ENV = {
    "CONTENTSTACK_API_KEY": "blt_api_key_1234",
    "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_management_token_1234",
    "CONTENTSTACK_AUTHTOKEN": "blt_authtoken_1234",
    "CONTENTSTACK_ORGANIZATION_UID": "org_1",
}


def type_lists(node: Any) -> list[Any]:
    """Every `type` that is a list, anywhere in a schema."""
    if isinstance(node, list):
        return [t for item in cast(list[Any], node) for t in type_lists(item)]
    if not isinstance(node, dict):
        return []
    schema = cast(dict[str, Any], node)
    found = [schema["type"]] if isinstance(schema.get("type"), list) else []
    return found + [t for value in schema.values() for t in type_lists(value)]


def test_generated_titles_go_but_a_property_named_title_stays() -> None:
    schema = {
        "title": "Entry",
        "type": "object",
        "properties": {"title": {"title": "Title", "type": "string"}, "uid": {"title": "Uid", "type": "string"}},
        "required": ["title", "uid"],
    }
    assert compact_schema(schema) == {
        "title": "Entry",
        "type": "object",
        "properties": {"title": {"type": "string"}, "uid": {"type": "string"}},
        "required": ["title", "uid"],
        "additionalProperties": False,
    }


def test_an_optional_argument_without_a_value_default_is_listed_as_a_union_with_null() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "locale": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "description": "d"},
            "cursor": {"type": "string", "description": "c"},
        },
    }
    listed = compact_schema(schema)["properties"]
    assert listed["locale"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "d"}
    assert listed["cursor"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "c"}


def test_an_optional_argument_whose_default_is_a_value_is_listed_as_its_type_with_the_default_in_words() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "limit": {"type": "integer", "default": 25, "description": "n"},
            "dry_run": {"type": "boolean", "default": False},
            "page": {"type": "integer", "default": 0},
        },
    }
    listed = compact_schema(schema)["properties"]
    assert listed["page"] == {"type": "integer", "description": "Default: 0."}
    assert listed["limit"] == {"type": "integer", "description": "n. Default: 25."}
    assert listed["dry_run"] == {"type": "boolean"}


def test_a_listed_input_schema_leaves_patterns_to_the_server_whose_refusal_names_the_characters() -> None:
    schema = {
        "type": "object",
        "properties": {"uid": {"type": "string", "pattern": IDENTIFIER_PATTERN}},
        "required": ["uid"],
    }
    assert "pattern" not in json.dumps(compact_schema(schema))
    specs = {spec.name: spec for spec in registered_tools()}
    get = specs["get_entry"]
    _, problems = check_arguments(get.fn, get.name, {"content_type": "blog_post", "uid": "../etc"})
    assert len(problems) == 1
    assert "'uid'" in problems[0]
    assert "letters, digits" in problems[0]


def test_definitions_are_inlined_and_every_nested_object_is_closed() -> None:
    schema = {
        "$defs": {"Item": {"type": "object", "properties": {"uid": {"type": "string"}}, "required": ["uid"]}},
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}}},
        "required": ["items"],
    }
    listed = compact_schema(schema)
    assert "$defs" not in listed
    assert "$ref" not in json.dumps(listed)
    assert listed["properties"]["items"]["items"] == {
        "type": "object",
        "properties": {"uid": {"type": "string"}},
        "required": ["uid"],
        "additionalProperties": False,
    }
    assert listed["additionalProperties"] is False


def test_an_input_schema_without_arguments_is_a_closed_empty_object() -> None:
    assert compact_schema({"type": "object", "properties": {}}) == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }


def test_a_default_is_said_in_the_description_which_strict_mode_accepts_unlike_the_keyword() -> None:
    schema = {"properties": {"source": {"enum": ["draft", "published"], "default": "draft", "description": "Where."}}}
    listed = compact_schema(schema)["properties"]["source"]
    assert "default" not in listed
    assert listed["description"] == 'Where. Default: "draft".'
    assert "default" not in compact_schema(schema, output=True)["properties"]["source"]


def test_an_output_schema_is_listed_as_the_types_of_its_top_level_properties() -> None:
    schema = {
        "$defs": {
            "Item": {"type": "object", "properties": {"uid": {"type": "string"}}},
            "Kind": {"enum": ["a", "b"]},
        },
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "description": "d"},
            "item": {"anyOf": [{"$ref": "#/$defs/Item"}, {"type": "null"}]},
            "kind": {"$ref": "#/$defs/Kind"},
            "count": {"type": "integer", "default": 0},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        },
    }
    assert compact_schema(schema, output=True) == {
        "type": "object",
        "properties": {
            "items": {"type": "array"},
            "item": {"anyOf": [{"type": "object"}, {"type": "null"}]},
            "kind": {"type": "string"},
            "count": {"type": "integer"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
    }


def test_a_json_object_argument_takes_text_or_an_object_and_refuses_anything_else() -> None:
    adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(JsonObjectText)
    assert adapter.validate_python('{"title": "Hi"}') == {"title": "Hi"}
    assert adapter.validate_python({"title": "Hi"}) == {"title": "Hi"}
    assert adapter.json_schema() == {"type": "string"}
    for bad in ('{"title": ', "[1, 2]", 3):
        with pytest.raises(ValidationError) as caught:
            adapter.validate_python(bad)
        assert caught.value.errors()[0]["type"] == "value_error"


@pytest.mark.parametrize(("form", "depth"), [("text", 300), ("object", 300), ("text", 5000)])
def test_a_json_object_argument_nested_deeper_than_any_content_is_refused_as_a_bad_value(form: str, depth: int) -> None:
    # Deeper than the audit log's serializer (300) or Python's parser (5000) can go: refused,
    # never a crash.
    text = '{"title": ' + "[" * depth + "]" * depth + "}"
    value: Any = text if form == "text" else json.loads(text)
    adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(JsonObjectText)
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(value)
    assert caught.value.errors()[0]["type"] == "value_error"


@pytest.mark.parametrize(
    "text", ['{"rating": NaN}', '{"rating": -Infinity}', '{"rating": 1e999}', '{"title": "\\ud800"}']
)
def test_a_json_object_argument_that_json_cannot_carry_is_refused_as_a_bad_value(text: str) -> None:
    # Python reads NaN, infinities and lone surrogates; JSON and UTF-8 carry none of them.
    adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(JsonObjectText)
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(text)
    assert caught.value.errors()[0]["type"] == "value_error"


# -- the server's check of a call's arguments, in memory ------------------------------------


class Recorder:
    """A stack that answers every request with an empty list and remembers what it was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return httpx2.Response(200, json={"entries": [], "count": 0, "assets": [], "content_types": []})


@pytest.fixture
def stack() -> Recorder:
    return Recorder()


def server_for(stack: Recorder):
    return build_server(Settings.from_env(ENV), stdio_role="admin", transport=httpx2.MockTransport(stack))


@pytest.mark.anyio
async def test_every_listed_input_schema_is_closed_inlined_and_free_of_type_lists(stack: Recorder) -> None:
    async with Client(server_for(stack)) as client:
        tools = (await client.list_tools()).tools
    assert len(tools) == 30
    for tool in tools:
        text = json.dumps(tool.input_schema)
        assert tool.input_schema["additionalProperties"] is False, tool.name
        assert "$ref" not in text, tool.name
        assert "$defs" not in text, tool.name
        assert '"additionalProperties": true' not in text, tool.name
        assert type_lists(tool.input_schema) == [], tool.name
        assert '"default":' not in text, tool.name
        assert type_lists(tool.output_schema) == [], tool.name


@pytest.mark.anyio
async def test_a_misspelt_argument_is_refused_by_name_with_the_right_one_and_nothing_is_sent(stack: Recorder) -> None:
    async with Client(server_for(stack)) as client:
        result = await client.call_tool("query_entries", {"content_type": "blog_post", "limitt": 2})
    assert result.is_error
    text = text_of(result)
    assert "'limitt'" in text
    assert "'limit'" in text
    assert stack.requests == []


@pytest.mark.anyio
async def test_an_unknown_key_inside_an_item_is_refused_with_its_path(stack: Recorder) -> None:
    items = [{"type": "entry", "content_type": "blog_post", "uid": "blt1", "versoin": 2}]
    async with Client(server_for(stack)) as client:
        result = await client.call_tool("publish", {"items": items, "environments": ["development"]})
    assert result.is_error
    assert "'items[0].versoin'" in text_of(result)
    assert "'version'" in text_of(result)
    assert stack.requests == []


@pytest.mark.anyio
async def test_argument_errors_are_one_plain_sentence_each_without_pydantic_text(stack: Recorder) -> None:
    async with Client(server_for(stack)) as client:
        result = await client.call_tool("query_entries", {"limit": 1000, "source": "live"})
    assert result.is_error
    lines = text_of(result).splitlines()
    assert len(lines) == 4  # three problems and what to do
    assert [line.split("'")[1] for line in lines[:3]] == ["content_type", "source", "limit"]
    assert "pydantic" not in text_of(result)
    assert "validation error" not in text_of(result)
    assert "an integer from 1 to 100" in lines[2]
    assert stack.requests == []


@pytest.mark.anyio
async def test_null_for_an_optional_argument_means_its_default(stack: Recorder) -> None:
    arguments: dict[str, Any] = {
        "content_type": "blog_post",
        "query": None,
        "source": None,
        "environment": None,
        "locale": None,
        "fields": None,
        "include_references": None,
        "sort": None,
        "limit": None,
        "cursor": None,
    }
    async with Client(server_for(stack)) as client:
        result = await client.call_tool("query_entries", arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["source"] == "draft"


@pytest.mark.anyio
async def test_fields_given_as_text_that_is_not_a_json_object_are_refused_before_anything_is_sent(
    stack: Recorder,
) -> None:
    async with Client(server_for(stack)) as client:
        result = await client.call_tool("create_entry", {"content_type": "blog_post", "fields": '{"title": '})
    assert result.is_error
    assert "'fields'" in text_of(result)
    assert "JSON" in text_of(result)
    assert stack.requests == []


def test_a_null_inside_an_item_means_that_key_s_default_and_a_meaningful_null_is_kept() -> None:
    specs = {spec.name: spec for spec in registered_tools()}
    item = {"type": "entry", "content_type": "blog_post", "uid": "blt1", "version": None, "locale": None}
    add = specs["add_release_items"]
    cleaned, problems = check_arguments(add.fn, add.name, {"release_uid": "r1", "items": [{**item, "action": None}]})
    assert problems == []
    assert "action" not in cleaned["items"][0]  # not nullable: null stands for "publish"
    assert cleaned["items"][0]["version"] is None  # nullable: null is a value the tool takes
    update = specs["update_release"]
    cleaned, problems = check_arguments(update.fn, update.name, {"release_uid": "r1", "locked": None, "dry_run": None})
    assert problems == []
    assert cleaned == {"release_uid": "r1", "locked": None}
