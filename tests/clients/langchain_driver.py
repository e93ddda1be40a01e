"""Drives cs-mcp through langchain-mcp-adapters (run in its own venv by tests/test_clients.py).

Usage: python langchain_driver.py <cs-mcp command> [args...]

Loads cs-mcp's tools as LangChain tools over one stdio session, converts each to an OpenAI
function in strict mode (LangChain's own conversion), and calls query_entries as an agent
would, with a tool call: once right, once with a misspelt argument. Prints one JSON object.
No model is called.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_mcp_adapters.tools import load_mcp_tools


async def call(tool: Any, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    message = await tool.ainvoke({"type": "tool_call", "name": tool.name, "args": args, "id": call_id})
    assert isinstance(message, ToolMessage)
    content = message.content if isinstance(message.content, str) else json.dumps(message.content)
    return {"status": message.status, "content": content}


async def main(command: list[str]) -> dict[str, Any]:
    client = MultiServerMCPClient({"cs-mcp": {"transport": "stdio", "command": command[0], "args": command[1:]}})
    async with client.session("cs-mcp") as session:
        tools = {t.name: t for t in await load_mcp_tools(session)}
        strict: list[str] = []
        not_strict: dict[str, str] = {}
        for name, tool in tools.items():
            try:
                converted = convert_to_openai_tool(tool, strict=True)
                assert converted["function"]["strict"] is True
                strict.append(name)
            except Exception as exc:  # the reason a tool does not convert, reported to the test
                not_strict[name] = repr(exc)
        query = tools["query_entries"]
        ok = await call(query, {"content_type": "blog_post", "limit": 2}, "call-1")
        typo = await call(query, {"content_type": "blog_post", "limitt": 2}, "call-2")
    return {"tools": sorted(tools), "strict": sorted(strict), "not_strict": not_strict, "call": ok, "typo": typo}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:]))))
