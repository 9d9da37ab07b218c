"""Nova Poshta tracking: Procedo asks, as the carrier sends no webhooks.

`TrackingDocument.getStatusDocuments` (POST api.novaposhta.ua/v2.0/json/) takes up to
100 waybill numbers a call and answers each one's `StatusCode`, `Status` and times in
Kyiv's wall clock (`TrackingUpdateDate` "2024-05-21 14:33:10", `RecipientDateTime`
"21.05.2024 14:33:10"). Status codes (the carrier's list): 1 and 12 created; 4, 41, 5,
6, 101, 104 and 112 on the way; 7 and 8 at the branch or parcel locker; 9, 10 and 11
received; 102 and 103 refused; 111 a failed delivery attempt; 105 and 106 returning;
2 deleted and 3 not found say nothing about the parcel.

A parcel is asked about often while new and ever less often as it ages (POLL_EVERY);
one that has waited at the branch WAITING_DAYS days gets `shipment.waiting_at_branch`
on its order, once per arrival, for an SOP to remind the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError
from procedo.events.services.recording import event_record
from procedo.integrations import remote
from procedo.integrations.models import Connection, Platform, TrackingPoll
from procedo.integrations.platforms import common
from procedo.integrations.secrets import secret_decrypt
from procedo.orders.models import Order, Shipment, ShipmentStatus

KYIV = ZoneInfo("Europe/Kyiv")
BATCH = 100  # documents per call, as the API allows
WAITING_DAYS = 3
CARRIER_NAMES = ("nova_poshta", "nova poshta", "novaposhta", "нова пошта")
# (age of the shipment up to, ask again after)
POLL_EVERY = (
    (timedelta(days=1), timedelta(minutes=30)),
    (timedelta(days=3), timedelta(hours=1)),
    (timedelta(days=7), timedelta(hours=3)),
    (timedelta(days=21), timedelta(hours=12)),
)
POLL_SLOWEST = timedelta(days=1)
GIVE_UP_AFTER = timedelta(days=60)
STATUS = {
    **dict.fromkeys(("1", "12"), ShipmentStatus.CREATED),
    **dict.fromkeys(("4", "41", "5", "6", "101", "104", "112"), ShipmentStatus.IN_TRANSIT),
    **dict.fromkeys(("7", "8"), ShipmentStatus.OUT_FOR_DELIVERY),
    **dict.fromkeys(("9", "10", "11"), ShipmentStatus.DELIVERED),
    **dict.fromkeys(("102", "103", "111"), ShipmentStatus.FAILED),
    **dict.fromkeys(("105", "106"), ShipmentStatus.RETURNED),
}
AT_BRANCH = frozenset({"7", "8"})
FINAL = (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)


def poll_interval(age: timedelta) -> timedelta:
    return next((every for up_to, every in POLL_EVERY if age < up_to), POLL_SLOWEST)


def _carrier_time(raw: Any) -> datetime | None:
    """The carrier's Kyiv wall-clock time ("2024-05-21 14:33:10" or "21.05.2024 14:33:10")."""
    text = str(raw or "").strip()
    for pattern in ("%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=KYIV)
        except ValueError:
            continue
    return None


def _tracked(now: datetime) -> list[Shipment]:
    """Nova Poshta shipments still on their way whose time to be asked about has come."""
    carrier = Q()
    for name in CARRIER_NAMES:
        carrier |= Q(carrier__iexact=name)
    shipments = (
        Shipment.objects.filter(carrier, created_at__gte=now - GIVE_UP_AFTER)
        .exclude(tracking_number="")
        .exclude(status__in=FINAL)
    )
    polled = dict(
        TrackingPoll.objects.filter(shipment__in=shipments).values_list(
            "shipment_id", "next_poll_at"
        )
    )
    return [s for s in shipments.order_by("id")[:5000] if polled.get(s.pk, now) <= now]


@dataclass(frozen=True)
class Polled:
    asked: int
    moved: int
    waiting: int


def _apply(
    connection: Connection, shipment: Shipment, item: dict[str, Any], now: datetime
) -> tuple[bool, bool]:
    """(moved, told to wait) for one document's answer, in one transaction."""
    code = str(item.get("StatusCode") or "")
    status = STATUS.get(code)
    when = (
        _carrier_time(item.get("RecipientDateTime")) if status == ShipmentStatus.DELIVERED else None
    )
    when = (
        when or _carrier_time(item.get("TrackingUpdateDate")) or _carrier_time(item.get("DateScan"))
    )
    moved = told = False
    with transaction.atomic():
        poll, _created = TrackingPoll.objects.select_for_update().get_or_create(
            shipment=shipment, defaults={"next_poll_at": now}
        )
        if status is not None and shipment.status != status:
            common.shipment_status(
                shipment,
                key=f"novaposhta/{connection.pk}:{shipment.tracking_number}:{code}",
                status=status,
                at=min(when, now) if when else None,
                note=str(item.get("Status") or "")[:300],
            )
            moved = True
        if code in AT_BRANCH:
            if poll.status_code not in AT_BRANCH:
                poll.at_branch_since, poll.waiting_told = when or now, False
        else:
            poll.at_branch_since, poll.waiting_told = None, False
        since = poll.at_branch_since
        if (
            since is not None
            and not poll.waiting_told
            and now - since >= timedelta(days=WAITING_DAYS)
        ):
            order = Order.objects.get(pk=shipment.order_id)
            event_record(
                event_type="shipment.waiting_at_branch",
                subject=order,
                payload={
                    "shipment_id": shipment.pk,
                    "tracking_number": shipment.tracking_number,
                    "days": (now - since).days,
                    "since": since.isoformat(),
                    "status": str(item.get("Status") or "")[:200],
                },
                idempotency_key=f"novaposhta:waiting:{shipment.pk}:{since.isoformat()}",
            )
            poll.waiting_told = told = True
        poll.status_code = code[:10]
        poll.next_poll_at = now + poll_interval(now - shipment.created_at)
        poll.save()
    return moved, told


def tracking_poll(*, connection_id: int, now: datetime | None = None) -> Polled:
    """Ask Nova Poshta about every shipment that is due, BATCH waybills a call."""
    now = now or timezone.now()
    connection = Connection.objects.get(pk=connection_id, platform=Platform.NOVA_POSHTA)
    key = secret_decrypt(connection.secret_encrypted)
    if not key:
        raise DomainError(
            field="secret", message=_("The stored API key cannot be read; enter it again.")
        )
    shipments = _tracked(now)
    asked = moved = waiting = 0
    for start in range(0, len(shipments), BATCH):
        batch = {s.tracking_number: s for s in shipments[start : start + BATCH]}
        answer, _headers = remote.call_json(
            remote.NOVA_POSHTA_API,
            method="POST",
            headers={},
            body={
                "apiKey": key,
                "modelName": "TrackingDocument",
                "calledMethod": "getStatusDocuments",
                "methodProperties": {
                    "Documents": [{"DocumentNumber": number, "Phone": ""} for number in batch]
                },
            },
        )
        if not isinstance(answer, dict) or not answer.get("success"):
            errors = answer.get("errors") if isinstance(answer, dict) else None
            raise DomainError(
                field="api",
                message=_("Nova Poshta refused: %(why)s")
                % {"why": "; ".join(map(str, errors or []))[:200]},
            )
        asked += len(batch)
        for item in answer.get("data") or []:
            shipment = batch.get(str(item.get("Number") or ""))
            if shipment is None:
                continue
            did_move, told = _apply(connection, shipment, item, now)
            moved, waiting = moved + did_move, waiting + told
    return Polled(asked, moved, waiting)


def connections_tracking() -> list[int]:
    return list(
        Connection.objects.filter(active=True, platform=Platform.NOVA_POSHTA).values_list(
            "id", flat=True
        )
    )
