"""The sources of the MCP Apps views and their build (python views/build.py)."""
