"""The pinned chart library of the MCP Apps views and its update (python views/vendor_uplot.py)."""
