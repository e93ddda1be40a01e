"""Drives cs-mcp through a pydantic-ai agent (run in its own venv by tests/test_clients.py).

Usage: python pydantic_ai_driver.py <cs-mcp command> [args...]

The agent's model is a script (`FunctionModel`), not an LLM: it calls describe_stack, then
query_entries with a misspelt argument, reads the server's error as the agent hands it back,
calls query_entries correctly and ends with a text answer. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from fastmcp.client.transports import StdioTransport
from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("describe_stack", {}),
    ("query_entries", {"content_type": "blog_post", "limitt": 2}),
    ("query_entries", {"content_type": "blog_post", "limit": 2, "fields": ["title"]}),
]


def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """The next step of SCRIPT; when it is done, a text answer listing what came back."""
    step = sum(isinstance(m, ModelResponse) for m in messages)
    if step < len(SCRIPT):
        name, args = SCRIPT[step]
        return ModelResponse(parts=[ToolCallPart(tool_name=name, args=args, tool_call_id=f"call-{step}")])
    seen = {
        "tools": sorted(t.name for t in info.function_tools),
        "returns": [],
        "retries": [],
    }
    for message in messages:
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if isinstance(part, ToolReturnPart):
                outcome = getattr(part, "outcome", "success")  # a failed call comes back as a return to retry
                seen["returns"].append({"tool": part.tool_name, "outcome": outcome, "content": _plain(part.content)})
            elif isinstance(part, RetryPromptPart):
                seen["retries"].append({"tool": part.tool_name, "content": _plain(part.content)})
    return ModelResponse(parts=[TextPart(content=json.dumps(seen))])


def _plain(content: Any) -> Any:
    return json.loads(json.dumps(content, default=str))


async def main(command: list[str]) -> dict[str, Any]:
    toolset = MCPToolset(StdioTransport(command=command[0], args=command[1:]), init_timeout=60, read_timeout=60)
    agent = Agent(FunctionModel(scripted), toolsets=[toolset])
    async with agent:
        result = await agent.run("List two blog posts.")
    return json.loads(result.output)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:]))))
