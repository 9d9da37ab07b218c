"""Shipments and the carrier's statuses, which move the order along."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.core.texts import LaterText
from procedo.orders.models import (
    OrderStatus,
    Shipment,
    ShipmentStatus,
    ShipmentStatusChange,
    StatusCategory,
)
from procedo.orders.services._common import _order_event, _order_get
from procedo.orders.services.statuses import _original, _status_move

# A carrier's scan may move the order along, where the pipeline allows it.
SHIPMENT_MOVES_ORDER = {
    ShipmentStatus.IN_TRANSIT: StatusCategory.SHIPPED,
    ShipmentStatus.OUT_FOR_DELIVERY: StatusCategory.SHIPPED,
    ShipmentStatus.DELIVERED: StatusCategory.DELIVERED,
}


SHIPMENT_FINAL = {
    ShipmentStatus.DELIVERED: frozenset({ShipmentStatus.RETURNED}),
    ShipmentStatus.RETURNED: frozenset(),
}


@idempotent("shipment.create", replay=lambda pk: Shipment.objects.get(pk=pk))
@transaction.atomic
def shipment_create(
    *,
    order_id: int,
    carrier: str,
    actor: Actor,
    idempotency_key: str | None,
    tracking_number: str = "",
) -> Shipment:
    carrier = (carrier or "").strip()
    if not carrier:
        raise DomainError(field="carrier", message=_("Name the carrier."))
    order = _order_get(order_id)
    if order.status.category == StatusCategory.CANCELLED:
        raise Conflict(field="order_id", message=_("The order is cancelled."))
    now = timezone.now()
    shipment = Shipment.objects.create(
        order=order,
        carrier=carrier[:60],
        tracking_number=tracking_number.strip()[:100],
        status=ShipmentStatus.CREATED,
        status_changed_at=now,
        created_at=now,
    )
    ShipmentStatusChange.objects.create(
        shipment=shipment,
        to_status=ShipmentStatus.CREATED,
        occurred_at=now,
        actor_id=actor_id_of(actor),
    )
    _order_event(
        order,
        event_type="shipment.created",
        actor=actor,
        payload={
            "shipment_id": shipment.pk,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
        },
        idempotency_key=idempotency_key,
    )
    return shipment


@idempotent("shipment.update_status", replay=lambda pk: Shipment.objects.get(pk=pk))
@transaction.atomic
def shipment_update_status(
    *,
    shipment_id: int,
    status: str,
    actor: Actor,
    idempotency_key: str | None,
    occurred_at: datetime | None = None,
    note: str = "",
) -> Shipment:
    """A new shipment status, kept in its history; in transit or delivered may move the order.

    The order moves only where the pipeline allows it from where the order is;
    otherwise the shipment changes and the order stays for a person to handle.
    """
    if status not in ShipmentStatus.values:
        raise DomainError(
            field="status", message=_("Unknown shipment status %(s)s.") % {"s": status}
        )
    shipment = Shipment.objects.filter(pk=shipment_id).first()
    if shipment is None:
        raise NotFound(field="shipment_id", message=_("No such shipment."))
    previous = shipment.status
    if previous == status:
        return shipment  # the carrier said it twice
    final = SHIPMENT_FINAL.get(ShipmentStatus(previous))
    if final is not None and status not in final:
        raise Conflict(
            field="status",
            message=_("A %(from)s shipment cannot become %(to)s.")
            % {"from": previous, "to": status},
        )
    at = occurred_at or timezone.now()
    delivered_at = at if status == ShipmentStatus.DELIVERED else shipment.delivered_at
    if not Shipment.objects.filter(pk=shipment.pk, status=previous).update(
        status=status, status_changed_at=at, delivered_at=delivered_at
    ):
        raise Conflict(field="status", message=_("The shipment changed meanwhile; reload it."))
    shipment.status, shipment.status_changed_at, shipment.delivered_at = status, at, delivered_at
    ShipmentStatusChange.objects.create(
        shipment=shipment,
        from_status=previous,
        to_status=status,
        note=note.strip()[:300],
        occurred_at=at,
        actor_id=actor_id_of(actor),
    )
    order = _order_get(shipment.order_id)
    _order_event(
        order,
        event_type="shipment.status_changed",
        actor=actor,
        payload={
            "shipment_id": shipment.pk,
            "from": previous,
            "to": status,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
        },
        idempotency_key=idempotency_key,
        occurred_at=occurred_at,
    )
    category = SHIPMENT_MOVES_ORDER.get(ShipmentStatus(status))
    if category is not None and order.status.category != category:
        target = (
            OrderStatus.objects.filter(
                category=category, transitions_in__from_status__code=order.status_id
            )
            .order_by("position", "id")
            .first()
        )
        if target is not None:
            _status_move(
                order,
                target,
                actor=actor,
                idempotency_key=f"{idempotency_key}:order" if idempotency_key else None,
                changed_at=at,  # delivered when the carrier says, not when we heard
                note=LaterText(
                    gettext_noop("Carrier: %(status)s"),
                    {"status": LaterText(_original(ShipmentStatus(status).label))},
                ),
            )
    return shipment
