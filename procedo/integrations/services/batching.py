"""New shop orders processed by the batch: a flash sale's hundreds of orders a second.

One delivery at a time, an order costs about a hundred statements through the customers,
catalog and orders services (make bench, B1b: some 40 orders a second). Most deliveries
in a rush are alike: a new order, of a new buyer, in a status that holds its stock. Those
go together through the set-based services (`customers_create_many`, `skus_ensure`,
`orders_take_many`) in one transaction, with the events, versions and idempotency claims the
one-at-a-time path writes; a test holds both paths to the same end state on real payloads.

Every other delivery (an order seen before, a customer who is known, a move that changes
stock, anything the batch cannot take) is left to `delivery_process`, as is the whole batch
when any part of it is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import DatabaseError, models, transaction
from django.db import connection as database
from django.utils import timezone
from django.utils.translation import gettext_noop

from procedo.core.errors import DomainError
from procedo.core.idempotency import idempotency_claims_done, idempotency_keys_claimed
from procedo.core.texts import LaterText
from procedo.customers import normalise
from procedo.customers import selectors as customer_selectors
from procedo.customers.services.bulk import NewCustomer, customers_create_many
from procedo.integrations.models import Connection, Delivery, DeliveryState, ExternalVersion
from procedo.integrations.platforms import PLATFORMS, common
from procedo.integrations.services._common import DELIVERY_CLAIM, delivery_claim
from procedo.orders.models import Order, OrderStatus, StatusCategory
from procedo.orders.services.shop_orders import (
    SHIPMENT_STATUSES_TAKEN,
    ShopOrderIn,
    ShopPaymentIn,
    ShopShipmentIn,
    orders_take_many,
)

logger = logging.getLogger(__name__)

# A batch holds the write lock while it writes (the whole database on SQLite): 100 orders
# are ~0.2 s of it, short enough for the hook's INSERTs waiting meanwhile.
BATCH = 100
# Where a new order may be brought without its stock moving (a cancelled or shipped one
# goes the one-at-a-time way).
_CATEGORIES_TAKEN = frozenset({StatusCategory.NEW, StatusCategory.CONFIRMED})


@dataclass
class _Planned:
    delivery: Delivery
    shop: common.ShopOrder
    request: dict[str, Any]  # what order_create would be asked, but the customer
    person: NewCustomer | None  # a new customer to make, or None: the order has nobody
    takeable: bool  # False: an order the batch leaves alone, with every delivery of it


def _person(connection: Connection, person: common.Person) -> NewCustomer:
    """The buyer as a new customer, normalised as `customer_find_or_create` would; a phone
    that does not parse is left out (as customer_take does). DomainError or ValueError: an
    email that does not parse, or nothing to make a customer of (the one-at-a-time path
    refuses those, saying why)."""
    email = normalise.email_normalise(person.email[:254]) if person.email.strip() else ""
    try:
        phone = normalise.phone_normalise(person.phone[:40]) if person.phone.strip() else None
    except DomainError:
        phone = None
    first, last = common.text(person.first_name, 100), common.text(person.last_name, 100)
    if not (first or last or email or phone):
        raise ValueError("nobody to make a customer of")
    return NewCustomer(
        first_name=first,
        last_name=last,
        external_ref=common.ref(connection, "customer", person.external_id)
        if person.external_id
        else None,
        email=email,
        phone=phone,
    )


def _read(delivery: Delivery) -> _Planned | None:
    """The delivery as a shop's order, takeable when it is one the batch can take."""
    spec = PLATFORMS[delivery.connection.platform]
    payload = spec.decode(bytes(delivery.body))
    try:
        shop = spec.read_order(delivery.topic, payload)
        if shop is None:
            return None
        request = common.order_request(delivery.connection, shop)
    except (DomainError, KeyError, TypeError, ValueError, ArithmeticError):
        return None  # delivery_process says why, and keeps it failed
    person, trackings = shop.person, [f.tracking_number for f in shop.fulfillments]
    takeable = (
        bool(shop.lines)
        and shop.category in _CATEGORIES_TAKEN
        and len(set(trackings)) == len(trackings)
        and all(f.status in SHIPMENT_STATUSES_TAKEN for f in shop.fulfillments)
    )
    buyer = None
    if takeable and (person.external_id or person.email or person.phone):
        try:
            buyer = _person(delivery.connection, person)
        except (DomainError, ValueError):
            takeable = False
    return _Planned(delivery, shop, request, buyer, takeable)


def _identities(person: NewCustomer | None) -> list[str]:
    """The buyer's email and phone as stored."""
    if person is None:
        return []
    return [value for value in (person.email, person.phone.e164 if person.phone else "") if value]


