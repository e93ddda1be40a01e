"""Catalog size: `tools/list` in tokens, per built-in role and whole, beside the official
Contentstack MCP server's definitions for the same jobs.

Tokens are estimated as characters of the JSON wire form divided by four (no tokenizer is
assumed). Prints one line of figures and the ratio.

    python bench/catalog_size.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio

from cs_mcp.commands.tools import catalog
from cs_mcp.guard import builtin_policy
from cs_mcp.toolkit.registry import DEFAULT_TOOLSETS, TOOLSETS, registered_tools
from cs_mcp.toolkit.toolsets import ALL, served_as

OFFICIAL = Path(__file__).resolve().parents[2] / "shared" / "reference" / "contentstack" / "official-mcp-tools"

# Our tool -> the official tools that do the same job (where the official server has one).
SAME_JOBS: dict[str, list[str]] = {
    "describe_stack": ["get_all_content_types", "get_all_environments", "get_all_languages"],
    "get_content_type": ["get_a_single_content_type"],
    "query_entries": ["get_all_entries", "get_all_entries_cdn"],
    "get_entry": ["get_single_entry", "get_a_single_entry_cdn"],
    "query_assets": ["get_all_assets", "get_all_assets_cdn"],
    "create_entry": ["create_an_entry"],
    "update_entry": ["update_an_entry"],
    "delete_entry": ["delete_an_entry"],
    "publish": ["publish_an_entry", "publish_an_asset"],
    "unpublish": ["unpublish_an_entry", "unpublish_an_asset"],
    "list_publish_queue": ["get_publish_queue"],
    "list_releases": ["get_all_releases"],
    "get_release": ["get_a_single_release", "get_all_items_in_a_release"],
    "create_release": ["create_a_release"],
    "add_release_items": ["add_items_to_a_release"],
    "remove_release_items": ["delete_items_from_a_release"],
    "deploy_release": ["deploy_a_release"],
    "clone_release": ["clone_a_release"],
}


def tokens(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"))) // 4


def official_definitions() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name in ("cma.json", "cda.json"):
        path = OFFICIAL / name
        if path.exists():
            data: dict[str, dict[str, Any]] = json.loads(path.read_text())
            for tool in data.values():
                # What a client receives in tools/list: name, description, input schema.
                found[tool["name"]] = {
                    "name": tool["name"],
                    "description": tool.get("description", ""),
                    "inputSchema": tool.get("inputSchema", {}),
                }
    return found


def core(tool: dict[str, Any]) -> dict[str, Any]:
    """What the issue's figure counts: name, description and input schema."""
    return {k: tool[k] for k in ("name", "description", "inputSchema") if k in tool}


async def measure() -> str:
    full = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in await catalog(None)]
    everything = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in await catalog(None, None, ALL)]
    # A moved tool counts under the default toolset that serves it (query_assets under entries).
    toolset_of = {spec.name: served_as(spec, DEFAULT_TOOLSETS) for spec in registered_tools()}
    roles = sorted(builtin_policy().roles)
    by_role: dict[str, list[dict[str, Any]]] = {
        role: [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in await catalog(role)]
        for role in roles
    }
    per_toolset = {
        name: (
            tokens([core(t) for t in full if toolset_of[t["name"]] == name]),
            tokens([t for t in full if toolset_of[t["name"]] == name]),
        )
        for name in DEFAULT_TOOLSETS
    }
    own_toolset = {spec.name: spec.toolset for spec in registered_tools()}
    opt_in = {
        name: [t for t in everything if own_toolset[t["name"]] == name]
        for name, toolset in TOOLSETS.items()
        if not toolset.default
    }
    ours_by_name = {t["name"]: t for t in full}
    official = official_definitions()
    ours_same = theirs_same = 0
    jobs = 0
    for ours, theirs in SAME_JOBS.items():
        if ours in ours_by_name and all(name in official for name in theirs):
            ours_same += tokens(core(ours_by_name[ours]))
            theirs_same += sum(tokens(official[name]) for name in theirs)
            jobs += 1
    whole_core = tokens([core(t) for t in full])
    lines = [
        f"catalog: {len(full)} tools; name + description + input schema {whole_core} tokens "
        f"({whole_core // max(1, len(full))} a tool; target <= 6000), everything listed (output schemas, "
        f"annotations, _meta) {tokens(full)} tokens",
        "  per toolset (core / everything): " + ", ".join(f"{n}={c}/{a}" for n, (c, a) in per_toolset.items()),
        "  opt-in toolsets, each as --toolsets NAME adds it (tools, core / everything): "
        + ", ".join(f"{n}={len(ts)} tools {tokens([core(t) for t in ts])}/{tokens(ts)}" for n, ts in opt_in.items()),
        "  per role (core / everything): "
        + ", ".join(f"{r}={tokens([core(t) for t in ts])}/{tokens(ts)}" for r, ts in by_role.items()),
    ]
    if jobs:
        ratio = ours_same / theirs_same
        lines.append(
            f"  same {jobs} jobs, core: cs-mcp={ours_same} vs official={theirs_same} tokens, ratio {ratio:.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    print(anyio.run(measure))


if __name__ == "__main__":
    main()
