"""A worker that starts takes up at once what waits: a worker killed mid-pass had taken the
wake-up with it, and the rest waited for the minute's tick."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client

from procedo.events.models import ConsumerCursor, Event
from procedo.integrations.models import Delivery
from procedo.integrations.tests import helpers
from procedo.integrations.tests.helpers import body_of, resource
from procedo.orders.models import Order
from procedo.testing import child_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_starting_worker_processes_the_deliveries_and_events_left_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nobody is woken: as after a worker killed with the wake-ups taken.
    monkeypatch.setattr("procedo.integrations.services.receiving._wake_soon", lambda: None)
    monkeypatch.setattr("procedo.events.services.recording._wake_consumers", lambda: None)
    client, shop = Client(), helpers.connect("shopify")
    order = resource("shopify/order.json", "order")
    helpers.shopify(client, shop, "orders/create", body_of(order), "start-1")
    assert Delivery.objects.get().state == "received"

    # No periodic tasks: the minute's tick cannot be what takes them up.
    worker = subprocess.Popen(
        [sys.executable, "-m", "procedo", "run_huey", "--workers", "2", "--no-periodic"],
        env=child_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            cursor = ConsumerCursor.objects.filter(name="events.daily_counts").first()
            if cursor and cursor.events_handled >= Event.objects.count() and Order.objects.exists():
                break
            time.sleep(0.2)
        assert Delivery.objects.get().state == "processed"
        assert Order.objects.get().external_ref
        cursor = ConsumerCursor.objects.get(name="events.daily_counts")
        assert cursor.events_handled == Event.objects.count()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
