"""Huey tasks for the sender: wake-ups only. The ledger rows are the state."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from procedo.messaging.sending import messages_send_due

logger = logging.getLogger(__name__)


@db_task()
def messages_dispatch() -> None:
    # No lock: the compare-and-set claim lets two senders run at once without overlap.
    messages_send_due()


@db_periodic_task(crontab(minute="*"))
def messages_tick() -> None:
    """Every minute, whatever happened to the wake-ups: retries, leases, deferred mail."""
    report = messages_send_due()
    # A line when the tick did something, none for an idle minute.
    if report.handled:
        logger.info(
            "tick: %d message(s) sent, %d to retry, %d failed, %d of unknown fate",
            report.sent,
            report.retrying,
            report.failed,
            report.unknown,
        )
