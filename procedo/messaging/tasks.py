"""Huey tasks for the sender: wake-ups only. The ledger rows are the state."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from procedo.messaging.services.sending import SendReport, messages_send_due

logger = logging.getLogger(__name__)


@db_task()
def messages_dispatch() -> None:
    # No lock: the compare-and-set claim lets two senders run at once without overlap.
    _report_log("wake-up", messages_send_due())


@db_periodic_task(crontab(minute="*"))
def messages_tick() -> None:
    """Every minute, whatever happened to the wake-ups: retries, leases, deferred mail."""
    _report_log("tick", messages_send_due())


def _report_log(what: str, report: SendReport) -> None:
    # A line when it did something, none when there was nothing to send. Wake-ups send
    # most mail (the demo store's hundreds at the first start), so they say so too.
    if report.handled:
        logger.info(
            "%s: %d message(s) sent, %d to retry, %d failed, %d of unknown fate",
            what,
            report.sent,
            report.retrying,
            report.failed,
            report.unknown,
        )
