"""LiqPay's server-to-server callback: form fields `data` (base64 of JSON) and `signature`.

`order_id` is what the store sent when it asked for the payment: the Procedo order's
number. Statuses (liqpay.ua/documentation/api/callback): success and sandbox are paid,
failure and error failed, reversed refunded; the *_verify and wait_* ones are pending.
"""

from __future__ import annotations

import base64
import binascii
import json
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
from procedo.integrations.signatures import liqpay_fields
from procedo.orders.models import PaymentStatus

PAID = frozenset({"success", "sandbox"})
FAILED = frozenset({"failure", "error"})


def decode(body: bytes) -> Any:
    """The callback's JSON, from its base64 `data` field; None when it is not there."""
    data, _signature = liqpay_fields(body)
    try:
        return json.loads(base64.b64decode(data, validate=True), parse_float=Decimal)
    except (binascii.Error, ValueError):
        return None


def describe(headers: Mapping[str, str], payload: Any) -> tuple[str, str]:
    if not isinstance(payload, dict):
        return "", ""
    # LiqPay has no event id: one payment reaches each status once.
    return str(payload.get("status") or ""), f"{payload.get('payment_id')}:{payload.get('status')}"


def handle(connection: Connection, topic: str, payload: Any) -> LaterText:
    if not isinstance(payload, dict):
        raise DomainError(field="data", message=_("The data field is not base64 of JSON."))
    status = str(payload.get("status") or "")
    order = order_by_number(str(payload.get("order_id") or ""), field="order_id")
    currency = str(payload.get("currency") or "")
    currency_check(order, currency)
    amount = Decimal(str(payload.get("amount") or "0"))
    payment_ref = common.ref(connection, "payment", payload.get("payment_id"))
    at = common.when(
        (payload.get("end_date") or payload.get("create_date") or 0) / 1000, field_name="end_date"
    )
    if status == "reversed":
        common.refund_apply(
            order,
            external_id=common.ref(connection, "refund", payload.get("payment_id")),
            amount=amount,
            payment_ref=payment_ref,
            reason=LaterText(gettext_noop("Reversed in LiqPay")),
        )
        return LaterText(gettext_noop("Refund on order %(n)s"), {"n": order.number})
    mapped = (
        PaymentStatus.PAID
        if status in PAID
        else PaymentStatus.FAILED
        if status in FAILED
        else PaymentStatus.PENDING
    )
    common.payment_forward(
        order, external_id=payment_ref, status=mapped, amount=amount, method="card", paid_at=at
    )
    return LaterText(gettext_noop("Payment of order %(n)s"), {"n": order.number})
