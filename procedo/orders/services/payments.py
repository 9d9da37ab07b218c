"""Payments and refunds, and the order's paid state that follows from them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError
from procedo.core.idempotency import idempotent
from procedo.core.money import amount_clean, money_format
from procedo.core.texts import LaterText, text_for_storing
from procedo.orders.models import PAYMENT_RECEIVED, Payment, PaymentMethod, PaymentStatus, Refund
from procedo.orders.services._common import (
    ZERO,
    _money_received,
    _order_event,
    _order_get,
    _paid_check,
    _unique_guard,
)

# Where a payment may go next. A provider's stale webhook (authorized after
# paid) is refused rather than moving money backwards.
PAYMENT_MOVES: dict[str, frozenset[str]] = {
    PaymentStatus.PENDING: frozenset({"authorized", "paid", "failed"}),
    PaymentStatus.AUTHORIZED: frozenset({"paid", "failed"}),
    PaymentStatus.FAILED: frozenset({"pending", "authorized", "paid"}),
    PaymentStatus.PAID: frozenset({"refunded"}),
    PaymentStatus.REFUNDED: frozenset(),
}


@idempotent("payment.record", replay=lambda pk: Payment.objects.get(pk=pk))
@transaction.atomic
def payment_record(
    *,
    order_id: int,
    amount: Decimal | str,
    method: str,
    actor: Actor,
    idempotency_key: str | None,
    status: str = PaymentStatus.PAID,
    external_id: str | None = None,
    paid_at: datetime | None = None,
) -> Payment:
    """Record a payment, or move a known one (same `external_id`) to its new status.

    The first time the money received covers the total, the order gets paid_at.
    """
    if method not in PaymentMethod.values:
        raise DomainError(
            field="method", message=_("Unknown payment method %(m)s.") % {"m": method}
        )
    if status not in PaymentStatus.values or status == PaymentStatus.REFUNDED:
        raise DomainError(
            field="status", message=_("Unknown payment status %(s)s.") % {"s": status}
        )
    order = _order_get(order_id, lock=True)
    amount = amount_clean(amount, order.currency, field="amount", positive=True)
    now = timezone.now()
    external_id = (external_id or "").strip() or None
    existing = Payment.objects.filter(external_id=external_id).first() if external_id else None
    if existing is not None:
        if existing.order_id != order.pk:
            raise Conflict(field="external_id", message=_("This payment belongs to another order."))
        if existing.status == status:
            return existing  # the provider told us twice
        if status not in PAYMENT_MOVES[existing.status]:
            raise Conflict(
                field="status",
                message=_("A %(from)s payment cannot become %(to)s.")
                % {"from": existing.status, "to": status},
            )
        became_paid = status == PaymentStatus.PAID
        changed = Payment.objects.filter(pk=existing.pk, status=existing.status).update(
            status=status, paid_at=(paid_at or now) if became_paid else existing.paid_at
        )
        if not changed:
            raise Conflict(field="status", message=_("The payment changed meanwhile."))
        previous = existing.status
        existing.refresh_from_db()
        _order_event(
            order,
            event_type="payment.status_changed",
            actor=actor,
            payload={
                "payment_id": existing.pk,
                "from": previous,
                "to": status,
                "amount": existing.amount,
                "currency": existing.currency,
            },
            idempotency_key=idempotency_key,
        )
        payment = existing
    else:
        received, refunded = _money_received(order.pk)
        if amount > order.total - (received - refunded):
            # More than the order can take: a typo or a payment of another order.
            raise DomainError(
                field="amount",
                message=_("At most %(n)s is still due on this order.")
                % {"n": money_format(max(order.total - received + refunded, ZERO), order.currency)},
            )
        with _unique_guard(field="external_id", message=_("This payment was recorded meanwhile.")):
            payment = Payment.objects.create(
                order=order,
                method=method,
                amount=amount,
                currency=order.currency,
                status=status,
                external_id=external_id,
                paid_at=(paid_at or now) if status == PaymentStatus.PAID else None,
                created_at=now,
            )
        _order_event(
            order,
            event_type="payment.recorded",
            actor=actor,
            payload={
                "payment_id": payment.pk,
                "amount": amount,
                "currency": order.currency,
                "method": method,
                "status": status,
            },
            idempotency_key=idempotency_key,
        )
    if payment.status == PaymentStatus.PAID:
        _paid_check(order, actor=actor, when=payment.paid_at or now)
    return payment


@idempotent("refund.record", replay=lambda pk: Refund.objects.get(pk=pk))
@transaction.atomic
def refund_record(
    *,
    order_id: int,
    amount: Decimal | str,
    actor: Actor,
    idempotency_key: str | None,
    payment_id: int | None = None,
    external_id: str | None = None,
    reason: str | LaterText = "",
) -> Refund:
    """Money given back; never more than was received (for the order, and for the payment)."""
    written, stored = text_for_storing(reason)
    external_id = (external_id or "").strip() or None
    if external_id:
        existing = Refund.objects.filter(external_id=external_id).first()
        if existing is not None:
            if existing.order_id != order_id:
                raise Conflict(
                    field="external_id", message=_("This refund belongs to another order.")
                )
            return existing
    order = _order_get(order_id, lock=True)
    amount = amount_clean(amount, order.currency, field="amount", positive=True)
    received, refunded = _money_received(order.pk)
    if amount > received - refunded:
        raise DomainError(
            field="amount",
            message=_("At most %(n)s %(c)s can be refunded.")
            % {"n": received - refunded, "c": order.currency},
        )
    payment = None
    if payment_id is not None:
        payment = Payment.objects.filter(pk=payment_id, order_id=order.pk).first()
        if payment is None or payment.status not in PAYMENT_RECEIVED:
            raise DomainError(
                field="payment_id", message=_("No received payment with this id on this order.")
            )
        paid_back = payment.refunds.aggregate(s=Sum("amount", default=ZERO))["s"]
        if amount > payment.amount - paid_back:
            raise DomainError(
                field="amount",
                message=_("At most %(n)s %(c)s of this payment can be refunded.")
                % {"n": payment.amount - paid_back, "c": order.currency},
            )
        if amount == payment.amount - paid_back:
            Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.REFUNDED)
    with _unique_guard(field="external_id", message=_("This refund was recorded meanwhile.")):
        refund = Refund.objects.create(
            order=order,
            payment=payment,
            amount=amount,
            currency=order.currency,
            reason=written.strip()[:300],
            reason_text=stored,
            external_id=external_id,
            actor_id=actor_id_of(actor),
        )
    _order_event(
        order,
        event_type="refund.recorded",
        actor=actor,
        payload={
            "refund_id": refund.pk,
            "amount": amount,
            "currency": order.currency,
            "payment_id": payment_id,
            "reason": refund.reason,
        },
        idempotency_key=idempotency_key,
    )
    return refund
