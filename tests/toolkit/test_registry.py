"""Declaring tools, and loading toolsets: what importing their modules leaves behind."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from pydantic import BaseModel

from cs_mcp.client import APIModel
from cs_mcp.guard.scopes import Scope
from cs_mcp.toolkit.registry import TOOLSETS, ToolsetDeclarations, load_toolsets, registered_tools


def test_every_model_a_toolset_module_declares_builds_its_validator_at_first_use() -> None:
    load_toolsets()
    eager: list[str] = []
    for toolset in TOOLSETS.values():
        for name in toolset.modules:
            module = sys.modules[name]
            for attribute, value in vars(module).items():
                declared_here = inspect.isclass(value) and value.__module__ == name
                if declared_here and issubclass(value, BaseModel) and not value.model_config.get("defer_build"):
                    eager.append(f"{name}.{attribute}")
    assert eager == [], "subclass cs_mcp.toolkit.models.ToolModel (or APIModel) instead of BaseModel"
    assert APIModel.model_config.get("defer_build")


def test_a_toolsets_models_build_their_validators_at_first_use_not_at_import() -> None:
    # A fresh interpreter: this one's tests may have used the model already.
    script = (
        "from cs_mcp.toolkit.registry import load_toolsets\n"
        "load_toolsets(['publishing'])\n"
        "from cs_mcp.tools.publishing import PublishItem as M\n"
        "print(M.__pydantic_complete__)\n"
        "M.model_json_schema()\n"
        "print(M.__pydantic_complete__)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]


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


def test_a_write_declared_previewed_in_a_toolset_without_a_preview_view_is_refused() -> None:
    declare = ToolsetDeclarations("stack_admin")
    with pytest.raises(ValueError, match="no preview view"):
        declare.write("Previewed", read_back="nothing", scopes={Scope.ENVIRONMENTS_WRITE}, previewed=True)
