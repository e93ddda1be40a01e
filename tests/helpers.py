"""Small helpers tests share."""

from __future__ import annotations

from mcp_types import CallToolResult, TextContent


def text_of(result: CallToolResult) -> str:
    """The text blocks of a tool result, joined."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))
