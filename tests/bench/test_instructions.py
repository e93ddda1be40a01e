"""The pieces of `bench.instructions` that hold logic: filing recorded answers, reading dumps."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from bench.instructions import NoTotals, Replay, request_key, total_instructions

DUMP = """version: 1
creator: callgrind-3.22.0
cmd:  python -m bench.baseline --http 41234
events: Ir
summary: 0
fl=(1) ???
fn=(1) 0x0000000000401000
0 12
totals: 4092872
"""


def test_request_key_files_the_same_parameters_in_any_order_alike() -> None:
    assert request_key("get", "/v3/entries", "limit=5&skip=0") == request_key("GET", "/v3/entries", "skip=0&limit=5")


def test_request_key_tells_other_values_and_paths_apart() -> None:
    key = request_key("GET", "/v3/entries", "limit=5")
    assert key != request_key("GET", "/v3/entries", "limit=10")
    assert key != request_key("GET", "/v3/entries/blt1", "limit=5")


def test_request_key_reads_a_percent_encoded_path_as_the_plain_one() -> None:
    assert request_key("GET", "/v3/a%20b", "") == request_key("GET", "/v3/a b", "")


def test_total_instructions_reads_the_totals_line_over_a_zero_summary() -> None:
    assert total_instructions(DUMP) == 4092872


def test_total_instructions_reads_the_summary_line_of_an_older_dump() -> None:
    assert total_instructions("events: Ir\nsummary: 1234\n") == 1234


def test_total_instructions_refuses_text_that_is_no_dump() -> None:
    with pytest.raises(NoTotals):
        total_instructions("events: Ir\n")


@pytest.mark.anyio
async def test_replay_answers_a_recorded_request_and_refuses_any_other() -> None:
    def stack(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"entries": [], "asked": str(request.url.query)})

    with Replay() as replay:
        async with httpx2.AsyncClient(base_url="http://stack", transport=httpx2.MockTransport(stack)) as http:
            recorded = await replay.record(http, "/v3/entries", {"limit": "5", "skip": "0"})
        async with httpx2.AsyncClient(base_url=replay.base) as http:
            with anyio.fail_after(10):
                again = await http.get("/v3/entries", params={"skip": "0", "limit": "5"})
                other = await http.get("/v3/entries", params={"limit": "6"})
    assert again.status_code == 200
    assert again.json() == recorded
    assert other.status_code == 404
    assert replay.missed == [request_key("GET", "/v3/entries", "limit=6")]
