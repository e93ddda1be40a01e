"""docs/COVERAGE.md against the tool registry: the tools it names exist, and every tool is in it."""

from __future__ import annotations

import re
from pathlib import Path

from cs_mcp.toolkit.registry import registered_tools

COVERAGE = Path(__file__).resolve().parents[2] / "docs" / "COVERAGE.md"


def rows() -> list[list[str]]:
    """The cells of every table row of COVERAGE.md (header and rule rows left out)."""
    found: list[list[str]] = []
    for line in COVERAGE.read_text().splitlines():
        if not line.startswith("| ") or line.startswith(("| request |", "|---")):
            continue
        found.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return found


def tools_named() -> set[str]:
    """Every tool in a `tool` column (the one before the last)."""
    return {name for row in rows() for name in re.findall(r"`([a-z_]+)`", row[-2])}


def test_every_tool_coverage_names_is_registered() -> None:
    registered = {spec.name for spec in registered_tools()}
    assert tools_named() - registered == set()


def test_every_registered_tool_appears_in_coverage() -> None:
    registered = {spec.name for spec in registered_tools()}
    assert registered - tools_named() == set()


def test_every_request_names_a_tool_or_says_why_none_does() -> None:
    assert len(rows()) > 150
    for row in rows():
        assert row[-2] or row[-1], row[0]
