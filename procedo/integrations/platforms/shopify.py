"""Shopify webhooks (the bare REST resource as the body; the topic in X-Shopify-Topic)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.core.errors import DomainError
from procedo.core.texts import LaterText
from procedo.events.services.recording import event_record
from procedo.integrations.models import Connection
from procedo.integrations.platforms import common
from procedo.orders.models import PaymentStatus, ShipmentStatus, StatusCategory

FINANCIAL = {
    "pending": PaymentStatus.PENDING,
    "authorized": PaymentStatus.AUTHORIZED,
    "partially_paid": PaymentStatus.PENDING,
    "paid": PaymentStatus.PAID,
    "partially_refunded": PaymentStatus.PAID,
    "refunded": PaymentStatus.PAID,  # the refunds themselves come as refunds/create
    "voided": PaymentStatus.FAILED,
}
# A fulfillment's shipment_status (from the carrier) first, else its own status.
SHIPMENT = {
    "label_printed": ShipmentStatus.CREATED,
    "label_purchased": ShipmentStatus.CREATED,
    "confirmed": ShipmentStatus.CREATED,
    "ready_for_pickup": ShipmentStatus.IN_TRANSIT,
    "in_transit": ShipmentStatus.IN_TRANSIT,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "attempted_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "delivered": ShipmentStatus.DELIVERED,
    "failure": ShipmentStatus.FAILED,
    "pending": ShipmentStatus.CREATED,
    "open": ShipmentStatus.CREATED,
    "success": ShipmentStatus.IN_TRANSIT,
    "cancelled": ShipmentStatus.FAILED,
    "error": ShipmentStatus.FAILED,
}


def describe(headers: Mapping[str, str], payload: Any) -> tuple[str, str]:
    """(topic, event id): X-Shopify-Webhook-Id is the same on every retry of one delivery."""
    event_id = headers.get("X-Shopify-Webhook-Id") or headers.get("X-Shopify-Event-Id", "")
    return headers.get("X-Shopify-Topic", ""), event_id


def _money(raw: Any) -> Decimal:
    return Decimal(str(raw or "0"))


def _required(payload: dict[str, Any], name: str) -> Any:
    if payload.get(name) in (None, ""):
        raise common.refusal(DomainError, name, gettext_noop("The payload has no %(f)s."), f=name)
    return payload[name]


def _method(gateway: str) -> str:
    gateway = (gateway or "").lower()
    if "cash" in gateway or "cod" in gateway:
        return "cod"
    if "bank" in gateway:
        return "bank_transfer"
    return "card"


def _person(payload: dict[str, Any]) -> common.Person:
    customer = payload.get("customer") or {}
    address = payload.get("billing_address") or customer.get("default_address") or {}
    return common.Person(
        external_id=str(customer.get("id") or ""),
        email=str(customer.get("email") or payload.get("email") or ""),
        phone=str(customer.get("phone") or payload.get("phone") or address.get("phone") or ""),
        first_name=str(customer.get("first_name") or address.get("first_name") or ""),
        last_name=str(customer.get("last_name") or address.get("last_name") or ""),
    )


def _category(payload: dict[str, Any]) -> str:
    if payload.get("cancelled_at"):
        return StatusCategory.CANCELLED
    if payload.get("fulfillment_status") == "fulfilled":
        return StatusCategory.SHIPPED
    if FINANCIAL.get(payload.get("financial_status") or "") == PaymentStatus.PAID:
        return StatusCategory.CONFIRMED
    return StatusCategory.NEW


def order_read(payload: dict[str, Any]) -> common.ShopOrder:
    """The order in Procedo's terms, with its fulfillments; nothing is written."""
    external_id = _required(payload, "id")
    updated = common.when(
        payload.get("updated_at") or payload.get("created_at"), field_name="updated_at"
    )
    lines = [
        common.Line(
            code=common.text(item.get("sku"), 64)
            or f"shopify-{item.get('variant_id') or item.get('product_id') or item['id']}",
            name=common.text(item.get("name") or item.get("title"), 300) or _("Item"),
            quantity=int(item.get("quantity") or 0),
            price=_money(item.get("price")),
        )
        for item in payload.get("line_items") or []
    ]
    # Procedo's orders have no tax column: a tax the prices do not include is a line of
    # its own, so the order's total is the shop's total and its payment fits it.
    if not payload.get("taxes_included"):
        lines += [
            common.Line(
                code="",
                name=common.text(tax.get("title"), 300) or _("Tax"),
                quantity=1,
                price=_money(tax.get("price")),
            )
            for tax in payload.get("tax_lines") or []
            if _money(tax.get("price")) > 0
        ]
    shipping = payload.get("shipping_address") or {}
    return common.ShopOrder(
        external_id=str(external_id),
        version=common.version_of(updated),
        label=str(payload.get("name") or payload.get("order_number") or external_id),
        currency=str(_required(payload, "currency")),
        placed_at=common.when(payload.get("created_at"), field_name="created_at"),
        person=_person(payload),
        lines=[line for line in lines if line.code] + [line for line in lines if not line.code],
        shipping=sum(
            (_money(s.get("price")) for s in payload.get("shipping_lines") or []), Decimal(0)
        ),
        discount=_money(payload.get("total_discounts")),
        category=_category(payload),
        total=_money(_required(payload, "total_price")),
        payment_status=FINANCIAL.get(payload.get("financial_status") or ""),
        payment_method=_method(str(payload.get("gateway") or "")),
        paid_at=updated,
        note=str(payload.get("note") or ""),
        city=str(shipping.get("city") or ""),
        address=", ".join(
            part
            for part in (shipping.get("address1"), shipping.get("address2"), shipping.get("zip"))
            if part
        ),
        recipient=str(shipping.get("name") or ""),
        fulfillments=[_fulfillment_read(item) for item in payload.get("fulfillments") or []],
    )


