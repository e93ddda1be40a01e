"""`cs-mcp tools`: the catalog as a role sees it, and the checked-in reference that must match it."""

from __future__ import annotations

import json
from pathlib import Path

from cs_mcp.cli import main
from cs_mcp.commands.tools import render_catalog

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "TOOLS.md"


def test_the_checked_in_tool_reference_matches_the_code() -> None:
    # When this fails, regenerate it: cs-mcp tools --format markdown > docs/TOOLS.md
    assert REFERENCE.read_text() == render_catalog("markdown")


def test_a_viewer_sees_no_write_tool_and_an_admin_sees_them_all() -> None:
    viewer = {t["name"] for t in json.loads(render_catalog("json", "viewer"))}
    admin = {t["name"] for t in json.loads(render_catalog("json", "admin"))}
    assert "query_entries" in viewer
    assert not viewer & {"create_entry", "publish", "deploy_release", "set_automation_active"}
    assert viewer < admin
    assert {"create_entry", "publish", "deploy_release", "set_automation_active"} <= admin


def test_an_unknown_role_is_a_plain_error_with_exit_status_2() -> None:
    assert main(["tools", "--role", "superuser"]) == 2


def test_a_choice_of_toolsets_shows_its_tools_and_what_each_toolset_costs() -> None:
    table = render_catalog("table", toolsets="releases")
    costs = {line.split()[0]: line.split() for line in table.split("\n\n")[-1].splitlines()[1:]}
    assert set(costs) == {"stack", "releases", "total"}  # describe_stack stays, where an agent starts
    assert int(costs["total"][2]) == int(costs["stack"][2]) + int(costs["releases"][2])
    assert int(costs["total"][3]) == int(costs["stack"][3]) + int(costs["releases"][3])
    assert 0 < int(costs["releases"][3]) < int(costs["releases"][2])  # name, description, input only
    assert "list_releases" in table
    assert "query_entries" not in table


def test_dynamic_shows_the_discovery_tools_only() -> None:
    names = {t["name"] for t in json.loads(render_catalog("json", toolsets="dynamic"))}
    assert names == {"list_toolsets", "enable_toolset"}


def test_an_unknown_toolset_is_a_plain_error_with_exit_status_2() -> None:
    assert main(["tools", "--toolsets", "widgets"]) == 2
