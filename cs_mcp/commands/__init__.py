"""The subcommands of `cs-mcp`, one module each."""
