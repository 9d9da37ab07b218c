"""How the log tells what happened to an order, its money, its parcels and its returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext, gettext_lazy

from procedo.core.money import money_format
from procedo.core.texts import stored_text_render
from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register, subject_register
from procedo.orders.models import (
    DeliveryCarrier,
    Order,
    OrderStatus,
    OrderTransition,
    PaymentMethod,
    PaymentStatus,
    ShipmentStatus,
)


def _numbers(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Order.objects.filter(pk__in=ids).values_list("pk", "number"))


def _statuses(ids: Sequence[int]) -> Mapping[int, str]:
    return {
        pk: gettext(label)
        for pk, label in OrderStatus.objects.filter(pk__in=ids).values_list("pk", "label")
    }


def _transitions(ids: Sequence[int]) -> Mapping[int, str]:
    return {
        pk: f"{a} → {b}"
        for pk, a, b in OrderTransition.objects.filter(pk__in=ids).values_list(
            "pk", "from_status_id", "to_status_id"
        )
    }


def _status_label(names: Names, code: Any) -> str:
    labels = names.once(
        "order_statuses", lambda: dict(OrderStatus.objects.values_list("code", "label"))
    )
    label = labels.get(str(code))
    return gettext(label) if label else str(code)


def _money(payload: Mapping[str, Any], key: str) -> str:
    try:
        return money_format(Decimal(str(payload.get(key, ""))), str(payload.get("currency", "")))
    except (InvalidOperation, ValueError):
        return str(payload.get(key, ""))


def _choice(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")


def _lines(lines: Any) -> str:
    """ "2 × Чашка, 1 × Ваза": what the order holds now."""
    if not isinstance(lines, list):
        return ""
    return ", ".join(
        f"{line.get('quantity', '')} × {line.get('description') or line.get('sku', '')}"
        for line in lines
        if isinstance(line, dict)
    )


def _delivery(payload: Mapping[str, Any]) -> str:
    """The changed parts of the delivery in the reader's words."""
    parts = []
    carrier = payload.get("delivery_carrier")
    if carrier:
        parts.append(_choice(DeliveryCarrier, carrier))
    place = ", ".join(
        str(payload[key])
        for key in ("delivery_city", "delivery_branch", "delivery_address")
        if payload.get(key)
    )
    if place:
        parts.append(place)
    if payload.get("recipient_name") or payload.get("recipient_phone"):
        who = " ".join(
            str(payload[key]) for key in ("recipient_name", "recipient_phone") if payload.get(key)
        )
        parts.append(gettext("recipient %(who)s") % {"who": who})
    if payload.get("payment_method"):
        parts.append(_choice(PaymentMethod, payload["payment_method"]).lower())
    if "total" in payload:
        parts.append(gettext("total %(total)s") % {"total": _money(payload, "total")})
    if "note" in payload:
        parts.append(gettext("the note"))
    return "; ".join(parts) or gettext("cleared")


def _order(event: Event, names: Names) -> Any:
    """The order as a link with its number (the payload's, should the order be gone)."""
    number = (event.payload or {}).get("number") or names.name("order", event.subject_id)
    return names.link("order", event.subject_id, str(number))


def _with(**extra: Any) -> Any:
    """Params with the order's link and, per key, a value made from (payload, names)."""

    def params(event: Event, names: Names) -> dict[str, Any]:
        payload = event.payload or {}
        values: dict[str, Any] = {"order": _order(event, names)}
        for key, make in extra.items():
            values[key] = make(payload, names)
        return values

    return params


