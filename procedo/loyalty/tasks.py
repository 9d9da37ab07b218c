"""The nightly recompute: spend leaves the rolling window with time alone, no order needed."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from procedo.loyalty.services.membership import memberships_enter_missing
from procedo.loyalty.services.programme import tiers_recompute
from procedo.loyalty.services.rewards import rewards_credit_missing


@db_periodic_task(crontab(minute="20", hour="3"), retries=3, retry_delay=60)
def loyalty_tiers_recompute() -> None:
    tiers_recompute()
    memberships_enter_missing()
    rewards_credit_missing()
