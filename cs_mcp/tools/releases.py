"""The releases toolset (DESIGN.md section 3)."""
