"""Loading toolsets: what importing their modules leaves behind."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from pydantic import BaseModel

from cs_mcp.toolkit import registry
from cs_mcp.toolkit.registry import load_toolsets


def test_loading_toolsets_leaves_pydantics_base_configuration_as_it_was() -> None:
    before = dict(BaseModel.model_config)
    load_toolsets(["publishing"])
    assert dict(BaseModel.model_config) == before


def test_a_failed_toolset_import_leaves_pydantics_base_configuration_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    before = dict(BaseModel.model_config)
    broken = dataclasses.replace(registry.TOOLSETS["stack"], name="broken", modules=("cs_mcp.tools.no_such_module",))
    monkeypatch.setitem(registry.TOOLSETS, "broken", broken)
    with pytest.raises(ModuleNotFoundError):
        load_toolsets(["broken"])
    assert dict(BaseModel.model_config) == before


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
