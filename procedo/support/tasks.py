"""The minute's support work: SLA breaches and waits, and Telegram replies not yet out."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from procedo.support import telegram
from procedo.support.services.tickets import sla_sweep


@db_periodic_task(crontab(minute="*"))
def support_minute() -> None:
    sla_sweep()
    telegram.telegram_send_due()
