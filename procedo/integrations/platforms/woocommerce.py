"""WooCommerce webhooks: the REST v3 resource as the body; X-WC-Webhook-Topic names it."""

from __future__ import annotations

import html
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.core.errors import DomainError
from procedo.core.texts import LaterText
from procedo.integrations.models import Connection
from procedo.integrations.platforms import common
from procedo.orders.models import PaymentStatus, StatusCategory

STATUS = {
    "pending": StatusCategory.NEW,
    "on-hold": StatusCategory.NEW,
    "processing": StatusCategory.CONFIRMED,
    # "Order fulfilled and complete": the goods have left; delivery is the carrier's to say.
    "completed": StatusCategory.SHIPPED,
    "cancelled": StatusCategory.CANCELLED,
    "failed": StatusCategory.CANCELLED,
}
METHODS = {"cod": "cod", "bacs": "bank_transfer", "cheque": "other"}


def describe(headers: Mapping[str, str], payload: Any) -> tuple[str, str]:
    return headers.get("X-WC-Webhook-Topic", ""), headers.get("X-WC-Webhook-Delivery-ID", "")


def _money(raw: Any) -> Decimal:
    return Decimal(str(raw or "0"))


def order_read(payload: dict[str, Any]) -> common.ShopOrder:
    """The order in Procedo's terms; nothing is written."""
    if not payload.get("id"):
        raise common.refusal(DomainError, "id", gettext_noop("The payload has no %(f)s."), f="id")
    billing, shipping = payload.get("billing") or {}, payload.get("shipping") or {}
    # Site-local times carry no offset; the `_gmt` twins are UTC.
    modified = common.when(
        payload.get("date_modified_gmt") or payload.get("date_created_gmt"),
        field_name="date_modified_gmt",
    )
    paid_at = common.when(payload.get("date_paid_gmt"), field_name="date_paid_gmt")
    lines = [
        common.Line(
            code=common.text(item.get("sku"), 64)
            or f"woo-{item.get('variation_id') or item.get('product_id') or item.get('id')}",
            # WordPress sends names HTML-escaped ("Ship Your Idea &ndash; Color: Black").
            name=common.text(html.unescape(str(item.get("name") or "")), 300) or _("Item"),
            quantity=int(item.get("quantity") or 0),
            price=_money(item.get("price")),
        )
        for item in payload.get("line_items") or []
    ]
    tax = _money(payload.get("total_tax"))
    if tax > 0 and not payload.get("prices_include_tax"):
        lines.append(common.Line(code="", name=_("Tax"), quantity=1, price=tax))
    status = str(payload.get("status") or "")
    customer_id = payload.get("customer_id") or 0  # 0: a guest, matched by email or phone
    return common.ShopOrder(
        external_id=str(payload["id"]),
        version=common.version_of(modified),
        label=f"#{payload.get('number') or payload['id']}",
        currency=str(payload.get("currency") or ""),
        placed_at=common.when(payload.get("date_created_gmt"), field_name="date_created_gmt"),
        person=common.Person(
            external_id=str(customer_id) if customer_id else "",
            email=str(billing.get("email") or ""),
            phone=str(billing.get("phone") or ""),
            first_name=str(billing.get("first_name") or ""),
            last_name=str(billing.get("last_name") or ""),
        ),
        lines=lines,
        shipping=_money(payload.get("shipping_total")),
        discount=_money(payload.get("discount_total")),
        category=STATUS.get(status, StatusCategory.NEW),
        total=_money(payload.get("total")) if payload.get("total") is not None else None,
        payment_status=PaymentStatus.PAID if paid_at else None,
        payment_method=METHODS.get(str(payload.get("payment_method") or ""), "card"),
        paid_at=paid_at,
        note=str(payload.get("customer_note") or ""),
        city=str(shipping.get("city") or ""),
        address=", ".join(
            p
            for p in (
                shipping.get("address_1"),
                shipping.get("address_2"),
                shipping.get("postcode"),
            )
            if p
        ),
        recipient=" ".join(p for p in (shipping.get("first_name"), shipping.get("last_name")) if p),
    )


def order_apply(connection: Connection, payload: dict[str, Any]) -> LaterText:
    order = common.shop_order_apply(connection, order_read(payload))
    return LaterText(gettext_noop("Order %(n)s"), {"n": order.number})


def customer_apply(connection: Connection, payload: dict[str, Any]) -> LaterText:
    if not payload.get("id"):
        raise common.refusal(DomainError, "id", gettext_noop("The payload has no %(f)s."), f="id")
    billing = payload.get("billing") or {}
    person = common.Person(
        external_id=str(payload["id"]),
        email=str(payload.get("email") or billing.get("email") or ""),
        phone=str(billing.get("phone") or ""),
        first_name=str(payload.get("first_name") or billing.get("first_name") or ""),
        last_name=str(payload.get("last_name") or billing.get("last_name") or ""),
    )
    common.customer_take(connection, person)
    return LaterText(
        gettext_noop("Customer %(email)s"), {"email": person.email or person.external_id}
    )


def read_order(topic: str, payload: Any) -> common.ShopOrder | None:
    """What an order.… delivery says of its order, for the worker's batches; else None."""
    resource, _dot, action = topic.partition(".")
    if resource != "order" or action == "deleted" or not isinstance(payload, dict):
        return None
    return order_read(payload)


def handle(connection: Connection, topic: str, payload: Any) -> LaterText:
    if not isinstance(payload, dict):
        raise DomainError(field="body", message=_("The body is not a JSON object."))
    resource, _dot, action = topic.partition(".")
    if action == "deleted":
        return LaterText(gettext_noop("Deletions in the shop are not replayed here."))
    handler = {"order": order_apply, "customer": customer_apply}.get(resource)
    if handler is None:
        return LaterText(gettext_noop("Topic %(t)s is not used by Procedo."), {"t": topic})
    return handler(connection, payload)
