"""What the sandbox's publishing and releases tests share: the CDA read per environment, and
moving the sandbox's clock."""

from __future__ import annotations

import httpx2

from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.runner import RunningSandbox

CMA_HEADERS = {"api_key": DEMO_CREDENTIALS.api_key, "authorization": DEMO_CREDENTIALS.management_token}
# "CMA | Job Status" and "CMA | Publish Queue" mark this header required.
API_VERSION = {"api_version": "3.2"}


class Delivery:
    """What the CDA serves, read with each environment's own delivery token."""

    def __init__(self, client: httpx2.AsyncClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    async def _version(self, path: str, environment: str, locale: str, key: str) -> int | None:
        answer = await self.client.get(
            path,
            params={"environment": environment, "locale": locale},
            headers={"access_token": self.tokens[environment]},
        )
        if answer.status_code == 422:
            return None
        assert answer.status_code == 200, answer.text
        return int(answer.json()[key]["_version"])

    async def entry_version(self, content_type: str, uid: str, environment: str, locale: str) -> int | None:
        """The version of an entry the CDA serves in `environment` and `locale`, or None."""
        return await self._version(f"/content_types/{content_type}/entries/{uid}", environment, locale, "entry")

    async def asset_version(self, uid: str, environment: str, locale: str) -> int | None:
        """The version of an asset the CDA serves in `environment` and `locale`, or None."""
        return await self._version(f"/assets/{uid}", environment, locale, "asset")


async def advance_clock(cma: httpx2.AsyncClient, sandbox: RunningSandbox, seconds: float) -> None:
    """Move the sandbox clock through its admin endpoint, which fires what became due."""
    answer = await cma.post(f"{sandbox.base_url}/_sandbox/clock", json={"advance_seconds": seconds})
    assert answer.status_code == 200, answer.text
