"""Huey tasks for deliveries: wake-ups and a sweep; the delivery rows are the state."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from procedo.integrations import services


@db_task()
def deliveries_process(connection_id: int) -> None:
    services.deliveries_process_pending(connection_id=connection_id)


@db_periodic_task(crontab(minute="*"))
def deliveries_tick() -> None:
    """Deliveries whose wake-up was lost, and failed ones whose retry is due."""
    services.deliveries_process_pending()
