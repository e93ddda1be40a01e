"""How a toolset module declares its tools: the presets give the annotations the registry lists."""

from __future__ import annotations

import pytest

from cs_mcp.guard.scopes import Scope
from cs_mcp.toolkit.declarations import ToolsetDeclarations
from cs_mcp.toolkit.registry import registered_tools


def test_a_toolsets_deletes_are_destructive_idempotent_and_previewed_where_it_has_a_preview() -> None:
    deletes = [spec for spec in registered_tools() if spec.destructive]
    assert deletes
    for spec in deletes:
        assert not spec.read_only, spec.name
        assert spec.idempotent, spec.name
    # the toolsets whose confirmations show in the preview view show their deletes there too
    assert {s.ui for s in deletes if s.toolset in ("entries", "assets", "content_types", "releases")} == {
        "ui://cs-mcp/write-preview"
    }


def test_every_read_is_declared_idempotent() -> None:
    reads = [spec for spec in registered_tools() if spec.read_only]
    assert reads
    assert [spec.name for spec in reads if not spec.idempotent] == []


def test_a_write_declared_previewed_in_a_toolset_without_a_preview_view_is_refused() -> None:
    declare = ToolsetDeclarations("stack_admin")
    with pytest.raises(ValueError, match="no preview view"):
        declare.write("Previewed", read_back="nothing", scopes={Scope.ENVIRONMENTS_WRITE}, previewed=True)


def test_a_tool_of_a_toolset_without_default_scopes_must_name_its_own() -> None:
    declare = ToolsetDeclarations("stack_admin")

    async def list_nothing() -> None:
        """Lists nothing."""

    with pytest.raises(ValueError, match="names no scope"):
        declare.read("Nothing")(list_nothing)
