"""`procedo run`'s restart policy on a clock of its own (the real processes: test_run_process)."""

from __future__ import annotations

from procedo.core.management.commands.run import Child


def _child() -> Child:
    return Child("worker", ["true"])


def test_a_child_dying_fast_waits_longer_each_time_then_gives_up() -> None:
    child, now, delays = _child(), 1000.0, []
    for _ in range(5):
        child.started_at = now
        now += 0.5
        delays.append(child.died(now))
        now += delays[-1] or 0
    assert delays == [1, 2, 4, 8, None]


def test_deaths_spread_beyond_the_window_keep_restarting_with_the_delay_capped() -> None:
    child, now, delays = _child(), 1000.0, []
    for _ in range(8):
        child.started_at = now
        now += 40  # up long enough to spread the deaths, not long enough to count as stable
        delays.append(child.died(now))
        now += delays[-1] or 0
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_child_that_stayed_up_a_minute_starts_its_back_off_over() -> None:
    child, now = _child(), 1000.0
    for _ in range(3):
        child.started_at = now
        now += 1
        now += child.died(now) or 0
    child.started_at = now
    assert child.died(now + 61) == 1
