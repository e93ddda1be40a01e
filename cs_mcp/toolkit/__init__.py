"""What every tool uses: the toolsets and how a tool is declared (`registry`), the context a tool
runs in (`context`), the write pipeline (`write`), shaping and cleaning answers (`shape`), schema
compaction and argument checks (`schema`), toolset selection (`toolsets`), identifier types
(`identifiers`), the cached stack metadata (`stackmeta`), the query language (`query`) and the
entry field checks (`entry_schema`). Toolsets live in `cs_mcp.tools`, one module each."""
