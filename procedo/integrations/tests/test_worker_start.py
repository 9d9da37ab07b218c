"""A worker that starts takes up at once the deliveries that wait: one killed mid-pass had
taken the wake-up with it, and the rest waited for the minute's tick."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.test import Client

from procedo.integrations.models import Delivery
from procedo.integrations.tests import helpers
from procedo.integrations.tests.helpers import body_of, resource
from procedo.orders.models import Order
from procedo.testing import child_env, worker_process

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_starting_worker_processes_the_deliveries_left_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nobody is woken: as after a worker killed with the wake-ups taken.
    monkeypatch.setattr("procedo.integrations.services.waking.deliveries_wake_soon", lambda: None)
    client, shop = Client(), helpers.connect("shopify")
    order = resource("shopify/order.json", "order")
    helpers.shopify(client, shop, "orders/create", body_of(order), "start-1")
    assert Delivery.objects.get().state == "received"

    # No periodic tasks: the minute's tick cannot be what takes them up.
    with worker_process(child_env(tmp_path), "--workers", "2", "--no-periodic"):
        deadline = time.monotonic() + 45
        while Delivery.objects.filter(state="received").exists():
            assert time.monotonic() < deadline, "the waiting delivery was never processed"
            time.sleep(0.2)
    assert Delivery.objects.get().state == "processed"
    assert Order.objects.get().external_ref
