"""Huey tasks of the shared pieces."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from procedo.core.idempotency import idempotency_keys_expire


@db_periodic_task(crontab(minute="17"))
def idempotency_keys_tick() -> None:
    """Hourly: forget idempotency keys older than a day (Stripe keeps them 24 h)."""
    idempotency_keys_expire()
