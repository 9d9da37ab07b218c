"""Huey tasks of the engine: wake-ups only. Runs, steps and cursors in the database are the state.

A wake-up lost with a killed worker costs nothing: the minute tick advances
whatever is due and sweeps the time-based triggers again (a sweep inserts
only occurrences not started yet).
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from procedo.automation.services import steps, sweeps

logger = logging.getLogger(__name__)


@db_task()
def automation_wake() -> None:
    steps.runs_advance_all()


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
    # A line when the tick did something, none for an idle minute.
    if started or advanced:
        logger.info("tick: %d run(s) started by schedules, %d advanced", started, advanced)
