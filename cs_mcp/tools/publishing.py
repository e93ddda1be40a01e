"""The publishing toolset (DESIGN.md section 3)."""
