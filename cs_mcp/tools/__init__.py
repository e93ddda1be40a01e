"""The toolsets: one module each, listed in `cs_mcp.toolkit.registry.TOOLSETS`. A tool is
small: validate, ask the guard, call the client, shape the answer. Tools never speak HTTP; what
every tool uses (declaration, context, the write pipeline, shaping) lives in `cs_mcp.toolkit`."""