def _marks(item: _Planned) -> set[tuple[Any, ...]]:
    """What a delivery touches that another of the batch must not touch too."""
    connection_id = item.delivery.connection_id
    return {
        ("event", connection_id, item.delivery.event_id),
        ("order", item.request["external_ref"]),
        ("customer", item.person.external_ref if item.person else None),
        *(("identity", value) for value in _identities(item.person)),
        *(("fulfillment", connection_id, f.external_id) for f in item.shop.fulfillments),
    } - {("customer", None)}


def _fresh(planned: list[_Planned]) -> list[_Planned]:
    """The takeable ones whose event, order, versions and buyer nothing here knows yet, and
    that share none of these with another delivery of the batch before them; the others
    need the one-at-a-time path's lookups, in their order of arrival."""
    seen: set[tuple[Any, ...]] = set()
    unique: list[_Planned] = []
    for item in planned:
        marks = _marks(item)
        if item.takeable and not marks & seen:
            unique.append(item)
        seen |= marks
    if not unique:
        return []
    # Their twins by the delivery_event index alone (with the connection first, not a
    # scan; the batch's own rows left out), then the state of those few: reading the state
    # of every row of the batch cost SQLite a read past each stored body (make bench, B1b).
    twins = (
        Delivery.objects.filter(
            connection_id__in={item.delivery.connection_id for item in unique},
            event_id__in=[item.delivery.event_id for item in unique],
        )
        .exclude(pk__in=[item.delivery.pk for item in unique])
        .order_by()  # the model's newest first would walk delivery_connection instead
        .values_list("pk", flat=True)
    )
    processed = set(
        Delivery.objects.filter(pk__in=list(twins), state=DeliveryState.PROCESSED).values_list(
            "connection_id", "event_id"
        )
    )
    claimed = idempotency_keys_claimed(keys=[delivery_claim(item.delivery)[0] for item in unique])
    orders = set(
        Order.objects.filter(
            external_ref__in=[item.request["external_ref"] for item in unique]
        ).values_list("external_ref", flat=True)
    )
    applied = set(
        ExternalVersion.objects.filter(
            # The kinds named, for the unique index (connection, kind, external id): without
            # them every version of the connection was read (65 ms a batch at 93,000).
            connection_id__in={item.delivery.connection_id for item in unique},
            kind__in=("order", "fulfillment"),
            external_id__in={
                external_id
                for item in unique
                for external_id in (
                    item.shop.external_id,
                    *(f.external_id for f in item.shop.fulfillments),
                )
            },
        ).values_list("connection_id", "kind", "external_id")
    )
    known = customer_selectors.identifiers_known(
        external_refs=[i.person.external_ref for i in unique if i.person and i.person.external_ref],
        identity_values=[value for item in unique for value in _identities(item.person)],
    )
    return [
        item
        for item in unique
        if (item.delivery.connection_id, item.delivery.event_id) not in processed
        and delivery_claim(item.delivery)[0] not in claimed
        and item.request["external_ref"] not in orders
        and (item.delivery.connection_id, "order", item.shop.external_id) not in applied
        and not any(
            (item.delivery.connection_id, "fulfillment", f.external_id) in applied
            for f in item.shop.fulfillments
        )
        and not known
        & {item.person.external_ref if item.person else None, *_identities(item.person)}
    ]


def _status_path(category: str) -> list[str]:
    """The pipeline's moves from a new order's status to `category` (common.status_path)."""
    initial = (
        OrderStatus.objects.filter(category=StatusCategory.NEW).order_by("position", "id").first()
    )
    if initial is None:
        return []
    return common.status_path(initial.code, initial.category, category)


def _order_in(item: _Planned, customer_id: int | None, path: list[str]) -> ShopOrderIn:
    connection, shop = item.delivery.connection, item.shop
    payment = (
        ShopPaymentIn(
            external_id=common.ref(connection, "payment", shop.external_id),
            status=shop.payment_status,
            method=shop.payment_method,
            paid_at=shop.paid_at,
        )
        if shop.payment_status
        else None
    )
    shipments = []
    for f in shop.fulfillments:
        key = common.ref(connection, "fulfillment", f.external_id)
        shipments.append(
            ShopShipmentIn(
                carrier=f.carrier,
                tracking_number=f.tracking_number,
                status=f.status,
                at=f.at,
                created_key=f"{key}:created",
                status_key=f"{key}:{f.status}:{common.version_of(f.at)}",
            )
        )
    return ShopOrderIn(
        **item.request,
        customer_id=customer_id,
        status_path=path,
        status_key=common.ref(connection, "order", shop.external_id),
        payment=payment,
        shipments=shipments,
    )


