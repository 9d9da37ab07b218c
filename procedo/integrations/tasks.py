"""Huey tasks for deliveries: wake-ups and a sweep; the delivery rows are the state."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from procedo.core.errors import DomainError
from procedo.events import wakeups
from procedo.integrations import selectors
from procedo.integrations.services import processing as processing_services
from procedo.integrations.services import spooling as spooling_services

logger = logging.getLogger(__name__)


@db_task()
def deliveries_process() -> None:
    """Woken after deliveries are stored; coalesced (procedo/events/wakeups.py): a burst of
    thousands is one wake-up at a time, not one queued task per delivery."""
    wakeups.taken(deliveries_process)
    processing_services.deliveries_process_pending()
    if selectors.deliveries_waiting():
        wakeups.wake(deliveries_process)  # a burst larger than one pass: the next one


@on_startup()
def deliveries_on_start() -> None:
    """A worker process that starts (again, after one was killed mid-pass with the wake-up
    taken) looks at once at what waits, not at the minute's tick: what the web server's
    spool holds from before a restart too."""
    _spool_left_moved()
    wakeups.wake(deliveries_process)


@db_periodic_task(crontab(minute="*"))
def deliveries_tick() -> None:
    """Spool files a web process left (killed, or stopped before its mover was done) when
    no other web process has taken them up; deliveries whose wake-up was lost, and failed
    ones whose retry is due."""
    _spool_left_moved()
    processing_services.deliveries_process_pending()


def _spool_left_moved() -> None:
    try:
        spooling_services.spool_left_moved()
    except Exception:  # the database away: the files wait for the next tick
        logger.exception("could not move the deliveries web processes left in the spool")


@db_periodic_task(crontab(minute="*/5"))
def novaposhta_tick() -> None:
    """Nova Poshta parcels whose time to be asked about has come (each has its own pace)."""
    from procedo.integrations import novaposhta

    for connection_id in novaposhta.connections_tracking():
        try:
            novaposhta.tracking_poll(connection_id=connection_id)
        except DomainError as exc:
            logger.warning("Nova Poshta tracking of connection %s: %s", connection_id, exc.message)


@db_periodic_task(crontab(minute="17"))
def reconcile_tick() -> None:
    """Once an hour: what Stripe's events list and Shopify's orders show that webhooks missed."""
    from procedo.integrations import reconcile

    for connection_id in reconcile.connections_reconcilable():
        if reconcile.connection_reconcile(connection_id=connection_id).stored:
            processing_services.deliveries_process_pending(connection_id=connection_id)
