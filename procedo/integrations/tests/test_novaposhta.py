"""Nova Poshta tracking against a local server answering getStatusDocuments in the
documented format: batched, paced by the parcel's age, codes mapped with the carrier's
time, and "waiting at the branch for 3 days" told once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from procedo.events.models import Event
from procedo.integrations import novaposhta, remote
from procedo.integrations.models import TrackingPoll
from procedo.integrations.services import connections as connections_services
from procedo.integrations.tests.helpers import LocalApi
from procedo.orders.models import Shipment
from procedo.orders.services.lines import OrderLineIn
from procedo.orders.services.shipments import shipment_create
from procedo.orders.services.taking import order_create

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _kyiv(moment: datetime, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    return moment.astimezone(novaposhta.KYIV).strftime(pattern)


def _shipment(number: str, *, carrier: str = "nova_poshta", age: timedelta) -> Shipment:
    order = order_create(
        lines=[OrderLineIn(quantity=1, description="Свічка", unit_price="450.00")],
        actor=None,
        idempotency_key=None,
    )
    shipment = shipment_create(
        order_id=order.pk, carrier=carrier, tracking_number=number, actor=None, idempotency_key=None
    )
    Shipment.objects.filter(pk=shipment.pk).update(created_at=NOW - age)
    shipment.refresh_from_db()
    return shipment


def test_parcels_are_polled_in_batches_mapped_and_a_long_wait_is_told_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = connections_services.connection_create(
        platform="novaposhta", name="Нова пошта", account="", secret="np-api-key-0001", actor=None
    )
    fresh = _shipment("20450000000001", age=timedelta(hours=2))
    waiting = _shipment("20450000000002", age=timedelta(days=5))
    refused = _shipment("20450000000003", age=timedelta(days=2))
    _shipment("1Z999", carrier="UPS", age=timedelta(hours=1))  # not Nova Poshta's: never asked
    statuses = {
        fresh.tracking_number: {
            "StatusCode": "5",
            "Status": "Відправлення прямує до міста одержувача",
            "TrackingUpdateDate": _kyiv(NOW - timedelta(hours=1)),
        },
        waiting.tracking_number: {
            "StatusCode": "7",
            "Status": "Прибув у відділення",
            "TrackingUpdateDate": _kyiv(NOW - timedelta(days=4)),
        },
        refused.tracking_number: {
            "StatusCode": "103",
            "Status": "Відмова одержувача",
            "TrackingUpdateDate": _kyiv(NOW - timedelta(hours=3)),
        },
    }

    def answer(method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        assert (body["modelName"], body["calledMethod"], body["apiKey"]) == (
            "TrackingDocument",
            "getStatusDocuments",
            "np-api-key-0001",
        )
        data = [
            {"Number": d["DocumentNumber"], **statuses[d["DocumentNumber"]]}
            for d in body["methodProperties"]["Documents"]
        ]
        return (
            200,
            {
                "success": True,
                "data": data,
                "errors": [],
                "warnings": [],
                "info": [],
                "messageCodes": [],
                "errorCodes": [],
                "warningCodes": [],
                "infoCodes": [],
            },
            {},
        )

    server = LocalApi(answer)
    monkeypatch.setattr(remote, "NOVA_POSHTA_API", f"{server.url}/v2.0/json/")
    try:
        polled = novaposhta.tracking_poll(connection_id=connection.pk, now=NOW)
        assert (polled.asked, polled.moved, polled.waiting) == (3, 3, 1)
        assert len(server.seen) == 1  # one call for all three
        assert {
            d["DocumentNumber"] for d in server.seen[0][3]["methodProperties"]["Documents"]
        } == {fresh.tracking_number, waiting.tracking_number, refused.tracking_number}
        for shipment in (fresh, waiting, refused):
            shipment.refresh_from_db()
        assert (fresh.status, fresh.status_changed_at) == ("in_transit", NOW - timedelta(hours=1))
        assert (waiting.status, refused.status) == ("out_for_delivery", "failed")
        told = Event.objects.get(event_type="shipment.waiting_at_branch")
        assert (told.subject_type, told.subject_id) == ("order", waiting.order_id)
        assert (
            told.payload["days"] == 4 and told.payload["tracking_number"] == waiting.tracking_number
        )
        # Young parcels are asked about again sooner than old ones.
        next_at = dict(TrackingPoll.objects.values_list("shipment_id", "next_poll_at"))
        assert next_at[fresh.pk] == NOW + timedelta(minutes=30)
        assert next_at[waiting.pk] == NOW + timedelta(hours=3)
        assert next_at[refused.pk] == NOW + timedelta(hours=1)

        assert (
            novaposhta.tracking_poll(
                connection_id=connection.pk, now=NOW + timedelta(minutes=10)
            ).asked
            == 0
        )
        assert len(server.seen) == 1  # nothing due: nothing asked

        received = NOW + timedelta(hours=3, minutes=30)
        statuses[fresh.tracking_number] = {
            "StatusCode": "9",
            "Status": "Відправлення отримано",
            "TrackingUpdateDate": _kyiv(received + timedelta(minutes=5)),
            "RecipientDateTime": _kyiv(received, "%d.%m.%Y %H:%M:%S"),
        }
        monkeypatch.setattr(novaposhta, "BATCH", 1)
        polled = novaposhta.tracking_poll(connection_id=connection.pk, now=NOW + timedelta(hours=4))
        assert polled.asked == 3 and len(server.seen) == 4  # one waybill a call now
        fresh.refresh_from_db()
        assert (fresh.status, fresh.delivered_at) == ("delivered", received)
        assert Event.objects.filter(event_type="shipment.waiting_at_branch").count() == 1  # once
    finally:
        server.close()
