"""What every tool uses: the toolsets and how a tool is declared (`registry`), the context a tool
runs in (`context`), the write pipeline and the answer contract (`write`), shaping and cleaning
answers and the read envelope (`shape`), schema compaction and argument checks (`schema`), the
arguments the read tools share (`arguments`), toolset selection (`toolsets`), identifier types
(`identifiers`), the cached stack metadata and its name checks (`stackmeta`), the query language
(`query`) and the entry field checks (`entry_schema`). Toolsets live in `cs_mcp.tools`, one
module each."""
