"""The bare baseline: an `mcp` server with one tool that makes the same single httpx2 GET to
the same Contentstack (or sandbox) that cs-mcp's read tools make, and returns the answer.

Every benchmark measures cs-mcp beside it in the same run. Run on its own it serves stdio,
configured by the same environment variables as `cs-mcp serve`; `--http PORT` serves
Streamable HTTP at http://127.0.0.1:PORT/mcp instead (and 200 at /healthz, to wait on):

    python -m bench.baseline [--http PORT]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def build_baseline(env: Mapping[str, str]) -> MCPServer[httpx2.AsyncClient]:
    """The bare server for the stack `env` names (the CONTENTSTACK_* variables)."""
    headers = {
        "api_key": env["CONTENTSTACK_API_KEY"],
        "authorization": env["CONTENTSTACK_MANAGEMENT_TOKEN"],
        "branch": env.get("CONTENTSTACK_BRANCH", "main"),
    }
    base = env.get("CONTENTSTACK_CMA_BASE_URL", "https://api.contentstack.io")

    @asynccontextmanager
    async def lifespan(_server: MCPServer[httpx2.AsyncClient]) -> AsyncGenerator[httpx2.AsyncClient]:
        async with httpx2.AsyncClient(base_url=base, headers=headers) as http:
            yield http

    server: MCPServer[httpx2.AsyncClient] = MCPServer("bare", lifespan=lifespan, log_level="WARNING")

    @server.tool()
    async def get(
        ctx: Context[httpx2.AsyncClient, Any], path: str, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """GET a path of the Content Management API and answer its JSON."""
        http = ctx.request_context.lifespan_context
        response = await http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", type=int, metavar="PORT", help="serve Streamable HTTP on this loopback port")
    port: int | None = parser.parse_args().http
    server = build_baseline(os.environ)
    if port is None:
        server.run()
        return

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_request: Request) -> Response:  # pyright: ignore[reportUnusedFunction]
        return JSONResponse({"status": "ok"})

    server.run("streamable-http", host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
