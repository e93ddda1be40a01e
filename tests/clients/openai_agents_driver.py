"""Drives cs-mcp through openai-agents (run in its own venv by tests/test_clients.py).

Usage: python openai_agents_driver.py <cs-mcp command> [args...]

Starts cs-mcp over stdio as the SDK's MCPServerStdio, lists the tools, converts every one to a
strict function tool (as an Agent with `convert_schemas_to_strict` does) and calls two through
the converted tools: one valid call and one with a misspelled argument. Prints one JSON object.
No model is called.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from agents.mcp import MCPServerStdio, MCPUtil
from agents.strict_schema import ensure_strict_json_schema
from agents.tool_context import ToolContext


async def invoke(tool: Any, arguments: dict[str, Any]) -> Any:
    """What the agent would hand the model for this tool call (the SDK's own error handling on)."""
    raw = json.dumps(arguments)
    context = ToolContext(context=None, tool_name=tool.name, tool_call_id="call-1", tool_arguments=raw)
    return json.loads(json.dumps(await tool.on_invoke_tool(context, raw), default=str))


async def main(command: list[str]) -> dict[str, Any]:
    params = {"command": command[0], "args": command[1:]}
    async with MCPServerStdio(params, client_session_timeout_seconds=60) as server:
        tools = await server.list_tools()
        converted = {t.name: MCPUtil.to_function_tool(t, server, convert_schemas_to_strict=True) for t in tools}
        problems: dict[str, str] = {}
        for t in tools:
            # The same check to_function_tool makes (it only logs the reason when it falls back).
            try:
                ensure_strict_json_schema(json.loads(json.dumps(_input_schema(t))), _reject_open_objects=True)
            except Exception as exc:  # the reason a tool is not strict, reported to the test
                problems[t.name] = str(exc)
        strict = sorted(name for name, ft in converted.items() if ft.strict_json_schema)
        query = converted["query_entries"]
        # In strict mode a model sends every argument, null for those it leaves out.
        ok = await invoke(query, {**_nulls(query), "content_type": "blog_post", "limit": 2})
        typo = await invoke(query, {"content_type": "blog_post", "limitt": 2})
        return {
            "tools": sorted(converted),
            "strict": strict,
            "not_strict": problems,
            "call": ok,
            "typo": typo,
        }


def _input_schema(tool: Any) -> dict[str, Any]:
    """The listed input schema, under either spelling of the `mcp` package's field."""
    schema = getattr(tool, "input_schema", None)
    return dict(schema if schema is not None else tool.inputSchema)


def _nulls(tool: Any) -> dict[str, Any]:
    """Every argument as null: in strict mode a model must send them all."""
    return dict.fromkeys(tool.params_json_schema.get("properties", {}))


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:]))))
