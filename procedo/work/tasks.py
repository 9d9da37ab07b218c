"""Huey tasks of work: the minute tick that marks overdue tasks and escalates them.

The task columns are the state (`overdue_notified_at`, `escalated_at`): a tick
lost with a killed worker is made up by the next one, and two workers ticking
at once claim disjoint tasks.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from procedo.work.services import escalation

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
def work_tick() -> None:
    """Once a minute: tell people of overdue tasks and escalate those past their rule's time."""
    result = escalation.tasks_sweep()
    # A line when the tick did something, none for an idle minute.
    if result.overdue or result.escalated:
        logger.info(
            "tick: %d task(s) overdue, %d escalated, %d notification(s)",
            result.overdue,
            result.escalated,
            result.notifications,
        )
