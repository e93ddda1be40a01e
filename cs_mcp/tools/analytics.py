"""The analytics toolset (DESIGN.md section 3)."""
