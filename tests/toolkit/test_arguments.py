"""The schedule a publish or a deploy takes: Contentstack's UTC form, or a refusal in plain words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from cs_mcp.toolkit.arguments import scheduled_time

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2030-01-31T09:00:00Z", "2030-01-31T09:00:00.000Z"),
        (" 2030-01-31T09:00:00z ", "2030-01-31T09:00:00.000Z"),
        ("2030-01-31T11:00:00.25+02:00", "2030-01-31T09:00:00.250Z"),
    ],
)
def test_a_future_time_with_a_zone_is_sent_in_utc_with_milliseconds(given: str, sent: str) -> None:
    assert scheduled_time(given, action="publish", now=NOW) == sent


@pytest.mark.parametrize("given", [None, "", "  "])
def test_no_schedule_means_now(given: str | None) -> None:
    assert scheduled_time(given, action="deploy", now=NOW) is None


def test_a_past_time_is_refused_and_says_how_to_act_at_once() -> None:
    with pytest.raises(ToolError, match=r"not in the future.*to deploy at once, leave scheduled_at out"):
        scheduled_time("2029-12-31T23:59:59Z", action="deploy", now=NOW)


@pytest.mark.parametrize(("given", "says"), [("2030-01-31T09:00:00", "needs a time zone"), ("tomorrow", "ISO-8601")])
def test_a_time_without_a_zone_or_not_iso_is_refused(given: str, says: str) -> None:
    with pytest.raises(ToolError, match=says):
        scheduled_time(given, action="publish", now=NOW)
