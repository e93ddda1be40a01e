"""Loading toolsets: what importing their modules leaves behind."""

from __future__ import annotations

import inspect
import subprocess
import sys

from pydantic import BaseModel

from cs_mcp.client import APIModel
from cs_mcp.toolkit.registry import TOOLSETS, load_toolsets
from cs_mcp.toolkit.stored_schemas import declared_tools


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


def test_a_listings_order_does_not_depend_on_which_toolsets_modules_were_imported_first() -> None:
    # A fresh interpreter that imports the assets module before the entries one, as a server of
    # the assets toolset alone does; the entries toolset serves tools of both.
    script = (
        "from cs_mcp.toolkit.registry import load_toolsets, registered_tools\n"
        "load_toolsets(['assets'])\n"
        "print(' '.join(spec.name for spec in registered_tools(['entries'])))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [spec.name for spec in declared_tools(["entries"])]