def _write(batch: list[_Planned]) -> None:
    """The batch's rows, all or nothing (the caller's transaction)."""
    now = timezone.now()
    connections = {item.delivery.connection_id: item.delivery.connection for item in batch}
    for connection_id, connection in connections.items():
        common.lines_ensure(
            connection,
            [item.request for item in batch if item.delivery.connection_id == connection_id],
        )
    customers: dict[int, int] = {}  # delivery id -> its new customer
    for connection_id, connection in connections.items():
        buyers = [
            item
            for item in batch
            if item.delivery.connection_id == connection_id and item.person is not None
        ]
        made = customers_create_many(
            people=[item.person for item in buyers if item.person is not None],
            source=connection.get_platform_display(),
            actor=None,
            arriving=True,
        )
        customers.update(zip((item.delivery.pk for item in buyers), made, strict=True))
    paths = {category: _status_path(category) for category in {i.shop.category for i in batch}}
    orders = orders_take_many(
        orders=[
            _order_in(item, customers.get(item.delivery.pk), paths[item.shop.category])
            for item in batch
        ]
    )
    ExternalVersion.objects.bulk_create(
        [
            ExternalVersion(
                connection_id=item.delivery.connection_id,
                kind="order",
                external_id=item.shop.external_id,
                version=item.shop.version,
            )
            for item in batch
        ]
        + [
            ExternalVersion(
                connection_id=item.delivery.connection_id,
                kind="fulfillment",
                external_id=f.external_id,
                version=common.version_of(f.at),
            )
            for item in batch
            for f in item.shop.fulfillments
        ]
    )
    idempotency_claims_done(
        operation=DELIVERY_CLAIM,
        claims=[(*delivery_claim(item.delivery), item.delivery.pk) for item in batch],
    )
    _mark_processed(
        [
            (item.delivery.pk, LaterText(gettext_noop("Order %(n)s"), {"n": order.number}))
            for item, order in zip(batch, orders, strict=True)
        ],
        now,
    )


def _mark_processed(notes: list[tuple[int, LaterText]], now: datetime) -> None:
    """Each delivery processed, with its note ("Order 1234") as delivery_process leaves it:
    one UPDATE run for all rows (executemany). bulk_update's CASE for every row and field
    cost as much as the rest of the batch (make bench, B1b)."""
    # The columns are the fields' names; each value is prepared by its field for the backend.
    fields = {
        name: cast("models.Field[Any, Any]", Delivery._meta.get_field(name))
        for name in ("processed_at", "error_text")
    }
    q = database.ops.quote_name
    sql = (
        f"UPDATE {q(Delivery._meta.db_table)} SET {q('state')} = %s, {q('duplicate_of_id')} = NULL,"  # noqa: S608 (names are the model's)
        f" {q('error')} = %s, {q('error_field')} = '', {q('error_text')} = %s,"
        f" {q('processed_at')} = %s, {q('attempts')} = {q('attempts')} + 1,"
        f" {q('next_attempt_at')} = NULL WHERE {q('id')} = %s"
    )
    processed_at = fields["processed_at"].get_db_prep_save(now, database)
    with database.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                (
                    DeliveryState.PROCESSED,
                    note.render_in("en")[:1000],
                    fields["error_text"].get_db_prep_save(note.stored(), database),
                    processed_at,
                    delivery_id,
                )
                for delivery_id, note in notes
            ],
        )


def deliveries_process_batch(*, delivery_ids: Sequence[int]) -> set[int]:
    """Process together the received deliveries among these that are new orders a batch
    can take; the ids it processed. The rest are for `delivery_process`, one at a time."""
    deliveries = list(
        Delivery.objects.select_related("connection")
        .filter(pk__in=list(delivery_ids)[:BATCH], state=DeliveryState.RECEIVED)
        .order_by("id")
    )
    batch = _fresh([item for item in map(_read, deliveries) if item is not None])
    if len(batch) < 2:
        return set()
    try:
        with transaction.atomic():
            # Another worker may be at the same deliveries: those it holds or has processed
            # since they were read are its own (PostgreSQL skips its locked rows; SQLite
            # runs one writer at a time, so the state read here is the last word).
            mine = set(
                Delivery.objects.select_for_update(skip_locked=True)
                .filter(pk__in=[item.delivery.pk for item in batch], state=DeliveryState.RECEIVED)
                .values_list("pk", flat=True)
            )
            batch = [item for item in batch if item.delivery.pk in mine]
            if batch:
                _write(batch)
    except (DomainError, ValueError, DatabaseError) as exc:
        # Refused as a whole (a twin worker claimed one, an order the services refuse):
        # each goes its own way and fails, if it must, with its own reason.
        logger.info("a batch of %s deliveries goes one at a time: %s", len(batch), exc)
        return set()
    return {item.delivery.pk for item in batch}
