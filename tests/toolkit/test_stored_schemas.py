"""The stored schemas the server lists its tools from, against what the declarations give."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool

from cs_mcp.config import Settings
from cs_mcp.server import build_server
from cs_mcp.toolkit import stored_schemas
from cs_mcp.toolkit.registry import TOOLSETS, ToolSpec, registered_tools, resolved
from cs_mcp.toolkit.stored_schemas import (
    StoredTool,
    declarations_text,
    declared_tools,
    generated_declarations,
    generated_schemas,
    sdk_built,
    sdk_tool,
)
from tests.helpers import structured
from tests.test_server import FULL_ENV, stack_handler

pytestmark = pytest.mark.anyio

REGENERATE = "python -m cs_mcp.toolkit.stored_schemas"
# Arguments that do not validate fail before the call's context is read.
NO_CONTEXT: Any = None


def test_every_stored_schema_is_the_one_its_declaration_gives() -> None:
    stored = stored_schemas.every_stored()
    generated = generated_schemas()
    assert set(stored) == set(generated), f"tools and stored schemas differ: run {REGENERATE}"
    changed = [name for name, schemas in generated.items() if stored[name] != schemas]
    assert changed == [], f"stored schemas differ from the declarations of {changed}: run {REGENERATE}"


def test_the_stored_file_is_what_the_regeneration_writes() -> None:
    # The same schemas in the file's own layout: a hand edit shows here, not only as a drift.
    text = stored_schemas.STORED.read_text("utf-8")
    assert text == stored_schemas.as_text(generated_schemas())
    assert stored_schemas.stored_schemas(["get_entry", "publish"]) == {
        name: schemas for name, schemas in json.loads(text).items() if name in ("get_entry", "publish")
    }


def declared_fields(spec: ToolSpec) -> dict[str, Any]:
    """What a declaration says of a tool, its function aside."""
    return {k: v for k, v in vars(spec).items() if k not in ("fn", "deferred_from")}


def test_the_stored_declarations_file_is_what_the_regeneration_writes() -> None:
    assert stored_schemas.DECLARED.read_text("utf-8") == declarations_text(generated_declarations()), (
        f"stored declarations differ from the tools' declarations: run {REGENERATE}"
    )


@pytest.mark.parametrize("toolsets", [None, *([name] for name in TOOLSETS), ["stack", "entries", "assets"]])
def test_the_stored_declarations_are_the_declared_tools_in_their_order(toolsets: list[str] | None) -> None:
    stored = declared_tools(toolsets)
    declared = registered_tools(toolsets)
    assert [declared_fields(s) for s in stored] == [declared_fields(s) for s in declared]
    assert all(s.deferred_from == d.fn.__module__ for s, d in zip(stored, declared, strict=True))
    assert [resolved(s) for s in stored] == declared


async def test_a_stored_declarations_function_runs_the_tools_own() -> None:
    (stored,) = [s for s in declared_tools(["stack"]) if s.name == "get_content_type"]
    (declared,) = [s for s in registered_tools(["stack"]) if s.name == "get_content_type"]
    assert stored.fn is not declared.fn
    assert resolved(declared) is declared
    # Both fail alike reading the missing context: the stored one ran the tool's own function.
    with pytest.raises(AttributeError, match="request_context") as own:
        await declared.fn(NO_CONTEXT, content_type="blog_post")
    with pytest.raises(AttributeError, match="request_context") as through:
        await stored.fn(NO_CONTEXT, content_type="blog_post")
    assert str(through.value) == str(own.value)


def test_a_tool_is_listed_with_its_stored_schemas_and_no_model_built() -> None:
    spec = next(s for s in registered_tools() if s.name == "query_entries")
    tool = sdk_tool(spec, stored_schemas.stored_schemas([spec.name])[spec.name])
    built = sdk_built(spec.fn, spec.name, spec.title, spec.description, spec.annotations, spec.meta)
    assert isinstance(tool, StoredTool)
    assert (tool.parameters, tool.output_schema) == (built.parameters, built.output_schema)


def test_a_tool_without_stored_schemas_is_built_from_its_function() -> None:
    expected = stored_schemas.every_stored()["get_entry"]["input"]
    spec = next(s for s in registered_tools() if s.name == "get_entry")
    tool = sdk_tool(spec, None)
    assert not isinstance(tool, StoredTool)
    assert tool.parameters == expected


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"content_type": 5, "entry_uid": "blt1"},
        {"content_type": "blog_post", "entry_uid": ["blt1"], "locale": {"a": 1}},
    ],
)
async def test_a_stored_tool_refuses_bad_arguments_with_the_sdks_own_error(arguments: dict[str, Any]) -> None:
    spec = next(s for s in registered_tools() if s.name == "get_entry")
    built = sdk_built(spec.fn, spec.name, spec.title, spec.description, spec.annotations, spec.meta)
    with pytest.raises(ToolError) as expected:
        await built.run(arguments, context=NO_CONTEXT)
    with pytest.raises(ToolError) as refused:
        await sdk_tool(spec, stored_schemas.stored_schemas(["get_entry"])["get_entry"]).run(arguments, NO_CONTEXT)
    assert type(refused.value) is type(expected.value)
    assert str(refused.value) == str(expected.value)


async def test_a_server_lists_and_calls_its_tools_without_building_schemas_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    original = Tool.from_function.__func__  # type: ignore[attr-defined]  # the classmethod's function

    def counted(cls: type[Tool], fn: Any, *args: Any, **kwargs: Any) -> Tool:
        calls.append(kwargs.get("name") or fn.__name__)
        return original(cls, fn, *args, **kwargs)

    monkeypatch.setattr(Tool, "from_function", classmethod(counted))
    settings = Settings.from_env(FULL_ENV)
    server = build_server(settings, stdio_role="admin", transport=httpx2.MockTransport(stack_handler))
    async with Client(server) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        assert calls == []
        result = await client.call_tool("describe_stack", {})
    assert "describe_stack" in listed
    assert structured(result)
    # The called tool alone, once (none when an earlier test of this process built it already).
    assert calls in ([], ["describe_stack"])