def order_apply(connection: Connection, payload: dict[str, Any]) -> LaterText:
    order = common.shop_order_apply(connection, order_read(payload))
    return LaterText(gettext_noop("Order %(n)s"), {"n": order.number})


def _fulfillment_read(fulfillment: dict[str, Any]) -> common.Fulfillment:
    at = common.when(
        fulfillment.get("updated_at") or fulfillment.get("created_at"), field_name="updated_at"
    )
    status = SHIPMENT.get(str(fulfillment.get("shipment_status") or "")) or SHIPMENT.get(
        str(fulfillment.get("status") or ""), ShipmentStatus.CREATED
    )
    numbers = fulfillment.get("tracking_numbers") or [fulfillment.get("tracking_number") or ""]
    return common.Fulfillment(
        external_id=str(_required(fulfillment, "id")),
        at=at,
        status=status,
        carrier=common.text(fulfillment.get("tracking_company"), 60) or "Shopify",
        tracking_number=common.text(numbers[0], 100),
    )


def fulfillment_apply(connection: Connection, payload: dict[str, Any]) -> LaterText:
    order = common.order_get(connection, _required(payload, "order_id"))
    common.fulfillment_apply(connection, order, _fulfillment_read(payload))
    return LaterText(gettext_noop("Shipment of order %(n)s"), {"n": order.number})


def transaction_apply(connection: Connection, payload: dict[str, Any]) -> LaterText:
    order = common.order_get(connection, _required(payload, "order_id"))
    if payload.get("status") != "success":
        return LaterText(gettext_noop("A transaction that did not succeed: nothing to record."))
    status = {
        "authorization": PaymentStatus.AUTHORIZED,
        "sale": PaymentStatus.PAID,
        "capture": PaymentStatus.PAID,
    }.get(str(payload.get("kind") or ""))
    if status is None:
        return LaterText(
            gettext_noop("A %(kind)s transaction: refunds come as refunds."),
            {"kind": payload.get("kind")},
        )
    common.payment_forward(
        order,
        external_id=common.ref(connection, "payment", payload["order_id"]),
        status=status,
        amount=order.total,
        method=_method(str(payload.get("gateway") or "")),
        paid_at=common.when(payload.get("created_at"), field_name="created_at"),
    )
    return LaterText(gettext_noop("Payment of order %(n)s"), {"n": order.number})


