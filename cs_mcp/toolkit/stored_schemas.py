"""Each tool's input and output schema, generated from its declaration and stored with the package.

The SDK builds a tool's schemas, its argument model and its output validator from the
function's signature when the tool is registered: for the thirty tools of a default server that
was the largest share of the start-up time cs-mcp added to a bare server's. A server registers each tool from
its stored schemas instead (`sdk_tool`), and the SDK's own registration, which validates every
call's arguments, runs at the tool's first call: listing is what it was, and a call is validated
by the same model with the same errors.

A toolset's module is imported at the first call of one of its tools, not at start: the server
lists and guards its tools from their stored declarations (`declared_tools`: name, toolset,
title, description, scopes, hints, what the guard and the listing read before a call), and
each declaration's function imports its module when first called (`registry.resolved`).

`tool_schemas.json` beside this module holds the schemas as the SDK builds them (before the
listing compacts them), `tool_declarations.json` the declarations, in catalog order.
`tests/toolkit/test_stored_schemas.py` fails when either differs from what the declarations
give; after changing a tool's declaration, arguments or answer, regenerate both files:

    python -m cs_mcp.toolkit.stored_schemas
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cache, cached_property
from pathlib import Path
from typing import Any, TypedDict

from mcp.server.mcpserver.tools import Tool
from pydantic import PrivateAttr

from cs_mcp.toolkit.registry import (
    TOOLSETS,
    ToolSpec,
    declaration,
    registered_tools,
    resolved,
    served_tools,
    stored_declaration,
)
from cs_mcp.toolkit.schema import built_tool
from cs_mcp.toolkit.toolsets import OfferedToolsets, discovery_specs, select_toolsets

STORED = Path(__file__).with_name("tool_schemas.json")
DECLARED = Path(__file__).with_name("tool_declarations.json")


class Schemas(TypedDict):
    input: dict[str, Any]
    output: dict[str, Any] | None


def stored_schemas(names: Iterable[str]) -> dict[str, Schemas]:
    """The stored schemas of the tools `names` that have them, by name. Only their lines of the
    file are parsed: a default server's tools are two fifths of it."""
    wanted = set(names)
    found: dict[str, Schemas] = {}
    try:
        # Line by line: the whole text and its lines at once were half a MiB more at the peak.
        with STORED.open(encoding="utf-8") as lines:
            for line in lines:
                quoted, colon, schemas = line.rstrip(",\n").partition(": ")
                if colon and (name := json.loads(quoted)) in wanted:
                    found[name] = json.loads(schemas)
    except FileNotFoundError:
        return {}
    return found


def every_stored() -> dict[str, Schemas]:
    """Every tool's stored schemas, by name (the whole file)."""
    stored: dict[str, Schemas] = json.loads(STORED.read_text(encoding="utf-8"))
    return stored


@cache
def stored_declarations() -> tuple[ToolSpec, ...] | None:
    """Every declared tool as stored, in catalog order, no toolset module imported; None when
    the file is missing."""
    try:
        text = DECLARED.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return tuple(stored_declaration(declared) for declared in json.loads(text))


def declared_tools(toolsets: Iterable[str] | None = None) -> list[ToolSpec]:
    """What `registry.registered_tools` answers, from the stored declarations: the tools of
    `toolsets` (else of every toolset), importing no toolset module."""
    stored = stored_declarations()
    if stored is None:
        return registered_tools(toolsets)
    return served_tools(stored, toolsets)


class StoredTool(Tool):
    """An SDK tool listed from stored schemas; the SDK's tool, with its argument model and
    output validator, is built from the function at the first call and runs every call."""

    _output: dict[str, Any] | None = PrivateAttr(default=None)
    _spec: ToolSpec | None = PrivateAttr(default=None)

    @cached_property
    def output_schema(self) -> dict[str, Any] | None:
        return self._output

    @classmethod
    def listed(cls, spec: ToolSpec, stored: Schemas) -> StoredTool:
        """The tool of `spec` with its `stored` schemas; nothing is built from the function."""
        tool = cls.model_construct(
            fn=spec.fn,
            name=spec.name,
            title=spec.title,
            description=spec.description,
            parameters=stored["input"],
            is_async=True,
            annotations=spec.annotations,
            icons=None,
            meta=spec.meta,
        )
        tool._output = stored["output"]
        tool._spec = spec
        return tool

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        # The SDK's tool built from the function validates and runs the call, as it would have
        # if registered; the argument check built it already (one build a tool and process).
        fn = self.fn if self._spec is None else resolved(self._spec).fn
        return await built_tool(fn, self.name).run(arguments, context, convert_result=convert_result)


def sdk_built(
    fn: Callable[..., Any],
    name: str,
    title: str | None,
    description: str,
    annotations: Any,
    meta: dict[str, Any] | None,
) -> Tool:
    """The SDK's own registration of a tool (its schemas built from the function's signature)."""
    return Tool.from_function(
        fn,
        name=name,
        title=title,
        description=description,
        annotations=annotations,
        meta=meta,
        structured_output=True,
    )


def sdk_tool(spec: ToolSpec, stored: Schemas | None) -> Tool:
    """The SDK tool the server registers for `spec`: from its `stored` schemas (`stored_schemas`)
    when it has them, else built from the function as the SDK's `add_tool` does."""
    if stored is None:
        return sdk_built(resolved(spec).fn, spec.name, spec.title, spec.description, spec.annotations, spec.meta)
    return StoredTool.listed(spec, stored)


def every_tool() -> list[ToolSpec]:
    """Every tool a server can register: the declared ones and the discovery tools."""
    discovery = discovery_specs(OfferedToolsets(select_toolsets("dynamic")), {})
    return [*discovery, *registered_tools()]


def generated_schemas() -> dict[str, Schemas]:
    """Each tool's schemas as its declaration gives them now (what the file should hold)."""
    generated: dict[str, Schemas] = {}
    for spec in sorted(every_tool(), key=lambda s: s.name):
        built = sdk_built(spec.fn, spec.name, spec.title, spec.description, spec.annotations, spec.meta)
        generated[spec.name] = {"input": built.parameters, "output": built.output_schema}
    return generated


def generated_declarations() -> list[dict[str, Any]]:
    """Every declared tool's declaration as its module gives it now (what the file should hold),
    in catalog order: by toolset, then by module in the order of the toolset table, then as
    declared (the order does not hang on which module this process imported first)."""
    modules = {name: i for i, name in enumerate(dict.fromkeys(m for t in TOOLSETS.values() for m in t.modules))}
    specs = registered_tools()
    place = {spec.name: i for i, spec in enumerate(specs)}
    by_module = sorted(specs, key=lambda s: (modules[s.fn.__module__], place[s.name]))
    return [declaration(spec) for spec in served_tools(by_module)]


def declarations_text(declarations: list[dict[str, Any]]) -> str:
    """The declarations file's text: a JSON array, one tool a line."""
    return "[\n" + ",\n".join(_compact(d) for d in declarations) + "\n]\n"


def as_text(schemas: dict[str, Schemas]) -> str:
    """The file's text: a JSON object, one tool a line (so that a change shows as the lines of
    its tools, and a server parses only the lines it needs)."""
    lines = [f"{json.dumps(name)}: {_compact(s)}" for name, s in schemas.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def main() -> None:
    """Writes the stored schemas and declarations from the declarations."""
    STORED.write_text(as_text(generated_schemas()), encoding="utf-8")
    DECLARED.write_text(declarations_text(generated_declarations()), encoding="utf-8")
    print(f"wrote {STORED} and {DECLARED}")


if __name__ == "__main__":
    main()
