"""Huey tasks for the log: wake-ups only. The cursors in the database are the state."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from procedo.events.registry import consumers_all
from procedo.events.services import consumer_drain

logger = logging.getLogger(__name__)


def _drain_all() -> None:
    for consumer in consumers_all():
        try:
            consumer_drain(name=consumer.name, handler=consumer.handler)
        except Exception:
            # One broken consumer must not starve the others; its cursor stays
            # where it was and the next tick retries the same batch.
            logger.exception("event consumer %s failed", consumer.name)


@db_task()
def events_dispatch() -> None:
    # No task lock: the cursor row lock already makes concurrent drains take
    # turns, and a wake-up dropped by a lock could leave fresh events waiting.
    _drain_all()


@db_periodic_task(crontab(minute="*"))
def events_tick() -> None:
    """Once a minute, whatever happened to the wake-ups: the guarantee of delivery."""
    _drain_all()