def refund_apply(connection: Connection, payload: dict[str, Any]) -> LaterText:
    external_id = _required(payload, "id")
    order = common.order_get(connection, _required(payload, "order_id"))
    amount = sum(
        (
            _money(t.get("amount"))
            for t in payload.get("transactions") or []
            if t.get("kind") == "refund" and t.get("status") == "success"
        ),
        Decimal(0),
    )
    if amount <= 0:
        return LaterText(gettext_noop("A refund that returned no money (only restocked)."))
    common.refund_apply(
        order,
        external_id=common.ref(connection, "refund", external_id),
        amount=amount,
        payment_ref=common.ref(connection, "payment", payload["order_id"]),
        reason=str(payload.get("note") or ""),
    )
    return LaterText(gettext_noop("Refund on order %(n)s"), {"n": order.number})


def customer_apply(connection: Connection, payload: dict[str, Any]) -> LaterText:
    address = payload.get("default_address") or {}
    person = common.Person(
        external_id=str(_required(payload, "id")),
        email=str(payload.get("email") or ""),
        phone=str(payload.get("phone") or address.get("phone") or ""),
        first_name=str(payload.get("first_name") or ""),
        last_name=str(payload.get("last_name") or ""),
    )
    common.customer_take(connection, person)
    return LaterText(
        gettext_noop("Customer %(email)s"), {"email": person.email or person.external_id}
    )


def checkout_apply(connection: Connection, payload: dict[str, Any]) -> LaterText:
    """A checkout not completed: `checkout.abandoned` on its customer, once per checkout.

    Shopify sends checkouts/create and /update while the buyer is still there; an SOP
    starting on this event waits (its first step's delay) before reminding anyone.
    """
    if payload.get("completed_at"):
        return LaterText(gettext_noop("A completed checkout: the order comes as an order."))
    token = str(_required(payload, "token"))
    customer_id = common.customer_take(connection, _person(payload))
    if customer_id is None:
        return LaterText(gettext_noop("A checkout without an email or phone: nobody to remind."))
    from procedo.customers.models import Customer
    from procedo.events.models import Event

    key = common.ref(connection, "checkout", token)
    if Event.objects.filter(idempotency_key=key).exists():
        return LaterText(gettext_noop("Checkout abandoned (known already)"))
    event_record(
        event_type="checkout.abandoned",
        subject=Customer.objects.get(pk=customer_id),
        payload={
            "total": str(_money(payload.get("total_price"))),
            "currency": str(payload.get("currency") or ""),
            "url": str(payload.get("abandoned_checkout_url") or "")[:500],
            "lines": len(payload.get("line_items") or []),
            "connection": connection.name,
        },
        occurred_at=common.when(
            payload.get("updated_at") or payload.get("created_at"), field_name="updated_at"
        ),
        idempotency_key=key,
    )
    return LaterText(gettext_noop("Checkout abandoned"))


def read_order(topic: str, payload: Any) -> common.ShopOrder | None:
    """What an orders/… delivery says of its order, for the worker's batches; else None."""
    if topic.split("/", 1)[0] != "orders" or not isinstance(payload, dict):
        return None
    return order_read(payload)


def handle(connection: Connection, topic: str, payload: Any) -> LaterText:
    if not isinstance(payload, dict):
        raise DomainError(field="body", message=_("The body is not a JSON object."))
    family = topic.split("/", 1)[0]
    handler = {
        "orders": order_apply,
        "customers": customer_apply,
        "refunds": refund_apply,
        "fulfillments": fulfillment_apply,
        "order_transactions": transaction_apply,
        "checkouts": checkout_apply,
    }.get(family)
    if handler is None:
        return LaterText(gettext_noop("Topic %(t)s is not used by Procedo."), {"t": topic})
    return handler(connection, payload)
