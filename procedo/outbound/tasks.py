"""Huey tasks for webhooks: wake-ups only. The deliveries' rows are the state."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from procedo.outbound.services import deliveries_send_due


@db_task()
def deliveries_send() -> None:
    deliveries_send_due()


@db_periodic_task(crontab(minute="*"))
def deliveries_tick() -> None:
    """Once a minute: retries come due, and a wake-up lost with its process is made up for."""
    deliveries_send_due()
