"""Huey tasks of sales: the tick that reminds both sides of tomorrow's meetings.

`Meeting.reminded_at` is the state: a tick lost with a killed worker is made up
by the next one, and two workers ticking at once claim disjoint meetings.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from procedo.sales.services.meetings import meeting_reminders_send

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*/5"))
def sales_tick() -> None:
    reminded = meeting_reminders_send()
    if reminded:
        logger.info("tick: reminded both sides of %d meeting(s)", reminded)
