"""Huey tasks for the log: wake-ups only. The cursors in the database are the state."""

from __future__ import annotations

import logging

from django.db import connection
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from procedo.events.registry import consumers_all
from procedo.events.selectors import events_held_back
from procedo.events.services import consumer_drain

logger = logging.getLogger(__name__)

# On PostgreSQL a drain may stop short of committed events while an older transaction
# anywhere on the server is still open; look again a second later, for up to this long,
# instead of leaving them to the minute's tick (make bench, B2b: event → task p95).
HELD_BACK_RETRIES = 30


def _drain_all() -> None:
    for consumer in consumers_all():
        try:
            consumer_drain(
                name=consumer.name,
                handler=consumer.handler,
                ordered_by_subject=consumer.ordered_by_subject,
            )
        except Exception:
            # A handler's failure on an event never gets here (the drain records it
            # against the event and moves on); this is the database itself failing.
            # One consumer must not starve the others; its cursor stays where it was.
            logger.exception("event consumer %s failed", consumer.name)


@db_task()
def events_dispatch(attempt: int = 0) -> None:
    # No task lock: the cursor row lock already makes concurrent drains take
    # turns, and a wake-up dropped by a lock could leave fresh events waiting.
    _drain_all()
    if (
        connection.vendor == "postgresql"
        and attempt < HELD_BACK_RETRIES
        and events_held_back(names=[consumer.name for consumer in consumers_all()])
    ):
        events_dispatch.schedule(kwargs={"attempt": attempt + 1}, delay=1)


@db_periodic_task(crontab(minute="*"))
def events_tick() -> None:
    """Once a minute, whatever happened to the wake-ups: the guarantee of delivery."""
    _drain_all()
