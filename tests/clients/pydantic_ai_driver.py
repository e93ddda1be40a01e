"""Drives cs-mcp through a pydantic-ai agent (run in its own venv by tests/test_clients.py).

Usage: python pydantic_ai_driver.py <cs-mcp command> [args...]

The agent's model is a script (`FunctionModel`), not an LLM: it calls describe_stack, then
query_entries with a misspelt argument, reads the server's error as the agent hands it back,
calls query_entries correctly and ends with a text answer: what it saw, including what
pydantic-ai's OpenAI strict-mode transform would have to drop from each tool's schema. Prints
one JSON object.
"""

from __future__ import annotations

import asyncio
import copy
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
from pydantic_ai.profiles.openai import OpenAIJsonSchemaTransformer

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
        "strict_lossy": {
            t.name: lossy for t in info.function_tools if (lossy := _strict_loss(t.parameters_json_schema))
        },
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


def _strict_loss(schema: dict[str, Any]) -> list[str]:
    """What pydantic-ai's OpenAI strict-mode transform has to drop or rewrite in `schema`
    (beyond closing objects and requiring every property, which strict mode always does)."""
    strict = OpenAIJsonSchemaTransformer(copy.deepcopy(schema), strict=True).walk()
    before, after = _without_strict_keys(schema), _without_strict_keys(strict)
    return [] if before == after else [json.dumps(before, sort_keys=True), json.dumps(after, sort_keys=True)]


def _without_strict_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_strict_keys(v) for k, v in node.items() if k not in ("required", "additionalProperties")}
    if isinstance(node, list):
        return [_without_strict_keys(v) for v in node]
    return node


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
