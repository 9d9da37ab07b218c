"""Huey tasks of the engine: wake-ups only. Runs, steps and cursors in the database are the state.

A wake-up lost with a killed worker costs nothing: the minute tick advances
whatever is due and sweeps the time-based triggers again (a sweep inserts
only occurrences not started yet).
"""

from __future__ import annotations

import logging

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from procedo.automation.services import steps, sweeps
from procedo.events import wakeups

logger = logging.getLogger(__name__)

# The moment (epoch seconds) the executor's timer is set for, in Huey's key-value store.
TIMER = "procedo.timer:automation"


def _timer_set() -> None:
    """Schedule a wake-up for the moment the next run falls due later (a wait ends, a retry).

    Before, such a run waited for the minute's tick: up to 60 s after its moment.
    One timer for the soonest moment, not one per run: when it fires, the wake-up
    sets it again for the next. A timer set for a moment no later than this one
    and not yet past is kept.
    """
    now = timezone.now()
    at = steps.runs_next_wake_at(now=now)
    if at is None:
        return
    huey = automation_wake.huey
    armed = huey.get(TIMER, peek=True)
    if armed is not None and now.timestamp() < armed <= at.timestamp():
        return
    huey.put(TIMER, at.timestamp())
    automation_wake.schedule(eta=at)


@db_task()
def automation_wake() -> None:
    wakeups.taken(automation_wake)
    steps.runs_advance_all()
    _timer_set()


@db_periodic_task(crontab(minute="*"))
def automation_tick() -> None:
    """Once a minute: sweep time-based triggers, then advance every due run."""
    started = 0
    try:
        started = sweeps.sweeps_run()
    except Exception:
        # A broken sweep must not stop due runs from advancing; the next tick retries it.
        logger.exception("SOP sweeps failed")
    advanced = steps.runs_advance_all()
    _timer_set()
    # A line when the tick did something, none for an idle minute.
    if started or advanced:
        logger.info("tick: %d run(s) started by schedules, %d advanced", started, advanced)
