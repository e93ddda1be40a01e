"""The entries toolset (DESIGN.md section 3)."""
