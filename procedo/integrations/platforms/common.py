"""What every platform's mapping shares: versions, customers, orders, payments, shipments.

Every write goes through the owning app's service (orders, customers, catalog); this
module only decides what to ask them for. It runs inside the delivery's transaction:
a refusal anywhere leaves nothing behind and the delivery is marked failed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext as _

from procedo.catalog import selectors as catalog_selectors
from procedo.catalog import services as catalog_services
from procedo.catalog.services import OutOfStock, SkuSeen
from procedo.core.errors import DomainError, NotFound
from procedo.core.texts import LaterText
from procedo.customers.services import customers as customer_services
from procedo.integrations.models import Connection, ExternalVersion, SkuReview
from procedo.orders.models import (
    Order,
    OrderStatus,
    OrderTransition,
    Payment,
    PaymentStatus,
    Shipment,
    StatusCategory,
)
from procedo.orders.services.lines import DeliveryIn, OrderLineIn
from procedo.orders.services.payments import payment_record, refund_record
from procedo.orders.services.shipments import shipment_create, shipment_update_status
from procedo.orders.services.statuses import order_change_status
from procedo.orders.services.taking import order_create


class NotYet(NotFound):
    """What this delivery points at has not arrived yet (a refund before its order): the
    delivery fails for now and is tried again after the ones that may bring it."""


def refusal(cls: type[DomainError], field: str, msgid: str, **params: Any) -> DomainError:
    """A refusal whose reason is also kept as its original and parameters (`later`), so the
    deliveries page shows it in each reader's language, not the worker's."""
    text = gettext(msgid)
    exc = cls(field=field, message=text % params if params else text)
    exc.later = LaterText(msgid, params)  # type: ignore[attr-defined]
    return exc


def when(raw: Any, *, field_name: str) -> datetime | None:
    """A platform's time as an aware datetime; a time without an offset is UTC (WooCommerce's
    `_gmt` fields); unix seconds are accepted too."""
    if raw in (None, ""):
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return datetime.fromtimestamp(raw, tz=UTC)
    parsed = parse_datetime(str(raw).replace(" ", "T", 1)) if isinstance(raw, str) else None
    if parsed is None:
        raise DomainError(field=field_name, message=_("Not a date and time: %(v)s") % {"v": raw})
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def version_of(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment else ""


def version_newer(connection: Connection, *, kind: str, external_id: str, version: str) -> bool:
    """True (and remembered) when `version` is not older than what was applied for this object.

    The same version again is newer-or-equal: it applies again, and the services it calls
    answer a repeat with no change.
    """
    row = (
        ExternalVersion.objects.select_for_update()
        .filter(connection=connection, kind=kind, external_id=external_id)
        .first()
    )
    if row is None:
        ExternalVersion.objects.create(
            connection=connection, kind=kind, external_id=external_id, version=version
        )
        return True
    if version < row.version:
        return False
    if version != row.version:
        ExternalVersion.objects.filter(pk=row.pk).update(version=version)
    return True


def ref(connection: Connection, kind: str, external_id: Any) -> str:
    """The external reference Procedo keeps for a platform object: one per connection."""
    return f"{connection.platform}/{connection.pk}:{kind}:{external_id}"[:100]


def text(value: Any, limit: int) -> str:
    return " ".join(str(value or "").split())[:limit]


@dataclass(frozen=True)
class Person:
    external_id: str = ""
    email: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""


def customer_take(connection: Connection, person: Person) -> int | None:
    """The customer the platform's id, else the email, else the phone points at, or a new one.

    Matching and normalisation are the customers app's (customer_find_or_create). A phone
    that does not parse in the business's region is left out rather than losing the order.
    """
    if not (person.external_id or person.email or person.phone):
        return None
    arguments: dict[str, Any] = {
        "external_ref": ref(connection, "customer", person.external_id)
        if person.external_id
        else None,
        "email": person.email[:254],
        "phone": person.phone[:40],
        "first_name": text(person.first_name, 100),
        "last_name": text(person.last_name, 100),
        "source": connection.get_platform_display(),
    }
    try:
        match = customer_services.customer_find_or_create(**arguments)
    except DomainError as exc:
        if exc.field != "phone" or not person.phone:
            raise
        match = customer_services.customer_find_or_create(**{**arguments, "phone": ""})
    return int(match.customer.pk)


@dataclass(frozen=True)
class Line:
    code: str
    name: str
    quantity: int
    price: Decimal


@dataclass(frozen=True)
class Fulfillment:
    """A parcel the shop made for an order (Shopify's fulfillment), in Procedo's terms."""

    external_id: str
    at: datetime | None
    status: str  # ShipmentStatus
    carrier: str
    tracking_number: str


@dataclass
class ShopOrder:
    """A shop's order in Procedo's terms, whatever the platform."""

    external_id: str
    version: str
    label: str  # the shop's own number, "#1001"
    currency: str
    placed_at: datetime | None
    person: Person
    lines: list[Line]
    shipping: Decimal
    discount: Decimal
    category: str  # StatusCategory the shop says the order is in
    payment_status: str | None  # PaymentStatus the shop says its payment is in
    total: Decimal | None = None  # what the shop charged; None: the lines' sum is the total
    payment_method: str = "card"
    paid_at: datetime | None = None
    note: str = ""
    city: str = ""
    address: str = ""
    recipient: str = ""
    fulfillments: list[Fulfillment] = field(default_factory=list)


def order_find(connection: Connection, external_id: Any) -> Order | None:
    return (
        Order.objects.select_related("status")
        .filter(external_ref=ref(connection, "order", external_id))
        .first()
    )


def order_get(connection: Connection, external_id: Any) -> Order:
    order = order_find(connection, external_id)
    if order is None:
        raise refusal(
            NotYet,
            "order_id",
            gettext_noop("Order %(id)s of %(name)s has not arrived yet."),
            id=str(external_id),
            name=connection.name,
        )
    return order


def order_apply(connection: Connection, shop: ShopOrder) -> Order:
    """Create the order the first time it is heard of; then move it forward only.

    An older version than the one applied (out of order) changes nothing. Lines and
    totals are the shop's at creation; a later change of lines is not replayed.
    """
    if not shop.lines:
        raise DomainError(field="line_items", message=_("The order has no lines."))
    newer = version_newer(
        connection, kind="order", external_id=shop.external_id, version=shop.version
    )
    order = order_find(connection, shop.external_id)
    if order is None:
        order = _order_create(connection, shop)
    if not newer:
        return order
    _status_walk(order, shop.category, key=ref(connection, "order", shop.external_id))
    if shop.payment_status:
        payment_forward(
            order,
            external_id=ref(connection, "payment", shop.external_id),
            status=shop.payment_status,
            amount=order.total,
            method=shop.payment_method,
            paid_at=shop.paid_at,
        )
    return order


def shop_order_apply(connection: Connection, shop: ShopOrder) -> Order:
    """The order (`order_apply`), then each of its fulfillments."""
    order = order_apply(connection, shop)
    for fulfillment in shop.fulfillments:
        fulfillment_apply(connection, order, fulfillment)
    return order


def fulfillment_apply(connection: Connection, order: Order, fulfillment: Fulfillment) -> None:
    """The fulfillment's shipment, unless a newer version of it was applied already."""
    if not version_newer(
        connection,
        kind="fulfillment",
        external_id=fulfillment.external_id,
        version=version_of(fulfillment.at),
    ):
        return
    shipment_apply(
        order,
        key=ref(connection, "fulfillment", fulfillment.external_id),
        carrier=fulfillment.carrier,
        tracking_number=fulfillment.tracking_number,
        status=fulfillment.status,
        at=fulfillment.at,
    )


def _balanced(shop: ShopOrder) -> tuple[list[Line], Decimal]:
    """Lines and order discount whose total is what the shop charged.

    The shop's total is what the customer pays, and the payment must fit it; where its
    lines say otherwise (a discount it does not itemise, a fee) the difference is an
    order discount, or a line of its own when the shop charged more.
    """
    lines = list(shop.lines)
    if shop.total is None:
        return lines, shop.discount
    computed = sum((line.price * line.quantity for line in lines), Decimal(0))
    difference = shop.total - (computed - shop.discount + shop.shipping)
    if difference < 0:
        return lines, shop.discount - difference
    if difference > 0:
        lines.append(Line(code="", name=_("Adjustment by the shop"), quantity=1, price=difference))
    return lines, shop.discount


def order_request(connection: Connection, shop: ShopOrder) -> dict[str, Any]:
    """What `order_create` is asked for the shop's order, but its customer (the caller's)."""
    from procedo.core.money import currency_clean

    currency = currency_clean(shop.currency)
    lines, discount = _balanced(shop)
    return {
        "lines": [
            OrderLineIn(
                quantity=line.quantity,
                sku_code=line.code,
                description=line.name,
                unit_price=line.price,
            )
            for line in lines
        ],
        "currency": currency,
        "shipping": shop.shipping,
        "discount": discount,
        "placed_at": shop.placed_at,
        "channel": connection.platform,
        "source": f"{connection.name} {shop.label}".strip(),
        "external_ref": ref(connection, "order", shop.external_id),
        "note": shop.note,
        "delivery": DeliveryIn(
            point="address" if shop.address else "",
            city=text(shop.city, 100),
            address=text(shop.address, 200),
            recipient_name=text(shop.recipient, 150),
        ),
    }


def lines_ensure(connection: Connection, requests: Sequence[dict[str, Any]]) -> None:
    """The SKUs the orders' lines name are in the catalog: those it lacks are made
    (catalog.skus_ensure, priced as first sold) and listed for review."""
    first: dict[str, tuple[OrderLineIn, str]] = {}
    for request in requests:
        for line in request["lines"]:
            if line.sku_code:
                first.setdefault(line.sku_code, (line, request["currency"]))
    known = catalog_selectors.sku_ids_by_code(codes=list(first))
    missing = {code: seen for code, seen in first.items() if code not in known}
    if not missing:
        return
    made = catalog_services.skus_ensure(
        items=[
            SkuSeen(code, line.description, Decimal(str(line.unit_price)), currency)
            for code, (line, currency) in missing.items()
        ],
        source=connection.name,
    )
    SkuReview.objects.bulk_create(
        [SkuReview(connection=connection, sku_id=made[code]) for code in missing],
        ignore_conflicts=True,
    )


def _order_create(connection: Connection, shop: ShopOrder) -> Order:
    request = order_request(connection, shop)
    lines_ensure(connection, [request])
    arguments: dict[str, Any] = {
        **request,
        "actor": None,
        "idempotency_key": None,
        "customer_id": customer_take(connection, shop.person),
    }
    try:
        return order_create(**arguments)
    except OutOfStock:
        # The shop has sold it already: the order goes in, the shortage shows in the catalog.
        return order_create(**arguments, reserve_stock=False)


def status_path(code: str, current: str, category: str) -> list[str]:
    """The shortest run of allowed moves from status `code` (of category `current`) to a
    status in `category`."""
    if current == category:
        return []
    moves: dict[str, list[str]] = {}
    for a, b in OrderTransition.objects.values_list("from_status_id", "to_status_id"):
        moves.setdefault(str(a), []).append(str(b))
    categories = dict(OrderStatus.objects.values_list("code", "category"))
    seen, queue = {code}, deque([(code, list[str]())])
    while queue:
        code, path = queue.popleft()
        for following in sorted(moves.get(code, ())):
            if following in seen:
                continue
            if categories.get(following) == category:
                return [*path, following]
            seen.add(following)
            queue.append((following, [*path, following]))
    return []


def _status_walk(order: Order, category: str, *, key: str) -> None:
    """Move the order forward to the shop's status through the pipeline's own moves.

    No path (the order is already further, or the pipeline does not lead there): it stays
    where it is, as a person left it.
    """
    if category == StatusCategory.NEW:
        return
    for code in status_path(order.status_id, order.status.category, category):
        order_change_status(
            order_id=order.pk,
            to_status=code,
            actor=None,
            idempotency_key=f"{key}:status:{code}",
            note=LaterText(gettext_noop("From the shop")),
        )


_PAYMENT_RANK: dict[str, int] = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.FAILED: 0,
    PaymentStatus.AUTHORIZED: 1,
    PaymentStatus.PAID: 2,
    PaymentStatus.REFUNDED: 3,
}


