"""EasyPost events: `tracker.updated` and `tracker.created` move the shipment with that
tracking number (made in Procedo when the parcel was handed over)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.core.errors import DomainError
from procedo.core.texts import LaterText
from procedo.integrations.models import Connection
from procedo.integrations.platforms import common
from procedo.orders.models import Shipment, ShipmentStatus

STATUS = {
    "pre_transit": ShipmentStatus.CREATED,
    "in_transit": ShipmentStatus.IN_TRANSIT,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "available_for_pickup": ShipmentStatus.OUT_FOR_DELIVERY,
    "delivered": ShipmentStatus.DELIVERED,
    "return_to_sender": ShipmentStatus.RETURNED,
    "failure": ShipmentStatus.FAILED,
    "error": ShipmentStatus.FAILED,
}


def describe(headers: Mapping[str, str], payload: Any) -> tuple[str, str]:
    if not isinstance(payload, dict):
        return "", ""
    # An Event's id is shared by its retries; tracker updates each have their own.
    return str(payload.get("description") or ""), str(payload.get("id") or "")


def handle(connection: Connection, topic: str, payload: Any) -> LaterText:
    if not topic.startswith("tracker."):
        return LaterText(gettext_noop("Topic %(t)s is not used by Procedo."), {"t": topic})
    tracker = payload.get("result") if isinstance(payload, dict) else None
    if not isinstance(tracker, dict) or not tracker.get("tracking_code"):
        raise DomainError(field="result.tracking_code", message=_("No tracking code."))
    code = str(tracker["tracking_code"])[:100]
    status = STATUS.get(str(tracker.get("status") or ""))
    if status is None:
        return LaterText(
            gettext_noop("Status %(s)s says nothing new."), {"s": tracker.get("status")}
        )
    shipment = Shipment.objects.filter(tracking_number=code).order_by("-id").first()
    if shipment is None:
        raise common.refusal(
            common.NotYet,
            "result.tracking_code",
            gettext_noop("No shipment with tracking number %(code)s (yet)."),
            code=code,
        )
    updated = common.when(tracker.get("updated_at"), field_name="updated_at")
    if not common.version_newer(
        connection,
        kind="tracker",
        external_id=str(tracker.get("id") or code),
        version=common.version_of(updated),
    ):
        return LaterText(gettext_noop("An older tracking update: skipped."))
    # The carrier's own time of the latest scan in this status, not when we heard of it.
    scans = [
        d
        for d in tracker.get("tracking_details") or []
        if isinstance(d, dict) and d.get("status") == tracker["status"]
    ]
    at = common.when(scans[-1].get("datetime"), field_name="datetime") if scans else updated
    note = str(scans[-1].get("message") or "") if scans else ""
    common.shipment_status(
        shipment,
        key=common.ref(connection, "tracker", tracker.get("id") or code),
        status=status,
        at=at,
        note=note,
    )
    return LaterText(gettext_noop("Shipment %(code)s"), {"code": code})
