"""The events a webhook can hear, in people's words, and the current data of their subjects.

A receiver gets the subject as Procedo's API shows it today (`GET /api/orders/{id}`,
`GET /api/customers/{id}`): the same schemas, so one parser reads both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from procedo.core.errors import NotFound

EVENT_TYPES: dict[str, str | Promise] = {
    "order.created": _("Order placed"),
    "order.status_changed": _("Order status changed"),
    "order.lines_changed": _("Order lines changed"),
    "order.delivery_changed": _("Order delivery details changed"),
    "order.paid": _("Order paid in full"),
    "order.imported": _("Order imported"),
    "payment.recorded": _("Payment recorded"),
    "payment.status_changed": _("Payment status changed"),
    "refund.recorded": _("Refund recorded"),
    "shipment.created": _("Shipment created"),
    "shipment.status_changed": _("Shipment status changed"),
    "return.created": _("Return requested"),
    "return.received": _("Return received"),
    "customer.created": _("Customer created"),
    "customer.updated": _("Customer updated"),
    "customer.imported": _("Customer imported"),
    "customer.tagged": _("Customer tagged"),
    "customer.untagged": _("Customer untagged"),
}
# Sent by "send a test event"; no subscription chooses it.
TEST_EVENT = "webhook.test"


_SUBJECT_LABELS: dict[str, str | Promise] = {"order": _("Order"), "customer": _("Customer")}


_SUBJECT_PAGES = {"order": "orders:detail", "customer": "customers:card"}


def subject_url(subject_type: str, subject_id: int | None) -> str:
    page = _SUBJECT_PAGES.get(subject_type)
    return reverse(page, args=[subject_id]) if page and subject_id else ""


def subject_label(subject_type: str) -> str:
    """What a delivery is about, in words ("" for the webhook's own test event)."""
    return str(_SUBJECT_LABELS.get(subject_type, ""))


def event_label(event_type: str) -> str:
    if event_type == TEST_EVENT:
        return str(_("Test event"))
    return str(EVENT_TYPES.get(event_type, event_type))


def _customer(customer_id: int) -> dict[str, Any]:
    from procedo.customers.api import CustomerOut, customer_get

    found = customer_get(None, customer_id)  # type: ignore[arg-type]
    return CustomerOut.model_validate(found).model_dump(mode="json")


def _order(order_id: int) -> dict[str, Any]:
    from procedo.orders.api import OrderDetailOut, order_detail

    data = OrderDetailOut.model_validate(order_detail(None, order_id)).model_dump(mode="json")  # type: ignore[arg-type]
    customer_id = data.get("customer_id")
    data["customer"] = _customer(customer_id) if customer_id else None
    return data


_SUBJECTS: dict[str, Callable[[int], dict[str, Any]]] = {"order": _order, "customer": _customer}


def subject_data(subject_type: str, subject_id: int | None) -> dict[str, Any] | None:
    """The subject as it is now; None when its kind has no data here or it is gone."""
    read = _SUBJECTS.get(subject_type)
    if read is None or subject_id is None:
        return None
    try:
        return read(subject_id)
    except NotFound:
        return None
