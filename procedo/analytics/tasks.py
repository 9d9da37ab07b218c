"""Huey tasks of analytics: the sales rollup's safety nets (the event consumer keeps it)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from procedo.analytics.rollups import sales_days_ensure, sales_days_rebuild

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*/10"))
def sales_days_tick() -> None:
    """Build the rollup the first time, and again after the business changed its time zone or
    currency, without waiting for the next order's event."""
    if sales_days_ensure():
        logger.info("tick: the daily sales rollup was built again")


@db_periodic_task(crontab(minute="40", hour="3"), retries=3, retry_delay=60)
def sales_days_nightly() -> None:
    """Every day counted again: catches what no event marked (an order moved to another day,
    rows loaded straight into the tables). One grouped INSERT … SELECT over the orders."""
    sales_days_rebuild()
