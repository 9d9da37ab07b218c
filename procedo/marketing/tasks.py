"""Huey tasks: thin wake-ups around the services."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from procedo.marketing.services import campaigns as campaigns_services
from procedo.marketing.services import ladder as ladder_services
from procedo.marketing.services import rfm as rfm_services


@db_periodic_task(crontab(minute="*"))
def campaigns_tick() -> None:
    """Scheduled campaigns go out within a minute of their time."""
    campaigns_services.campaigns_send_due()


@db_periodic_task(crontab(minute="23", hour="*/3"))
def rfm_refresh_tick() -> None:
    # Every three hours: recency moves by the day, and only changed rows are written.
    rfm_services.rfm_refresh()


@db_periodic_task(crontab(minute="41", hour="3"))
def ladder_tick() -> None:
    """Nightly: what customers buy next changes slowly."""
    ladder_services.ladder_compute()