def timeline_register() -> None:
    subject_register("order", names=_numbers, url_name="orders:detail")
    subject_register("orderstatus", names=_statuses, url_name="orders:pipeline")
    subject_register("ordertransition", names=_transitions, url_name="orders:pipeline")
    sentence = sentence_register
    sentence(
        "order.created",
        gettext_lazy("%(actor)s placed order %(order)s for %(total)s"),
        _with(total=lambda p, n: _money(p, "total")),
    )
    sentence(
        "order.imported",
        gettext_lazy("Order %(order)s came in with imported history (%(total)s)"),
        _with(total=lambda p, n: _money(p, "total")),
    )
    sentence(
        "order.status_changed",
        lambda event: (
            gettext_lazy("%(actor)s moved order %(order)s from %(from)s to %(to)s: %(note)s")
            if (event.payload or {}).get("note")
            else gettext_lazy("%(actor)s moved order %(order)s from %(from)s to %(to)s")
        ),
        _with(
            **{
                "from": lambda p, n: _status_label(n, p.get("from")),
                "to": lambda p, n: _status_label(n, p.get("to")),
                # The system's note ("Carrier: Delivered") in the reader's language; a
                # person's, or one stored before, as written.
                "note": lambda p, n: stored_text_render(p.get("note_text"), str(p.get("note", ""))),
            }
        ),
    )
    sentence(
        "order.lines_changed",
        gettext_lazy("%(actor)s changed the lines of order %(order)s: %(lines)s (%(total)s)"),
        _with(lines=lambda p, n: _lines(p.get("lines")), total=lambda p, n: _money(p, "total")),
    )
    sentence(
        "order.delivery_changed",
        gettext_lazy("%(actor)s changed the delivery of order %(order)s: %(changes)s"),
        _with(changes=lambda p, n: _delivery(p)),
    )
    sentence(
        "order.discount_added",
        gettext_lazy("%(actor)s took %(amount)s off order %(order)s (%(reason)s): now %(total)s"),
        _with(
            amount=lambda p, n: _money(p, "amount"),
            total=lambda p, n: _money(p, "total"),
            # A service's reason is a marked msgid (gettext_noop); a person's stays as typed.
            reason=lambda p, n: gettext(str(p["reason"])) if p.get("reason") else "",
        ),
    )
    sentence(
        "order.paid",
        gettext_lazy("Order %(order)s is paid in full (%(total)s)"),
        _with(total=lambda p, n: _money(p, "total")),
    )
    sentence(
        "payment.recorded",
        gettext_lazy("%(actor)s recorded %(amount)s by %(method)s on order %(order)s (%(status)s)"),
        _with(
            amount=lambda p, n: _money(p, "amount"),
            method=lambda p, n: _choice(PaymentMethod, p.get("method")).lower(),
            status=lambda p, n: _choice(PaymentStatus, p.get("status")).lower(),
        ),
    )
    sentence(
        "payment.status_changed",
        gettext_lazy("A payment of %(amount)s on order %(order)s: %(from)s → %(to)s"),
        _with(
            amount=lambda p, n: _money(p, "amount"),
            **{
                "from": lambda p, n: _choice(PaymentStatus, p.get("from")).lower(),
                "to": lambda p, n: _choice(PaymentStatus, p.get("to")).lower(),
            },
        ),
    )
    sentence(
        "refund.recorded",
        gettext_lazy("%(actor)s refunded %(amount)s on order %(order)s"),
        _with(amount=lambda p, n: _money(p, "amount")),
    )
    sentence(
        "shipment.created",
        gettext_lazy("%(actor)s sent order %(order)s with %(carrier)s, tracking %(tracking)s"),
        _with(
            carrier=lambda p, n: p.get("carrier", ""),
            tracking=lambda p, n: p.get("tracking_number") or "—",
        ),
    )
    sentence(
        "shipment.status_changed",
        gettext_lazy("The parcel of order %(order)s (%(tracking)s): %(to)s"),
        _with(
            tracking=lambda p, n: p.get("tracking_number") or p.get("carrier", ""),
            to=lambda p, n: _choice(ShipmentStatus, p.get("to")).lower(),
        ),
    )
    sentence(
        "return.created",
        gettext_lazy("%(actor)s opened a return on order %(order)s"),
        _with(),
    )
    sentence(
        "return.received",
        gettext_lazy("%(actor)s received the returned goods of order %(order)s"),
        _with(),
    )
    sentence(
        "order_status.created",
        gettext_lazy("%(actor)s added the order status %(subject)s"),
    )
    sentence("order_status.updated", gettext_lazy("%(actor)s changed the order status %(subject)s"))
    sentence(
        "order_status.deleted",
        gettext_lazy("%(actor)s removed the order status %(code)s"),
        lambda event, names: {"code": (event.payload or {}).get("code", "")},
    )
    sentence(
        "order_transition.added",
        gettext_lazy("%(actor)s allowed orders to move from %(from)s to %(to)s"),
        lambda event, names: {
            "from": _status_label(names, (event.payload or {}).get("from")),
            "to": _status_label(names, (event.payload or {}).get("to")),
        },
    )
    sentence(
        "order_transition.removed",
        gettext_lazy("%(actor)s no longer lets orders move from %(from)s to %(to)s"),
        lambda event, names: {
            "from": _status_label(names, (event.payload or {}).get("from")),
            "to": _status_label(names, (event.payload or {}).get("to")),
        },
    )
