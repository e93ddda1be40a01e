"""Bulk publishing under the real rate limits: N entries x L locales x E environments through the
`publish` tool against the sandbox (its limits on: bulk endpoints 1 request a second), wall time
beside the minimum those limits allow, and how many 429s came back.

The minimum: the call needs ceil(N/10) x ceil(L/10) x ceil(E/10) bulk requests, and at one a
second the last can start no sooner than (requests - 1) seconds after the first. The ratio is
wall time over that minimum (target: at most 1.2). A 429 the client absorbs by waiting is
counted at the client; one that reaches the tool would fail items, and is counted there.

    python bench/bulk_publish.py [--entries 200] [--locales 2] [--environments 2]
"""

from __future__ import annotations

import math
import time
from typing import Any, cast

import httpx2
from mcp import Client
from mcp.server import MCPServer

from bench._common import command_line
from cs_mcp.client import BULK_MAX_ENVIRONMENTS, BULK_MAX_ITEMS, BULK_MAX_LOCALES
from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.sandbox import store
from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxConfig
from cs_mcp.server import build_server
from cs_mcp.toolkit.context import AppState

LOCALES = ("en-us", "fr-fr")
ENVIRONMENTS = ("development", "staging", "production")


class CountingTransport(httpx2.AsyncBaseTransport):
    """Real HTTP, counting the 429 answers and the bulk requests the client sends."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self.rate_limited = 0
        self.bulk_sent = 0
        self._closed = False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and "/bulk/" in request.url.path:
            self.bulk_sent += 1
        response = await self._inner.handle_async_request(request)
        if response.status_code == 429:
            self.rate_limited += 1
        return response

    async def aclose(self) -> None:
        # The client closes one pool per API, all sharing this transport.
        if not self._closed:
            self._closed = True
            await self._inner.aclose()


def seed_posts(sandbox: RunningSandbox, count: int, locales: tuple[str, ...]) -> list[str]:
    """Fresh blog posts in every locale, published nowhere."""
    now = store.iso(sandbox.state.clock.now())
    uids = [f"bltbench{i:05d}" for i in range(count)]
    with sandbox.state.db.transaction() as conn:
        for uid in uids:
            for locale in locales:
                entry: dict[str, Any] = {
                    "uid": uid,
                    "locale": locale,
                    "_version": 1,
                    "created_at": now,
                    "updated_at": now,
                    "created_by": "bench",
                    "updated_by": "bench",
                    "tags": [],
                    "title": f"Bench post {uid} ({locale})",
                    "publish_date": "2026-01-01",
                }
                store.save_entry(conn, "blog_post", entry)
    return uids


def publisher_server(sandbox: RunningSandbox, transport: httpx2.AsyncBaseTransport) -> MCPServer[AppState]:
    """cs-mcp in this process against the sandbox, as the publisher role under the built-in
    policy, its requests sent through `transport`."""
    return build_server(
        Settings.from_env(sandbox.env()),
        backend="sandbox",
        guard=Guard(builtin_policy()),
        stdio_role="publisher",
        transport=transport,
    )


async def run(entries: int, locales: int, environments: int) -> str:
    if not 1 <= locales <= len(LOCALES) or not 1 <= environments <= len(ENVIRONMENTS):
        raise SystemExit(f"the sandbox has {len(LOCALES)} locales and {len(ENVIRONMENTS)} environments")
    targets_locales = list(LOCALES[:locales])
    targets_envs = list(ENVIRONMENTS[:environments])
    requests = (
        math.ceil(entries / BULK_MAX_ITEMS)
        * math.ceil(locales / BULK_MAX_LOCALES)
        * math.ceil(environments / BULK_MAX_ENVIRONMENTS)
    )
    minimum = max(requests - 1, 0) * 1.0  # seconds, at one bulk request a second
    async with running_sandbox(SandboxConfig(rate_limits=True)) as sandbox:
        uids = seed_posts(sandbox, entries, tuple(targets_locales))
        transport = CountingTransport()
        server = publisher_server(sandbox, transport)
        items = [{"type": "entry", "content_type": "blog_post", "uid": uid} for uid in uids]
        async with Client(server) as client:
            start = time.perf_counter()
            result = await client.call_tool(
                "publish", {"items": items, "environments": targets_envs, "locales": targets_locales}
            )
            wall = time.perf_counter() - start
        if result.is_error or result.structured_content is None:
            raise SystemExit(f"publish failed: {result.content}")
        answer = cast(dict[str, Any], result.structured_content)
        counts = cast(dict[str, int], answer["counts"])
        at_sandbox = sum(1 for _api, method, path in sandbox.state.request_log if method == "POST" and "/bulk/" in path)
    failed = counts.get("failed", 0)
    ratio = wall / minimum if minimum else float("nan")
    return (
        f"bulk_publish: {entries} entries x {locales} locales x {environments} environments "
        f"= {entries * locales * environments} publications in {requests} bulk requests "
        f"({transport.bulk_sent} sent, {at_sandbox} reached the sandbox); "
        f"wall {wall:.2f} s vs minimum {minimum:.2f} s at 1 bulk request/s, ratio {ratio:.3f}; "
        f"429s: {transport.rate_limited} absorbed by the client, {failed} items failed at the tool; "
        f"items {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}"
    )


def main() -> None:
    command_line(__doc__.splitlines()[0] if __doc__ else None, run, entries=200, locales=2, environments=2)


if __name__ == "__main__":
    main()
