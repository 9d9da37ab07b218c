"""Moving orders through the pipeline, one or many at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.catalog import services as catalog_services
from procedo.core.bounds import MAX_ITEMS, moment_check
from procedo.core.errors import Conflict, DomainError
from procedo.core.idempotency import idempotent
from procedo.core.texts import LaterText, text_for_storing
from procedo.orders.models import GOODS_GONE, Order, OrderStatus, StatusCategory, StockState
from procedo.orders.services._common import HOLDS_STOCK, _order_event, _order_get, _stock_lines
from procedo.orders.services.customer_figures import customer_stats_refresh


@dataclass(frozen=True)
class BulkRefusal:
    order_id: int
    number: str  # "" for an id that is no order
    message: str


@dataclass(frozen=True)
class BulkMove:
    moved: list[Order]
    refused: list[BulkRefusal]  # in the order asked


def orders_change_status_many(
    *, order_ids: Sequence[int], to_status: str, actor: Actor, idempotency_key: str | None
) -> BulkMove:
    """Move many orders to one status, each in its own transaction.

    Every order goes through `order_change_status` (its pipeline check, stock, event
    and SOP triggers); one that cannot move is refused with the reason and the others
    still move. Each order's key is `<key>:<order id>`, so a repeat moves none twice.
    """
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        raise DomainError(field="order_ids", message=_("Choose the orders to move."))
    if len(ids) > MAX_ITEMS:
        raise DomainError(
            field="order_ids",
            code="too_large",
            message=_("At most %(n)s orders at once.") % {"n": MAX_ITEMS},
        )
    moved: list[Order] = []
    refused: list[tuple[int, str]] = []  # (order id, why)
    for order_id in ids:
        try:
            moved.append(
                order_change_status(
                    order_id=order_id,
                    to_status=to_status,
                    actor=actor,
                    idempotency_key=f"{idempotency_key}:{order_id}" if idempotency_key else None,
                )
            )
        except DomainError as exc:
            refused.append((order_id, exc.message))
    numbers = dict(
        Order.objects.filter(pk__in=[pk for pk, _why in refused]).values_list("pk", "number")
    )
    return BulkMove(
        moved=moved,
        refused=[BulkRefusal(pk, numbers.get(pk, ""), why) for pk, why in refused],
    )


def _transition_target(order: Order, to_status: str) -> OrderStatus:
    """The status the pipeline allows this order to move to, or a refusal naming `status`."""
    target = OrderStatus.objects.filter(
        code=to_status, transitions_in__from_status__code=order.status_id
    ).first()
    if target is not None:
        return target
    known = OrderStatus.objects.filter(code=to_status).first()
    if known is None:
        raise DomainError(field="status", message=_("No status %(code)s.") % {"code": to_status})
    raise Conflict(
        field="status",
        message=_("An order cannot go from %(from)s to %(to)s.")
        % {"from": order.status.label, "to": known.label},
    )


def _original(label: Any) -> str:
    """A choice's label as its catalog original (English), to be stored for later readers."""
    with translation.override(None):
        return str(label)


def _status_move(
    order: Order,
    target: OrderStatus,
    *,
    actor: Actor,
    idempotency_key: str | None,
    changed_at: datetime | None,
    note: str | LaterText = "",
) -> Order:
    moment_check(changed_at, field="changed_at")
    now = changed_at or timezone.now()
    at = Value(now, output_field=DateTimeField())
    category = target.category
    from_status, from_category = order.status_id, order.status.category
    updates: dict[str, Any] = {"status_id": target.code, "status_changed_at": now}
    # First time only: a reopened order keeps when it was first confirmed or shipped.
    if category == StatusCategory.CONFIRMED:
        updates["confirmed_at"] = Coalesce(F("confirmed_at"), at)
    if category in GOODS_GONE:
        updates["shipped_at"] = Coalesce(F("shipped_at"), at)
    if category == StatusCategory.DELIVERED:
        updates["delivered_at"] = Coalesce(F("delivered_at"), at)
    if category == StatusCategory.CANCELLED:
        updates["cancelled_at"] = Coalesce(F("cancelled_at"), at)

    # Stock follows the category of the status entered, not its code.
    stock_from = order.stock_state
    stock_to = stock_from
    if category == StatusCategory.CANCELLED and stock_from == StockState.RESERVED:
        stock_to = StockState.RELEASED
    elif category in GOODS_GONE and stock_from in (StockState.RESERVED, StockState.RELEASED):
        stock_to = StockState.CONSUMED
    elif category in HOLDS_STOCK and stock_from == StockState.RELEASED:
        stock_to = StockState.RESERVED  # a cancelled order reopened takes its stock again
    updates["stock_state"] = stock_to

    # Compare-and-set, not SELECT FOR UPDATE: same on SQLite and PostgreSQL,
    # and a concurrent change shows as 0 rows.
    changed = Order.objects.filter(
        pk=order.pk, status__code=from_status, stock_state=stock_from
    ).update(**updates)
    if changed != 1:
        raise Conflict(field="status", message=_("The order changed meanwhile; reload it."))

    if stock_to != stock_from:
        stock = _stock_lines(order.pk)
        stock_note = LaterText(gettext_noop("Order %(n)s"), {"n": order.number})
        if stock_from == StockState.RELEASED:
            catalog_services.stock_reserve(
                lines=stock, order_id=order.pk, actor=actor, note=stock_note
            )
        if stock_to == StockState.RELEASED:
            catalog_services.stock_release(
                lines=stock, order_id=order.pk, actor=actor, note=stock_note
            )
        elif stock_to == StockState.CONSUMED:
            catalog_services.stock_consume(
                lines=stock, order_id=order.pk, actor=actor, note=stock_note
            )

    payload: dict[str, Any] = {"from": from_status, "to": target.code}
    # A note the system wrote ("Carrier: Delivered") keeps its original and parameters, so the
    # timeline reads it in each reader's language (procedo/core/texts.py).
    written, stored = text_for_storing(note)
    if written:
        payload["note"] = written
    if stored:
        payload["note_text"] = stored
    _order_event(
        order,
        event_type="order.status_changed",
        actor=actor,
        payload=payload,
        idempotency_key=idempotency_key,
        occurred_at=changed_at,
    )
    if {StatusCategory.CANCELLED, StatusCategory.RETURNED} & {category, from_category}:
        customer_stats_refresh(customer_ids=[order.customer_id])
    order.refresh_from_db()
    order.status = target
    return order


@idempotent(
    "order.change_status", replay=lambda pk: Order.objects.select_related("status").get(pk=pk)
)
@transaction.atomic
def order_change_status(
    *,
    order_id: int,
    to_status: str,
    actor: Actor,
    idempotency_key: str | None,
    changed_at: datetime | None = None,
    note: str | LaterText = "",
) -> Order:
    """Move an order along the pipeline, if the pipeline allows the move; else 409 on `status`.

    Cancelling releases the reserved stock; entering a shipped, delivered or
    returned status takes it off the shelf; the first confirm, ship, delivery
    and cancel set their timestamps.
    """
    order = _order_get(order_id)
    target = _transition_target(order, to_status)
    return _status_move(
        order,
        target,
        actor=actor,
        idempotency_key=idempotency_key,
        changed_at=changed_at,
        note=note.strip() if isinstance(note, str) else note,
    )
