"""How a team run's 429s are judged: none before the kill or during the outage, and after Redis
came back at most `AFTER_RESTART_ALLOWANCE` (none)."""

from __future__ import annotations

import pytest

from bench._team import AFTER_RESTART_ALLOWANCE, Figures


def figures(*samples: tuple[float, int], sent: int | None = None) -> Figures:
    total = samples[-1][1] if sent is None else sent
    return Figures(
        stats={"rate_limited": {"org": {"cma.write": total}}},
        rate_limited_over_time=list(samples),
        killed_at=10.0,
        restarted_at=20.0,
    )


@pytest.mark.parametrize(
    ("samples", "beyond"),
    [
        (((5.0, 0), (15.0, 0), (25.0, 0)), False),
        (((5.0, 0), (15.0, 0), (25.0, AFTER_RESTART_ALLOWANCE + 1)), True),
        (((5.0, 1), (15.0, 1), (25.0, 1)), True),
        (((5.0, 0), (15.0, 1), (25.0, 1)), True),
    ],
    ids=["none", "one more than the allowance after the restart", "one before the kill", "one during the outage"],
)
def test_a_run_is_beyond_its_allowance_only_for_429s_outside_the_restart_or_over_the_allowance(
    samples: tuple[tuple[float, int], ...], beyond: bool
) -> None:
    assert figures(*samples).rate_limited_beyond_allowance() is beyond


def test_a_429_sent_after_the_last_sample_is_beyond_the_allowance() -> None:
    assert figures((5.0, 0), (15.0, 0), (25.0, 0), sent=1).rate_limited_beyond_allowance()


def test_the_team_run_allows_no_429_after_redis_came_back_either() -> None:
    assert figures((5.0, 0), (15.0, 0), (25.0, 1)).rate_limited_beyond_allowance()
