"""Returns: what comes back, received and put back in stock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.catalog import services as catalog_services
from procedo.catalog.services import StockLine
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.core.texts import LaterText
from procedo.orders.models import (
    GOODS_GONE,
    Order,
    OrderLine,
    Return,
    ReturnLine,
    ReturnStatus,
    StockState,
)
from procedo.orders.services._common import _order_event, _order_get


@dataclass(frozen=True)
class ReturnLineIn:
    order_line_id: int
    quantity: int


def _restock(ret: Return, order: Order, actor: Actor) -> None:
    if not ret.restock:
        return
    stock = [
        StockLine(sku_id=sku_id, quantity=quantity)
        for sku_id, quantity in ReturnLine.objects.filter(
            return_request=ret, order_line__sku__isnull=False
        ).values_list("order_line__sku_id", "quantity")
    ]
    if stock:
        catalog_services.stock_restock(
            lines=stock,
            order_id=order.pk,
            actor=actor,
            note=LaterText(gettext_noop("Return of order %(n)s"), {"n": order.number}),
        )


@idempotent("return.create", replay=lambda pk: Return.objects.get(pk=pk))
@transaction.atomic
def return_create(
    *,
    order_id: int,
    lines: Sequence[ReturnLineIn],
    actor: Actor,
    idempotency_key: str | None,
    reason: str = "",
    received: bool = False,
    restock: bool = True,
) -> Return:
    """Goods coming back from a shipped order; never more of a line than was sold.

    `received=True` records goods already in hand: they go back to stock at
    once (unless `restock` is false: damaged goods). Otherwise return_receive does it.
    """
    if not lines:
        raise DomainError(field="lines", message=_("Say which lines come back."))
    # Locked: two returns of the same line at once must not both pass the quantity check.
    order = _order_get(order_id, lock=True)
    if order.stock_state != StockState.CONSUMED and order.status.category not in GOODS_GONE:
        raise Conflict(field="order_id", message=_("The order has not shipped; cancel it instead."))
    sold = {line.pk: line for line in OrderLine.objects.filter(order_id=order.pk)}
    already = dict(
        ReturnLine.objects.filter(order_line__order_id=order.pk)
        .exclude(return_request__status=ReturnStatus.REJECTED)
        .values("order_line_id")
        .annotate(n=Sum("quantity"))
        .values_list("order_line_id", "n")
    )
    wanted: dict[int, int] = {}
    for i, line in enumerate(lines):
        if line.order_line_id not in sold:
            raise DomainError(
                field=f"lines.{i}.order_line_id", message=_("No such line on this order.")
            )
        if line.quantity <= 0:
            raise DomainError(
                field=f"lines.{i}.quantity", message=_("A quantity must be above zero.")
            )
        wanted[line.order_line_id] = wanted.get(line.order_line_id, 0) + line.quantity
        left = sold[line.order_line_id].quantity - already.get(line.order_line_id, 0)
        if wanted[line.order_line_id] > left:
            raise DomainError(
                field=f"lines.{i}.quantity",
                message=_("Only %(n)s of %(what)s can still come back.")
                % {"n": left, "what": sold[line.order_line_id].description},
            )
    now = timezone.now()
    ret = Return.objects.create(
        order=order,
        status=ReturnStatus.RECEIVED if received else ReturnStatus.REQUESTED,
        reason=reason.strip()[:300],
        restock=restock,
        received_at=now if received else None,
        created_at=now,
    )
    ReturnLine.objects.bulk_create(
        ReturnLine(return_request=ret, order_line_id=line_id, quantity=quantity)
        for line_id, quantity in wanted.items()
    )
    if received:
        _restock(ret, order, actor)
    _order_event(
        order,
        event_type="return.created",
        actor=actor,
        payload={
            "return_id": ret.pk,
            "status": ret.status,
            "reason": ret.reason,
            "lines": [{"line_id": k, "quantity": v} for k, v in wanted.items()],
        },
        idempotency_key=idempotency_key,
    )
    return ret


@idempotent("return.receive", replay=lambda pk: Return.objects.get(pk=pk))
@transaction.atomic
def return_receive(*, return_id: int, actor: Actor, idempotency_key: str | None) -> Return:
    """The returned goods arrived: back to stock (if the return says so)."""
    ret = Return.objects.filter(pk=return_id).first()
    if ret is None:
        raise NotFound(field="return_id", message=_("No such return."))
    if ret.status == ReturnStatus.RECEIVED:
        return ret
    now = timezone.now()
    if not Return.objects.filter(pk=ret.pk, status=ReturnStatus.REQUESTED).update(
        status=ReturnStatus.RECEIVED, received_at=now
    ):
        raise Conflict(field="status", message=_("Only a requested return can be received."))
    ret.status, ret.received_at = ReturnStatus.RECEIVED, now
    order = _order_get(ret.order_id)
    _restock(ret, order, actor)
    _order_event(
        order,
        event_type="return.received",
        actor=actor,
        payload={"return_id": ret.pk},
        idempotency_key=idempotency_key,
    )
    return ret
