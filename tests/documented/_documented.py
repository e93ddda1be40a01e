"""What the documented-answers tests share: the fixtures (a reference page's sample answer with
its source beside it) and a client whose transport answers them."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import httpx2

from cs_mcp.client import ClientConfig, ContentstackClient
from cs_mcp.guard import Permit, PermitAuthority

FIXTURES = Path(__file__).resolve().parent / "fixtures"

CONFIG = ClientConfig(
    api_key="blt_api_key",
    management_token="cs_management_token",
    authtoken="cs_authtoken",
    organization_uid="org-uid",
    delivery_tokens={"production": "cs_delivery_token"},
    default_environment="production",
)


def fixture(name: str) -> dict[str, Any]:
    """The sample answer of fixture `name` ("cma/bulk_job"), without its `_source`."""
    return cast(dict[str, Any], source_and_answer(name)[1])


def source_and_answer(name: str) -> tuple[dict[str, str], Any]:
    document = json.loads((FIXTURES / f"{name}.json").read_text())
    return document["_source"], document["response"]


def every_fixture() -> list[str]:
    return sorted(str(p.relative_to(FIXTURES).with_suffix("")) for p in FIXTURES.rglob("*.json"))


def fixtures_outside_analytics() -> list[str]:
    """The CMA's, CDA's and Automate's fixtures: test_analytics.py holds the Analytics API's,
    test_stack_admin.py those of the stack administration requests (`stack_admin/`)."""
    return [name for name in every_fixture() if not name.startswith(("analytics/", "stack_admin/"))]


def fixtures_under(folder: str) -> list[str]:
    """The fixtures in one folder of `fixtures/` ("stack_admin")."""
    return [name for name in every_fixture() if name.startswith(f"{folder}/")]


class AnyTarget(PermitAuthority):
    """Accepts every permit it issued, whatever the request targets: these tests are about what
    travels on the wire, and the guard's own tests hold the targets to account."""

    def verify(self, permit: Permit | None, operation: str, targets: Mapping[str, Any] | None = None) -> None:
        if permit is None:
            super().verify(permit, operation, targets)


class Recorder:
    """A transport answering every request with one fixture, keeping what was sent."""

    def __init__(self, answer: Callable[[httpx2.Request], Any]) -> None:
        self.requests: list[httpx2.Request] = []
        self._answer = answer

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return httpx2.Response(200, json=self._answer(request))


def client_answering(recorder: Recorder) -> tuple[ContentstackClient, Permit]:
    """A client on `recorder`, and a permit its authority accepts for any write."""
    authority = AnyTarget()
    client = ContentstackClient(CONFIG, permits=authority, transport=httpx2.MockTransport(recorder))
    return client, authority.issue("documented", "test", "any")
