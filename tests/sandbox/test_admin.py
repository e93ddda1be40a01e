"""The sandbox's controls at /_sandbox: clock, faults, stats, loopback only."""

from __future__ import annotations

import httpx2
import pytest

from cs_mcp.sandbox.app import create_app
from cs_mcp.sandbox.runner import RunningSandbox
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState

pytestmark = pytest.mark.anyio


async def test_advancing_the_clock_moves_now_and_runs_the_tick_callbacks(
    sandbox: RunningSandbox, sandbox_http: httpx2.AsyncClient
) -> None:
    ticks: list[str] = []
    sandbox.state.on_tick.append(lambda: ticks.append(sandbox.state.clock.now().isoformat()))
    before = (await sandbox_http.get("/_sandbox/clock")).json()["now"]
    assert before == "2025-06-02T09:30:00.000Z"
    after = (await sandbox_http.post("/_sandbox/clock", json={"advance_seconds": 3600})).json()["now"]
    assert after == "2025-06-02T10:30:00.000Z"
    assert ticks == ["2025-06-02T10:30:00+00:00"]


@pytest.mark.parametrize("body", [{"advance_seconds": -1}, {"advance_seconds": "soon"}, {"seconds": 1}, None])
async def test_an_invalid_clock_move_is_refused(sandbox_http: httpx2.AsyncClient, body: object) -> None:
    answer = await sandbox_http.post("/_sandbox/clock", json=body)
    assert answer.status_code == 422


async def test_faults_are_read_and_replaced_field_by_field(
    sandbox: RunningSandbox, sandbox_http: httpx2.AsyncClient
) -> None:
    assert (await sandbox_http.get("/_sandbox/faults")).json()["storm_429"] == 0
    changed = (await sandbox_http.post("/_sandbox/faults", json={"latency_ms": 5, "storm_429": 0})).json()
    assert changed["latency_ms"] == 5
    assert sandbox.state.config.faults.latency_ms == 5
    refused = await sandbox_http.post("/_sandbox/faults", json={"error_rate": 2})
    assert refused.status_code == 422
    assert (await sandbox_http.post("/_sandbox/faults", json={"meltdown": True})).status_code == 422


async def test_stats_count_requests_per_api_and_method_and_the_writes(
    sandbox: RunningSandbox, sandbox_http: httpx2.AsyncClient
) -> None:
    await sandbox_http.get("/cma/v3/locales")
    await sandbox_http.get("/cma/v3/environments")
    await sandbox_http.delete("/cma/v3/content_types/author/entries/bltmissing")
    stats = (await sandbox_http.get("/_sandbox/stats")).json()
    org = sandbox.credentials.organization_uid
    assert stats == {
        "requests": {"cma": {"DELETE": 1, "GET": 2}},
        "total": 3,
        "writes": 1,
        "rate_limited": {org: {}},
        "peak_per_second": {org: {"cma.read": 2, "cma.write": 1}},
    }


async def test_stats_count_the_429s_sent_and_the_busiest_window_per_family(
    sandbox: RunningSandbox, sandbox_http: httpx2.AsyncClient
) -> None:
    body = {"entries": [], "locales": ["en-us"], "environments": ["development"]}
    statuses = [(await sandbox_http.post("/cma/v3/bulk/publish", json=body)).status_code for _ in range(3)]
    await sandbox_http.post("/_sandbox/faults", json={"storm_429": 1})
    storm = await sandbox_http.get("/cma/v3/locales")
    stats = (await sandbox_http.get("/_sandbox/stats")).json()
    org = sandbox.credentials.organization_uid
    assert statuses.count(429) == 2
    assert storm.status_code == 429
    assert stats["rate_limited"] == {org: {"cma.bulk": 2, "cma.read": 1}}
    assert stats["peak_per_second"][org] == {"cma.bulk": 1, "cma.read": 1, "cma.write": 1}


async def test_the_controls_refuse_clients_that_are_not_on_loopback() -> None:
    state = SandboxState(SandboxConfig(), Database(":memory:"), SandboxClock())
    app = create_app(state)
    transport = httpx2.ASGITransport(app=app, client=("192.0.2.10", 5000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        answer = await http.post("/_sandbox/clock", json={"advance_seconds": 10})
    state.db.close()
    assert answer.status_code == 403
