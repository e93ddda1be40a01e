"""StackAdminAPI against httpx2.MockTransport: a write needs the guard's permit for its
operation, an answer without its collection is malformed, and the models keep no secret."""

from __future__ import annotations

import httpx2
import pytest

from cs_mcp.client import (
    DELIVERY_TOKENS,
    LABELS,
    WEBHOOKS,
    ContentstackClient,
    MalformedResponseError,
    PermitRequiredError,
)
from cs_mcp.guard import PermitAuthority
from tests.client._mock import MANAGEMENT, mock_client

pytestmark = pytest.mark.anyio


def client_answering(body: object, sent: list[httpx2.Request], authority: PermitAuthority) -> ContentstackClient:
    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json=body)

    return mock_client(answer, MANAGEMENT, permits=authority)


async def test_a_write_without_the_permit_of_its_operation_sends_nothing() -> None:
    sent: list[httpx2.Request] = []
    authority = PermitAuthority()
    wrong = authority.issue("local", "create_label", "label.update", {"branch": ["main"]})
    async with client_answering({}, sent, authority) as client:
        with pytest.raises(PermitRequiredError):
            await client.admin.create(LABELS, {"name": "L"}, permit=None, targets={})
        with pytest.raises(PermitRequiredError):
            await client.admin.create(LABELS, {"name": "L"}, permit=wrong, targets={})
    assert sent == []


async def test_an_answer_without_its_collection_is_malformed() -> None:
    sent: list[httpx2.Request] = []
    async with client_answering({"labels": {}}, sent, PermitAuthority()) as client:
        with pytest.raises(MalformedResponseError):
            await client.admin.list(LABELS)


async def test_a_webhook_and_a_delivery_token_are_read_without_their_secrets() -> None:
    destination = {
        "target_url": "https://h.example.com",
        "authentication_type": "Bearer",
        "bearer_token": "hook-secret-1",
        "custom_header": [{"header_name": "X-Key", "value": "header-secret-2"}],
    }
    hook = {"uid": "cs1", "name": "H", "destinations": [destination]}
    token: dict[str, object] = {"uid": "blt1", "name": "T", "token": "cs-token-secret-3", "scope": []}
    sent: list[httpx2.Request] = []
    async with client_answering({"webhooks": [hook], "tokens": [token]}, sent, PermitAuthority()) as client:
        [webhook] = await client.admin.list(WEBHOOKS)
        [delivery] = await client.admin.list(DELIVERY_TOKENS)
    kept = webhook.model_dump_json() + delivery.model_dump_json()
    assert webhook.destinations[0].header_names == ["X-Key"]
    assert [s for s in ("hook-secret-1", "header-secret-2", "cs-token-secret-3") if s in kept] == []
