"""Rate limits, injected faults and the request log of the sandbox, over loopback."""

from __future__ import annotations

import json
import time

import httpx2
import pytest

from cs_mcp.sandbox.limits import classify
from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxConfig

pytestmark = pytest.mark.anyio

MISSING_ENTRY = "/cma/v3/content_types/author/entries/bltmissing"


async def test_every_answer_carries_the_rate_limit_headers(sandbox_http: httpx2.AsyncClient) -> None:
    first = await sandbox_http.get("/cma/v3/locales")
    second = await sandbox_http.get("/cma/v3/locales")
    assert first.headers["X-RateLimit-Limit"] == "10"
    assert int(second.headers["X-RateLimit-Remaining"]) == int(first.headers["X-RateLimit-Remaining"]) - 1


async def test_the_eleventh_write_in_a_second_answers_429_until_the_clock_moves(
    sandbox: RunningSandbox, sandbox_http: httpx2.AsyncClient
) -> None:
    statuses = [(await sandbox_http.delete(MISSING_ENTRY)).status_code for _ in range(10)]
    assert 429 not in statuses
    refused = await sandbox_http.delete(MISSING_ENTRY)
    assert refused.status_code == 429
    assert refused.json()["error_code"] == 429
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in refused.headers
    reads = await sandbox_http.get("/cma/v3/locales")
    assert reads.status_code == 200, "reads have their own window"
    await sandbox_http.post("/_sandbox/clock", json={"advance_seconds": 1})
    assert (await sandbox_http.delete(MISSING_ENTRY)).status_code == 422


async def test_bulk_endpoints_allow_one_request_a_second(sandbox_http: httpx2.AsyncClient) -> None:
    body = {"entries": [], "locales": ["en-us"], "environments": ["development"]}
    first = await sandbox_http.post("/cma/v3/bulk/publish", json=body)
    assert first.headers["X-RateLimit-Limit"] == "1"
    second = await sandbox_http.post("/cma/v3/bulk/publish", json=body)
    assert second.status_code == 429


async def test_the_cda_allows_one_hundred_requests_a_second(sandbox: RunningSandbox) -> None:
    creds = sandbox.credentials
    headers = {"api_key": creds.api_key, "access_token": creds.delivery_tokens["development"]}
    async with httpx2.AsyncClient(base_url=f"{sandbox.base_url}/cdn/v3", headers=headers) as http:
        first = await http.get("/content_types/recipe/entries", params={"environment": "development"})
        assert first.headers["X-RateLimit-Limit"] == "100"


async def test_without_rate_limits_nothing_is_refused_and_no_headers_are_sent() -> None:
    async with running_sandbox(SandboxConfig(rate_limits=False)) as running:
        creds = running.credentials
        headers = {"api_key": creds.api_key, "authorization": creds.management_token}
        async with httpx2.AsyncClient(base_url=running.base_url, headers=headers) as http:
            answers = [await http.delete(MISSING_ENTRY) for _ in range(12)]
    assert {a.status_code for a in answers} == {422}
    assert "X-RateLimit-Limit" not in answers[0].headers


def _classified(method: str, path: str) -> tuple[str, tuple[str, ...]]:
    found = classify(method, path)
    assert found is not None
    return found.api, found.keys


def test_requests_are_classified_by_api_and_kind() -> None:
    assert _classified("GET", "/cma/v3/locales") == ("cma", ("cma.read",))
    assert _classified("PUT", "/cma/v3/releases/x") == ("cma", ("cma.write",))
    assert _classified("POST", "/cma/v3/bulk/unpublish") == ("cma", ("cma.bulk", "cma.write"))
    assert _classified("GET", "/cdn/v3/assets") == ("cda", ("cda",))
    assert _classified("GET", "/analytics/v2/usage") == ("analytics", ("analytics",))
    assert _classified("PATCH", "/automate/v1/x") == ("automate", ("automate",))
    assert classify("GET", "/_sandbox/stats") is None


async def test_a_429_storm_refuses_the_next_requests_then_ends(sandbox_http: httpx2.AsyncClient) -> None:
    await sandbox_http.post("/_sandbox/faults", json={"storm_429": 2})
    statuses = [(await sandbox_http.get("/cma/v3/locales")).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]


async def test_an_error_rate_of_one_answers_every_request_with_the_error_status(
    sandbox_http: httpx2.AsyncClient,
) -> None:
    await sandbox_http.post("/_sandbox/faults", json={"error_rate": 1.0, "error_status": 502})
    answer = await sandbox_http.get("/cma/v3/locales")
    assert answer.status_code == 502
    assert answer.json()["error_code"] == 502
    await sandbox_http.post("/_sandbox/faults", json={"error_rate": 0.0})
    assert (await sandbox_http.get("/cma/v3/locales")).status_code == 200


async def test_a_dropped_connection_gives_the_client_no_readable_answer(
    sandbox: RunningSandbox, sandbox_http: httpx2.AsyncClient
) -> None:
    await sandbox_http.post("/_sandbox/faults", json={"drop_connections": 1})
    with pytest.raises(httpx2.TransportError):
        await sandbox_http.get("/cma/v3/locales")
    assert (await sandbox_http.get("/cma/v3/locales")).status_code == 200
    assert sandbox.state.config.faults.drop_connections == 0


async def test_a_malformed_body_is_cut_short_once(sandbox_http: httpx2.AsyncClient) -> None:
    await sandbox_http.post("/_sandbox/faults", json={"malformed_bodies": 1})
    cut = await sandbox_http.get("/cma/v3/locales")
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    whole = await sandbox_http.get("/cma/v3/locales")
    assert len(whole.content) > 2 * len(cut.content) - 2
    assert whole.json()["locales"]


async def test_added_latency_delays_the_answer(sandbox_http: httpx2.AsyncClient) -> None:
    await sandbox_http.post("/_sandbox/faults", json={"latency_ms": 60})
    started = time.monotonic()
    await sandbox_http.get("/cma/v3/locales")
    assert time.monotonic() - started >= 0.06


async def test_the_request_log_records_each_answered_request(
    sandbox: RunningSandbox, sandbox_http: httpx2.AsyncClient
) -> None:
    await sandbox_http.get("/cma/v3/locales")
    await sandbox_http.delete(MISSING_ENTRY)
    await sandbox_http.get("/_sandbox/stats")
    assert sandbox.state.request_log == [("cma", "GET", "/cma/v3/locales"), ("cma", "DELETE", MISSING_ENTRY)]
