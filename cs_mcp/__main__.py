"""`python -m cs_mcp` is the `cs-mcp` command."""

from cs_mcp.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
