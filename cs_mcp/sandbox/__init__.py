"""The sandbox stack: a local Contentstack that speaks CMA, CDA, Analytics v2 and Automate.

It reads the API documentation on its own and imports nothing from `cs_mcp.client`,
`cs_mcp.tools` or `cs_mcp.guard`, so that a test passing through the client and the sandbox
holds two independent readings of the APIs against each other.
"""
