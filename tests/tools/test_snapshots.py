"""Every tool as clients see it in `tools/list`, compared with a reviewed snapshot.

`tests/snapshots/tools/<tool>.json` holds each tool's name, title, description, annotations and
input and output schemas exactly as listed. A change to any of them fails this test until the
snapshots are rewritten with `UPDATE_SNAPSHOTS=1 python -m pytest tests/tools/test_snapshots.py`,
so that what clients see changes only through a reviewed diff.

`tests/snapshots/scopes.json` holds each tool's scopes (the tool is listed and callable for a
principal holding any of them), which the listing does not show: a tool that takes its
toolset's default scopes changes them only through a reviewed diff too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from cs_mcp.config import Settings
from cs_mcp.server import build_server
from cs_mcp.toolkit.registry import registered_tools

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots" / "tools"
SCOPES = SNAPSHOTS.parent / "scopes.json"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"

# Credentials for every toolset, and every toolset chosen (the opt-in ones too), so that every
# tool is listed; nothing is sent with them.
ENV = {
    "CS_MCP_TOOLSETS": "all",
    "CONTENTSTACK_API_KEY": "snapshot",
    "CONTENTSTACK_MANAGEMENT_TOKEN": "snapshot",
    "CONTENTSTACK_AUTHTOKEN": "snapshot",
    "CONTENTSTACK_ORGANIZATION_UID": "snapshot",
}


async def listed_tools() -> dict[str, dict[str, Any]]:
    async with Client(build_server(Settings.from_env(ENV), stdio_role="admin")) as client:
        tools = (await client.list_tools()).tools
    return {t.name: t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools}


def as_text(tool: dict[str, Any]) -> str:
    return json.dumps(tool, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.anyio
async def test_every_listed_tool_matches_its_snapshot() -> None:
    tools = await listed_tools()
    if UPDATE:
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        for stale in SNAPSHOTS.glob("*.json"):
            if stale.stem not in tools:
                stale.unlink()
        for name, tool in tools.items():
            (SNAPSHOTS / f"{name}.json").write_text(as_text(tool), encoding="utf-8")
    on_disk = {path.stem for path in SNAPSHOTS.glob("*.json")}
    assert on_disk == set(tools), "tools and snapshots differ: rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    changed = [name for name, tool in tools.items() if (SNAPSHOTS / f"{name}.json").read_text("utf-8") != as_text(tool)]
    assert changed == [], f"listed differently than the snapshot: {changed}; rerun with UPDATE_SNAPSHOTS=1 and review"


def test_every_tool_needs_the_scopes_its_snapshot_names() -> None:
    scopes = {spec.name: sorted(spec.scopes) for spec in sorted(registered_tools(), key=lambda spec: spec.name)}
    if UPDATE:
        SCOPES.write_text(json.dumps(scopes, indent=2) + "\n", encoding="utf-8")
    assert json.loads(SCOPES.read_text("utf-8")) == scopes, "rerun with UPDATE_SNAPSHOTS=1 and review the diff"