def payment_forward(
    order: Order,
    *,
    external_id: str,
    status: str,
    amount: Decimal,
    method: str,
    paid_at: datetime | None,
) -> Payment | None:
    """Record the payment or move it forward; a status it has passed already is ignored, so a
    late "authorized" after "paid" changes nothing (the end state does not depend on order)."""
    existing = Payment.objects.filter(external_id=external_id).first()
    if existing is not None and _PAYMENT_RANK[existing.status] >= _PAYMENT_RANK[status]:
        return existing
    if existing is None and amount <= 0:
        return None
    return payment_record(
        order_id=order.pk,
        amount=existing.amount if existing else amount,
        method=method,
        status=status,
        external_id=external_id,
        paid_at=paid_at,
        actor=None,
        idempotency_key=None,
    )


def refund_apply(
    order: Order,
    *,
    external_id: str,
    amount: Decimal,
    payment_ref: str,
    reason: str | LaterText,
) -> None:
    """A refund of the order's payment; before that payment is received it waits (NotYet)."""
    payment = Payment.objects.filter(external_id=payment_ref, order=order).first()
    if payment is None or payment.status not in (PaymentStatus.PAID, PaymentStatus.REFUNDED):
        raise refusal(
            NotYet,
            "payment",
            gettext_noop("The payment this refund returns has not been received yet."),
        )
    refund_record(
        order_id=order.pk,
        amount=amount,
        payment_id=payment.pk,
        external_id=external_id,
        reason=reason,
        actor=None,
        idempotency_key=None,
    )


def shipment_apply(
    order: Order,
    *,
    key: str,
    carrier: str,
    tracking_number: str,
    status: str,
    at: datetime | None,
    note: str = "",
) -> Shipment:
    """The order's shipment with this tracking number (made the first time), in `status`."""
    shipment = Shipment.objects.filter(order=order, tracking_number=tracking_number).first()
    if shipment is None:
        shipment = shipment_create(
            order_id=order.pk,
            carrier=carrier,
            tracking_number=tracking_number,
            actor=None,
            idempotency_key=f"{key}:created",
        )
    return shipment_status(shipment, key=key, status=status, at=at, note=note)


def shipment_status(
    shipment: Shipment, *, key: str, status: str, at: datetime | None, note: str = ""
) -> Shipment:
    if shipment.status == status:
        return shipment
    return shipment_update_status(
        shipment_id=shipment.pk,
        status=status,
        occurred_at=at,
        note=note,
        actor=None,
        idempotency_key=f"{key}:{status}:{version_of(at)}",
    )
