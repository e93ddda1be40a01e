"""Small helpers tests share."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import httpx2
from mcp.client.context import ClientRequestContext
from mcp.client.session import ElicitationFnT
from mcp.server import MCPServer
from mcp_types import CallToolResult, ElicitRequestParams, ElicitResult, TextContent

from cs_mcp.client import Entry, RateLimits, RetryPolicy
from cs_mcp.config import Settings
from cs_mcp.guard import Guard
from cs_mcp.server import build_server
from cs_mcp.toolkit.context import AppState

# The editor role of README.md's "Permissions" example, the base of the guard and write-pipeline tests' policies.
EDITOR_ROLE = """\
[roles.editor]
inherits = ["viewer"]
scopes = ["cm.entry:write"]
content_types = ["blog_post", "author"]
locales = ["en-us", "fr-fr"]
"""


def full_env(api_key: str, management_token: str, authtoken: str, organization_uid: str) -> dict[str, str]:
    """The variables of a stack with every credential set: its API key and management token, and
    the authtoken and organization that Analytics and Automate read with."""
    return {
        "CONTENTSTACK_API_KEY": api_key,
        "CONTENTSTACK_MANAGEMENT_TOKEN": management_token,
        "CONTENTSTACK_AUTHTOKEN": authtoken,
        "CONTENTSTACK_ORGANIZATION_UID": organization_uid,
    }


# Wide client-side limits, for tests whose subject is not the pacing.
UNPACED = RateLimits(
    cma_read=100_000, cma_write=100_000, cma_bulk=100_000, cda=100_000, analytics=100_000, automate=100_000
)


class CountingTransport(httpx2.AsyncBaseTransport):
    """Passes requests on (to the sandbox app, say) and records each one: its method and path in
    `sent`, the request itself in `requests` (for its parameters and body)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[tuple[str, str]] = []
        self.requests: list[httpx2.Request] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append((request.method, request.url.path))
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    def writes(self) -> list[tuple[str, str]]:
        """The requests sent that were not reads."""
        return [(m, p) for m, p in self.sent if m != "GET"]


def sandbox_server(
    settings: Settings,
    guard: Guard,
    role: str,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> MCPServer[AppState]:
    """A server on the sandbox backend for `role` under `guard`, with wide client-side rate
    limits (`transport`: how it reaches the sandbox, when not over the network)."""
    return build_server(
        settings, backend="sandbox", guard=guard, stdio_role=role, transport=transport, rate_limits=UNPACED, retry=retry
    )


def text_of(result: CallToolResult) -> str:
    """The text blocks of a tool result, joined."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def structured(result: CallToolResult) -> dict[str, Any]:
    """The structured answer of a call that must have succeeded (its text in the failure)."""
    assert not result.is_error, text_of(result)
    return cast(dict[str, Any], result.structured_content)


SDK_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sdk"


def sdk_fixture(name: str) -> dict[str, Any]:
    """A response fixture of Contentstack's management SDK, such as `mock_releases/find.json`."""
    return cast(dict[str, Any], json.loads((SDK_FIXTURES / name).read_text()))


def run_peer(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs a peer program (an MCP client or inspector) to the end; its status and output as text."""
    return subprocess.run(
        list(argv), env=dict(env), cwd=str(cwd), capture_output=True, text=True, timeout=timeout, check=False
    )


def as_the_model_reads(raw: Any) -> dict[str, Any]:
    """An entry as the client's `Entry` reads it and writes it back, in the model's order: what
    the plain reading the tools use must give."""
    return Entry.model_validate(raw).model_dump(by_alias=True, exclude_unset=True)


def token_payload(token: str) -> str:
    """What anyone holding a confirmation token can read of it: its payload, decoded (JSON)."""
    raw = token.split(".")[0]
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()


def assert_unreadable_in_token(secret: str, token: str) -> None:
    """`secret` is in no readable form in the token: neither as it is nor as a plain sha256 that
    a guess at it could be checked against."""
    payload = token_payload(token)
    assert secret not in payload
    assert hashlib.sha256(secret.encode()).hexdigest() not in payload


def agreeing_after(change: Callable[[], None]) -> tuple[ElicitationFnT, list[str]]:
    """An elicitation callback whose human takes a while to agree, during which `change` is
    made to the stack (by an editor elsewhere), and the questions it was asked."""
    asked: list[str] = []

    async def agree(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        change()
        return ElicitResult(action="accept", content={"confirm": True})

    return agree, asked
