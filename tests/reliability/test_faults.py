"""Faults from the sandbox's fault injection: 429 storms, 5xx bursts, latency, dropped
connections, truncated bodies. Every tool succeeds or answers a plain error, the server keeps
serving, and no write is ever sent twice where it may have been applied."""

from __future__ import annotations

from typing import Any

import pytest

from cs_mcp.sandbox.state import FaultConfig
from tests._examples import EXAMPLES
from tests.helpers import text_of
from tests.reliability._stack import stack

pytestmark = pytest.mark.anyio

# The read tools under fault, with the shared examples' arguments (the sandbox has the
# content types and environments they name), and one published read.
FAULTED_READS = ("describe_stack", "get_content_type", "query_entries", "query_assets", "list_publish_queue",
                 "list_releases", "list_automation_projects")  # fmt: skip
READS: list[tuple[str, dict[str, Any]]] = [
    *((name, EXAMPLES[name]) for name in FAULTED_READS),
    ("query_entries", {"content_type": "blog_post", "source": "published", "environment": "production"}),
]

FAULTS: dict[str, FaultConfig] = {
    "429 storm": FaultConfig(storm_429=3),
    "5xx burst": FaultConfig(error_rate=1.0, error_status=503),
    "latency": FaultConfig(latency_ms=30),
    "dropped connections": FaultConfig(drop_connections=2),
    "truncated bodies": FaultConfig(malformed_bodies=2),
}


def assert_plain(name: str, text: str) -> None:
    assert "Traceback" not in text, name
    assert text.strip() != f"Error executing tool {name}", name
    assert len(text) > len(f"Error executing tool {name}: ") + 10, (name, text)


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_every_read_tool_answers_or_fails_in_plain_words_and_the_server_keeps_serving(fault: str) -> None:
    async with stack() as s:
        for name, arguments in READS:
            faults = FAULTS[fault]
            s.sandbox.state.config.faults = FaultConfig(**vars(faults))
            result = await s.client.call_tool(name, arguments)
            if result.is_error:
                assert_plain(name, text_of(result))
        s.sandbox.state.config.faults = FaultConfig()
        recovered = await s.client.call_tool("describe_stack", {})
    assert not recovered.is_error


async def test_a_429_storm_on_a_write_is_retried_and_the_entry_is_created_once() -> None:
    arguments: dict[str, Any] = {"content_type": "author", "fields": {"title": "Ada Storm"}, "locale": "en-us"}
    async with stack() as s:
        # A dry run first reads and caches what the write needs, so the storm meets the write.
        await s.client.call_tool("create_entry", {**arguments, "dry_run": True})
        s.sandbox.state.config.faults = FaultConfig(storm_429=2)
        result = await s.client.call_tool("create_entry", arguments)
        s.sandbox.state.config.faults = FaultConfig()
        found = await s.client.call_tool(
            "query_entries", {"content_type": "author", "query": {"title": "Ada Storm"}, "limit": 10}
        )
    assert not result.is_error, text_of(result)
    assert s.writes("/content_types/author/entries") == 3  # two refused with 429, one applied
    assert found.structured_content is not None
    assert found.structured_content["returned"] == 1


# A write whose answer is lost or fails: (the entry's title, the fault), by what must happen.
FAILED_WRITES: dict[str, tuple[str, FaultConfig]] = {
    "a dropped write is reported as outcome unknown and never resent": ("Ada Dropped", FaultConfig(drop_connections=1)),
    "a server error on a write is not retried": ("Ada Bursted", FaultConfig(error_rate=1.0, error_status=502)),
    "a truncated answer to a write is a plain error and is not resent": (
        "Ada Truncated",
        FaultConfig(malformed_bodies=1),
    ),
}


@pytest.mark.parametrize(("title", "fault"), FAILED_WRITES.values(), ids=FAILED_WRITES.keys())
async def test_a_write_that_fails_on_the_way_is_a_plain_error_and_sent_once(title: str, fault: FaultConfig) -> None:
    arguments: dict[str, Any] = {"content_type": "author", "fields": {"title": title}, "locale": "en-us"}
    async with stack() as s:
        await s.client.call_tool("create_entry", {**arguments, "dry_run": True})
        s.sandbox.state.config.faults = fault
        result = await s.client.call_tool("create_entry", arguments)
    assert result.is_error
    assert_plain("create_entry", text_of(result))
    assert s.writes("/content_types/author/entries") == 1


async def test_a_truncated_answer_during_a_publish_is_a_plain_error_and_nothing_is_sent_twice() -> None:
    async with stack() as s:
        listed = await s.client.call_tool("query_entries", {"content_type": "author", "limit": 1})
        assert listed.structured_content is not None
        uid = listed.structured_content["entries"][0]["uid"]
        arguments: dict[str, Any] = {
            "items": [{"type": "entry", "content_type": "author", "uid": uid, "version": 1, "locale": "en-us"}],
            "environments": ["staging"],
        }
        await s.client.call_tool("publish", {**arguments, "dry_run": True})
        s.sandbox.state.config.faults = FaultConfig(malformed_bodies=1)
        result = await s.client.call_tool("publish", arguments)
    if result.is_error:
        assert_plain("publish", text_of(result))
    assert s.writes(f"/entries/{uid}/publish") <= 1
