"""The note the system writes on an order's move ("Carrier: In transit") is kept in the event
as its English original and parameters, and the timeline reads it in the reader's language;
a person's note, or one stored before, reads as written."""

from __future__ import annotations

import pytest
from django.utils import translation

from procedo.events.models import Event
from procedo.events.timeline import timeline_lines
from procedo.orders.services.shipments import shipment_create, shipment_update_status
from procedo.orders.services.statuses import order_change_status
from procedo.orders.tests.factories import key, move, order_create

pytestmark = pytest.mark.django_db


def _moves(order_id: int) -> list[str]:
    events = Event.objects.filter(event_type="order.status_changed", subject_id=order_id)
    return [line.plain for line in timeline_lines(list(events.order_by("id")))]


def test_a_carriers_note_reads_in_ukrainian_and_an_old_or_a_persons_as_written() -> None:
    order = move(order_create(), "confirmed")
    order_change_status(
        order_id=order.pk, to_status="packed", actor=None, idempotency_key=None, note="Сам"
    )
    shipment = shipment_create(
        order_id=order.pk, carrier="Нова пошта", actor=None, idempotency_key=key()
    )
    shipment_update_status(
        shipment_id=shipment.pk, status="in_transit", actor=None, idempotency_key=key()
    )
    shipped = Event.objects.get(event_type="order.status_changed", payload__to="shipped")
    assert shipped.payload["note"] == "Carrier: In transit"
    with translation.override("uk"):
        confirmed, packed, by_carrier = _moves(order.pk)
    assert ":" not in confirmed  # no note, no colon
    assert packed.endswith(": Сам")
    assert by_carrier.endswith(": Перевізник: У дорозі")

    Event.objects.filter(pk=shipped.pk).update(
        payload={k: v for k, v in shipped.payload.items() if k != "note_text"}
    )  # an event from before
    with translation.override("uk"):
        assert _moves(order.pk)[-1].endswith(": Carrier: In transit")
