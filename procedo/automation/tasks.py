"""Huey tasks of the engine: wake-ups only. Runs, steps and cursors in the database are the state.

A wake-up lost with a killed worker costs nothing: the minute tick advances
whatever is due and sweeps the time-based triggers again (a sweep inserts
only occurrences not started yet).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from procedo.automation.services import steps, sweeps
from procedo.events import wakeups

logger = logging.getLogger(__name__)

# The moment (epoch seconds) the executor's timer is set for, in Huey's key-value store.
TIMER = "procedo.timer:automation"
# Huey's scheduler reads its schedule once a second, so a timer is set this much early and
# the wake-up waits out the rest: the run moves on at its moment, not up to a second after.
TIMER_LEAD = 1.0
TIMER_SERVE = 5.0


def _timer_set(*, fired: float | None = None) -> None:
    """Schedule a wake-up for the moment the next run falls due later (a wait ends, a retry).

    Before, such a run waited for the minute's tick: up to 60 s after its moment.
    One timer for the soonest moment, not one per run: when it fires, the wake-up
    sets it again for the next. A timer set for a moment no later than this one
    and not yet past is kept (unless it is the one that just `fired`).
    """
    now = timezone.now()
    at = steps.runs_next_wake_at(now=now)
    if at is None:
        return
    huey = automation_wake.huey
    armed = huey.get(TIMER, peek=True)
    if armed is not None and armed != fired and now.timestamp() < armed <= at.timestamp():
        return
    huey.put(TIMER, at.timestamp())
    automation_wake.schedule(kwargs={"at": at.timestamp()}, eta=at - timedelta(seconds=TIMER_LEAD))


@db_task()
def automation_wake(at: float | None = None) -> None:
    """Advance every due run. `at`: the moment of the timer that runs this; it also serves
    each next moment that falls within TIMER_LEAD (waits begun a moment apart end a moment
    apart), for at most TIMER_SERVE seconds, then sets the timer again."""
    wakeups.taken(automation_wake)
    served = at
    until = time.monotonic() + TIMER_SERVE
    while True:
        if served is not None:
            early = served - timezone.now().timestamp()
            if 0 < early <= TIMER_LEAD:
                time.sleep(early)
        steps.runs_advance_all()
        if served is None or time.monotonic() >= until:
            break
        now = timezone.now()
        following = steps.runs_next_wake_at(now=now)
        if following is None or following.timestamp() - now.timestamp() > TIMER_LEAD:
            break
        served = following.timestamp()
    _timer_set(fired=served)


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
