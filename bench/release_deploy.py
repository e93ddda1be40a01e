"""A release of N items built and deployed through the tools, under the real rate limits:
`create_release` with N items (added 25 to a request) then `deploy_release` to one environment,
against the sandbox with its limits on. Wall time beside the minimum those limits allow for the
requests the job cannot do without, and the 429s.

The minimum: one create, ceil(N/25) item requests and one deploy are writes (10 in any second);
the reads the job cannot skip are the items' latest versions (100 uids a request), the release's
items (100 a page) and the stack metadata (content types, environments, locales). Within one
family, r requests must wait at least ceil(r / 10) - 1 seconds. The ratio is requests sent over
requests needed: every extra request is time once the limits bite.

    python -m bench.release_deploy [--items 100]
"""

from __future__ import annotations

import math
import time
from typing import Any, cast

from mcp import Client

from bench._common import command_line
from bench.bulk_publish import CountingTransport, publisher_server, seed_posts
from cs_mcp.sandbox.runner import running_sandbox
from cs_mcp.sandbox.state import SandboxConfig


async def run(items: int) -> str:
    writes_needed = 1 + math.ceil(items / 25) + 1
    reads_needed = math.ceil(items / 100) + math.ceil(items / 100) + 3
    minimum = float(max(math.ceil(writes_needed / 10), math.ceil(reads_needed / 10)) - 1)
    async with running_sandbox(SandboxConfig(rate_limits=True)) as sandbox:
        uids = seed_posts(sandbox, items, ("en-us",))
        transport = CountingTransport()
        server = publisher_server(sandbox, transport)
        release_items = [{"type": "entry", "content_type": "blog_post", "uid": uid, "locale": "en-us"} for uid in uids]
        before = len(sandbox.state.request_log)
        async with Client(server) as client:
            start = time.perf_counter()
            created = await client.call_tool("create_release", {"name": "Bench release", "items": release_items})
            if created.is_error or created.structured_content is None:
                raise SystemExit(f"create_release failed: {created.content}")
            release = cast(dict[str, Any], created.structured_content)["release"]
            deployed = await client.call_tool(
                "deploy_release", {"release_uid": release["uid"], "environments": ["staging"]}
            )
            wall = time.perf_counter() - start
        if deployed.is_error:
            raise SystemExit(f"deploy_release failed: {deployed.content}")
        sent = sandbox.state.request_log[before:]
    reads = sum(1 for _api, method, _path in sent if method == "GET")
    writes = len(sent) - reads
    ratio = (writes + reads) / (writes_needed + reads_needed)
    return (
        f"release_deploy: {items} items: create + deploy in {wall:.2f} s (the limits force at least "
        f"{minimum:.2f} s of waiting); sent {writes} writes (needed {writes_needed}) and {reads} reads "
        f"(needed {reads_needed}), ratio {ratio:.2f}; 429s absorbed by the client: {transport.rate_limited}"
    )


def main() -> None:
    command_line(__doc__.splitlines()[0] if __doc__ else None, run, items=100)


if __name__ == "__main__":
    main()
