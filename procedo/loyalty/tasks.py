"""The nightly recompute: spend leaves the rolling window with time alone, no order needed."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from procedo.loyalty import services


@db_periodic_task(crontab(minute="20", hour="3"), retries=3, retry_delay=60)
def loyalty_tiers_recompute() -> None:
    services.tiers_recompute()
    services.memberships_enter_missing()
    services.rewards_credit_missing()
