"""A worker that starts takes up at once the deliveries that wait (one killed mid-pass had
taken the wake-up with it), and those a web process left in its spool: they waited for the
minute's tick."""

from __future__ import annotations

import subprocess
import sys
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
    # And one a web process answered from its spool, then was stopped before moving it.
    _spooled_by_a_process_that_ended(
        tmp_path / "hooks-spool",
        shop.pk,
        body_of({**order, "id": 1, "name": "#1002", "order_number": 1002, "fulfillments": []}),
    )

    # No periodic tasks: the minute's tick cannot be what takes them up.
    with worker_process(child_env(tmp_path), "--workers", "2", "--no-periodic"):
        deadline = time.monotonic() + 45
        while Delivery.objects.filter(state="received").exists() or Delivery.objects.count() < 2:
            assert time.monotonic() < deadline, "the waiting deliveries were never processed"
            time.sleep(0.2)
    assert set(Delivery.objects.values_list("state", flat=True)) == {"processed"}, list(
        Delivery.objects.values("event_id", "error")
    )
    assert Order.objects.count() == 2
    assert not list((tmp_path / "hooks-spool").iterdir())


_SPOOL_AND_END = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from procedo.integrations import spool
meta = {"connection_id": int(sys.argv[2]), "received_at": datetime.now(UTC).isoformat(),
        "topic": "orders/create", "event_id": "start-2", "headers": {}, "state": "received",
        "error": "", "error_field": "", "error_text": None}
record = spool.record_encode(meta, sys.stdin.buffer.read())
spool.Spool(Path(sys.argv[1]), flush=True).append(record)
"""


def _spooled_by_a_process_that_ended(directory: Path, connection_id: int, body: bytes) -> None:
    subprocess.run(
        [sys.executable, "-c", _SPOOL_AND_END, str(directory), str(connection_id)],
        input=body,
        check=True,
    )
