"""Huey tasks of analytics: the sales rollup's safety nets (the event consumer keeps it) and
the nightly lifetime-value forecast."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from procedo.analytics.rollups import sales_days_ensure, sales_days_rebuild
from procedo.analytics.services import value_forecast_refresh

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


@db_periodic_task(crontab(minute="55", hour="3"), retries=2, retry_delay=300)
def value_forecast_nightly() -> None:
    """A customer's expected spend moves with each day without an order: fitted once a day,
    after the rollup. A refused fit is recorded with its reason, not retried."""
    forecast = value_forecast_refresh()
    logger.info("value forecast as of %s: %s %s", forecast.as_of, forecast.outcome, forecast.reason)
