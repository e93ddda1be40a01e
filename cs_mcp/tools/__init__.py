"""The toolsets: one module each. A tool is small: validate, ask the guard, call the client,
shape the answer. Tools never speak HTTP."""

import importlib

TOOLSET_MODULES = (
    "cs_mcp.tools.stack",
    "cs_mcp.tools.entries",
    "cs_mcp.tools.publishing",
    "cs_mcp.tools.releases",
    "cs_mcp.tools.analytics",
    "cs_mcp.tools.automations",
    "cs_mcp.tools.entries_extra",
    "cs_mcp.tools.automate_admin",
)


def load_toolsets() -> None:
    """Imports every toolset module, which declares its tools."""
    for module in TOOLSET_MODULES:
        importlib.import_module(module)
