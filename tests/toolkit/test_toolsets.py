"""Toolset selection and discovery, through the in-memory MCP client."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp_types import ToolListChangedNotification

from cs_mcp.config import CAPABILITY_HINTS, Capability, Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.server import build_server
from cs_mcp.toolkit.registry import DEFAULT_TOOLSETS, TOOLSETS, registered_tools, toolset_availability
from cs_mcp.toolkit.toolsets import UnknownToolsetError, select_toolsets
from tests.helpers import structured
from tests.test_server import FULL_ENV, stack_handler

pytestmark = pytest.mark.anyio

DISCOVERY_TOOLS = {"list_toolsets", "enable_toolset"}


def make_server(toolsets: str | None, role: str = "admin", env: dict[str, str] | None = None):
    settings = Settings.from_env({**FULL_ENV, **(env or {})})
    if toolsets is not None:
        settings = settings.model_copy(update={"toolsets": toolsets})
    return build_server(
        settings, guard=Guard(builtin_policy()), stdio_role=role, transport=httpx2.MockTransport(stack_handler)
    )


def tools_of(*toolsets: str) -> set[str]:
    """The tools these toolsets serve (a moved tool with each toolset that serves it)."""
    return {spec.name for spec in registered_tools() if set(spec.toolsets) & set(toolsets)}


async def listed(client: Client) -> set[str]:
    return {t.name for t in (await client.list_tools()).tools}


def test_each_toolset_record_names_the_modules_that_declare_all_of_its_tools() -> None:
    declared_in = {(spec.toolset, spec.fn.__module__) for spec in registered_tools()}
    for toolset in TOOLSETS.values():
        assert toolset.modules, toolset.name
        assert {module for name, module in declared_in if name == toolset.name} <= set(toolset.modules)
        assert tools_of(toolset.name), toolset.name
    assert {name for name, _ in declared_in} <= set(TOOLSETS)


def test_the_import_contract_keeps_every_toolset_module_apart_from_the_others() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    contracts = pyproject["tool"]["importlinter"]["contracts"]
    independent = next(set(c["modules"]) for c in contracts if c["type"] == "independence")
    assert {module for toolset in TOOLSETS.values() for module in toolset.modules} == independent


SERVED_MODULES = """
import sys
import anyio
from mcp import Client
from cs_mcp.config import Settings
from cs_mcp.server import build_server
server = build_server(Settings.from_env({"CONTENTSTACK_API_KEY": "k", "CONTENTSTACK_MANAGEMENT_TOKEN": "m",
                                         "CS_MCP_TOOLSETS": sys.argv[1], "CS_MCP_ROLE": sys.argv[3]}))
def imported():
    return ",".join(sorted(m for m in sys.modules if m.startswith("cs_mcp.tools.")))
async def main():
    async with Client(server) as client:
        await client.list_tools()
        print(imported())
        await client.call_tool(sys.argv[2], {})
        print(imported())
