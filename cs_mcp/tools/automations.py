"""The automations toolset (DESIGN.md section 3)."""
