"""Stripe events: {"id": "evt_…", "type": …, "created": unix, "data": {"object": …}}.

The order is the one whose Procedo number is in the object's `metadata.order_number`
(a Checkout Session's `client_reference_id` too): that is how a store tells Stripe
which order a payment is for. A charge and its PaymentIntent are one payment here.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.core.errors import DomainError
from procedo.core.texts import LaterText
from procedo.integrations.models import Connection
from procedo.integrations.platforms import common
from procedo.integrations.platforms.payments import currency_check, order_by_number
from procedo.orders.models import PaymentStatus

# Stripe's zero-decimal currencies (docs.stripe.com/currencies#zero-decimal) that Procedo
# keeps; every other currency it takes is in hundredths.
ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
PAYMENT_INTENT = {
    "payment_intent.succeeded": PaymentStatus.PAID,
    "payment_intent.amount_capturable_updated": PaymentStatus.AUTHORIZED,
    "payment_intent.processing": PaymentStatus.PENDING,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "charge.succeeded": PaymentStatus.PAID,
    "charge.captured": PaymentStatus.PAID,
    "charge.failed": PaymentStatus.FAILED,
}


def describe(headers: Mapping[str, str], payload: Any) -> tuple[str, str]:
    if not isinstance(payload, dict):
        return "", ""
    return str(payload.get("type") or ""), str(payload.get("id") or "")


def amount_of(minor: Any, currency: str) -> Decimal:
    if not isinstance(minor, int) or isinstance(minor, bool) or minor < 0:
        raise DomainError(field="amount", message=_("Stripe amounts are whole minor units."))
    return Decimal(minor) if currency.upper() in ZERO_DECIMAL else Decimal(minor) / 100


def _order(item: dict[str, Any]) -> Any:
    metadata = item.get("metadata") or {}
    number = metadata.get("order_number") or item.get("client_reference_id") or ""
    return order_by_number(str(number), field="metadata.order_number")


def _payment(
    connection: Connection, event: dict[str, Any], item: dict[str, Any], status: str
) -> LaterText:
    order = _order(item)
    currency = str(item.get("currency") or "")
    currency_check(order, currency)
    kind = item.get("object")
    payment_id = item.get("payment_intent") if kind != "payment_intent" else item.get("id")
    payment_id = payment_id or item.get("id")
    minor = (
        item.get("amount_received")
        if kind == "payment_intent" and status == PaymentStatus.PAID
        else None
    )
    common.payment_forward(
        order,
        external_id=common.ref(connection, "payment", payment_id),
        status=status,
        amount=amount_of(minor if minor else item.get("amount"), currency),
        method="card",
        paid_at=common.when(event.get("created"), field_name="created"),
    )
    return LaterText(gettext_noop("Payment of order %(n)s"), {"n": order.number})


def _refund(connection: Connection, refund: dict[str, Any], order: Any) -> None:
    if refund.get("status") not in ("succeeded", "pending"):
        return
    currency = str(refund.get("currency") or "")
    currency_check(order, currency)
    paid_by = refund.get("payment_intent") or refund.get("charge")
    common.refund_apply(
        order,
        external_id=common.ref(connection, "refund", refund.get("id")),
        amount=amount_of(refund.get("amount"), currency),
        payment_ref=common.ref(connection, "payment", paid_by),
        reason=str(refund.get("reason") or ""),
    )


def handle(connection: Connection, topic: str, payload: Any) -> LaterText:
    if not isinstance(payload, dict) or not isinstance(
        (payload.get("data") or {}).get("object"), dict
    ):
        raise DomainError(field="data.object", message=_("Not a Stripe event."))
    item = payload["data"]["object"]
    if topic in PAYMENT_INTENT:
        return _payment(connection, payload, item, PAYMENT_INTENT[topic])
    if topic == "checkout.session.completed":
        if item.get("payment_status") != "paid":
            return LaterText(gettext_noop("A checkout not paid yet."))
        item = {**item, "amount": item.get("amount_total"), "object": "checkout.session"}
        return _payment(connection, payload, item, PaymentStatus.PAID)
    if topic in ("refund.created", "refund.updated", "charge.refund.updated"):
        order = _order(item)
        _refund(connection, item, order)
        return LaterText(gettext_noop("Refund on order %(n)s"), {"n": order.number})
    if topic == "charge.refunded":
        order = _order(item)
        for refund in (item.get("refunds") or {}).get("data") or []:
            _refund(connection, {**refund, "metadata": item.get("metadata")}, order)
        return LaterText(gettext_noop("Refund on order %(n)s"), {"n": order.number})
    return LaterText(gettext_noop("Topic %(t)s is not used by Procedo."), {"t": topic})