anyio.run(main)
"""


def imported_toolset_modules(toolsets: str, call: str, role: str = "admin") -> tuple[set[str], set[str]]:
    """The `cs_mcp.tools` modules a fresh process has imported once it built a server for
    `role` and listed its tools, and once it called `call` (with no arguments) too."""
    done = subprocess.run(
        [sys.executable, "-c", SERVED_MODULES, toolsets, call, role], capture_output=True, text=True, check=True
    )
    listed, called = done.stdout.splitlines()
    return (
        {m for m in listed.split(",") if m and not m.startswith("cs_mcp.tools._")},
        {m for m in called.split(",") if m and not m.startswith("cs_mcp.tools._")},
    )


def test_a_server_imports_a_toolsets_module_at_the_first_call_of_one_of_its_tools_not_at_start() -> None:
    assert imported_toolset_modules("", "query_entries") == (set(), {"cs_mcp.tools.entries"})
    assert imported_toolset_modules("content_types", "create_content_type") == (set(), {"cs_mcp.tools.content_types"})
    # A call the guard refuses never reaches the tool's module.
    assert imported_toolset_modules("content_types", "create_content_type", "viewer") == (set(), set())
    # Dynamic mode registers every toolset, and still imports none to list them or to discover one.
    assert imported_toolset_modules("dynamic", "list_toolsets") == (set(), set())


def test_a_toolset_is_available_exactly_when_the_credentials_it_needs_are_set() -> None:
    cma_only = Settings.from_env({"CONTENTSTACK_API_KEY": "k", "CONTENTSTACK_MANAGEMENT_TOKEN": "m"})
    availability = toolset_availability(cma_only)
    assert list(availability) == list(TOOLSETS)
    for name, toolset in TOOLSETS.items():
        expected = None if toolset.needs is Capability.CMA else CAPABILITY_HINTS[toolset.needs]
        assert availability[name] == expected, name
    assert set(toolset_availability(Settings.from_env(FULL_ENV)).values()) == {None}


def test_the_default_is_todays_six_toolsets() -> None:
    assert DEFAULT_TOOLSETS == ("stack", "entries", "publishing", "releases", "analytics", "automations")
    assert select_toolsets(None).enabled == frozenset(DEFAULT_TOOLSETS)
    assert not select_toolsets("").dynamic


def test_all_selects_every_toolset_the_opt_in_ones_too() -> None:
    assert select_toolsets("all").enabled == frozenset(TOOLSETS)


def test_an_unknown_toolset_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownToolsetError) as raised:
        select_toolsets("entries,widgets")
    assert "'widgets'" in str(raised.value)
    for name in [*TOOLSETS, "all", "dynamic"]:
        assert name in str(raised.value)


async def test_the_default_catalog_is_every_default_toolsets_tool() -> None:
    async with Client(make_server(None)) as client:
        names = await listed(client)
    assert names == tools_of(*DEFAULT_TOOLSETS)


async def test_cs_mcp_toolsets_in_the_environment_chooses_what_is_served() -> None:
    server = build_server(
        Settings.from_env({**FULL_ENV, "CS_MCP_TOOLSETS": "releases"}),
        guard=Guard(builtin_policy()),
        stdio_role="admin",
        transport=httpx2.MockTransport(stack_handler),
    )
    async with Client(server) as client:
        names = await listed(client)
    assert names == tools_of("releases") | {"describe_stack"}


async def test_a_selection_lists_its_toolsets_and_refuses_calls_to_the_others() -> None:
    async with Client(make_server("entries,analytics")) as client:
        names = await listed(client)
        result = await client.call_tool("list_releases", {})
    assert names == tools_of("entries", "analytics") | {"describe_stack"}
    assert result.is_error


async def test_dynamic_mode_lists_only_the_discovery_tools() -> None:
    async with Client(make_server("dynamic")) as client:
        names = await listed(client)
        refused = await client.call_tool("query_entries", {"content_type": "blog_post"})
    assert names == DISCOVERY_TOOLS
    assert refused.is_error


async def test_list_toolsets_says_which_are_enabled_and_what_their_tools_cost() -> None:
    async with Client(make_server("dynamic,releases")) as client:
        answer = structured(await client.call_tool("list_toolsets", {}))
    toolsets = {t["name"]: t for t in answer["toolsets"]}
    assert set(toolsets) == set(TOOLSETS)
    assert {name for name, t in toolsets.items() if t["default"]} == set(DEFAULT_TOOLSETS)
    assert [t["name"] for t in answer["toolsets"] if not t["default"]] == [
        name for name, t in TOOLSETS.items() if not t.default
    ]
    assert toolsets["releases"]["enabled"]
    assert not toolsets["entries"]["enabled"]
    entries = toolsets["entries"]
    assert {t["name"] for t in entries["tools"]} == tools_of("entries")
    assert all(t["tokens"] > 0 for t in entries["tools"])
    assert entries["tokens"] == sum(t["tokens"] for t in entries["tools"])


async def test_list_toolsets_shows_only_the_tools_the_role_may_use() -> None:
    async with Client(make_server("dynamic", role="viewer")) as client:
        answer = structured(await client.call_tool("list_toolsets", {}))
    shown = {tool["name"] for toolset in answer["toolsets"] for tool in toolset["tools"]}
    assert "query_entries" in shown
    assert "create_entry" not in shown


async def test_enabling_a_toolset_sends_list_changed_and_then_lists_its_tools() -> None:
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ToolListChangedNotification):
            changed.set()

    async with Client(make_server("dynamic"), mode="legacy", message_handler=on_message) as client:
        answer = structured(await client.call_tool("enable_toolset", {"toolset": "entries"}))
        with anyio.fail_after(5):
            await changed.wait()
        names = await listed(client)
        read = await client.call_tool("get_content_type", {"content_type": "blog_post"})
    assert answer["enabled_now"] is True
    assert set(answer["tools"]) == tools_of("entries")
    assert names == DISCOVERY_TOOLS | tools_of("entries")
    assert read.is_error  # get_content_type is in `stack`, still not enabled


async def test_enabling_an_unknown_toolset_is_a_tool_error_that_changes_nothing() -> None:
    async with Client(make_server("dynamic")) as client:
        result = await client.call_tool("enable_toolset", {"toolset": "widgets"})
        names = await listed(client)
    assert result.is_error
    assert names == DISCOVERY_TOOLS


async def test_enabling_a_toolset_on_the_current_protocol_lists_its_tools_next() -> None:
    async with Client(make_server("dynamic")) as client:
        before = await listed(client)
        answer = structured(await client.call_tool("enable_toolset", {"toolset": "releases"}))
        again = structured(await client.call_tool("enable_toolset", {"toolset": "releases"}))
        names = await listed(client)
    assert before == DISCOVERY_TOOLS
    assert answer["enabled_now"]
    assert not again["enabled_now"]
    assert names == DISCOVERY_TOOLS | tools_of("releases")


async def test_query_assets_moved_to_assets_and_is_still_served_by_default() -> None:
    (spec,) = [s for s in registered_tools() if s.name == "query_assets"]
    assert spec.toolsets == ("assets", "entries")
    async with Client(make_server(None)) as client:
        default = await listed(client)
    async with Client(make_server("assets")) as client:
        assets = await listed(client)
    assert "query_assets" in default
    assert default.isdisjoint(tools_of("assets", "content_types") - {"query_assets"})
    assert assets == tools_of("assets") | {"describe_stack"}


async def test_the_new_toolsets_are_off_by_default_and_the_default_catalog_did_not_grow() -> None:
    assert not TOOLSETS["assets"].default
    assert not TOOLSETS["content_types"].default
    async with Client(make_server(None)) as client:
        default = await listed(client)
    # The six toolsets' 30 tools before the assets and content_types toolsets existed.
    assert len(default) == 30


async def test_enabling_entries_in_dynamic_mode_brings_query_assets_with_it() -> None:
    async with Client(make_server("dynamic")) as client:
        enabled = structured(await client.call_tool("enable_toolset", {"toolset": "entries"}))
        assert "query_assets" in enabled["tools"]
        assert "query_assets" in await listed(client)
        assert "get_asset" not in await listed(client)
