"""The store's order pipeline: its statuses and the transitions between them."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.events.services.recording import event_record
from procedo.orders.models import Order, OrderCounter, OrderStatus, OrderTransition, StatusCategory
from procedo.orders.services._common import _unique_guard
from procedo.orders.services.taking import FIRST_ORDER_NUMBER, ORDER_COUNTER

# The pipeline a new installation starts with (migration 0002 writes the same).
DEFAULT_STATUSES = [
    # code, label, position, category, final, editable
    ("new", gettext_noop("New"), 10, StatusCategory.NEW, False, True),
    ("confirmed", gettext_noop("Confirmed"), 20, StatusCategory.CONFIRMED, False, True),
    ("packed", gettext_noop("Packed"), 30, StatusCategory.PROCESSING, False, False),
    ("shipped", gettext_noop("Shipped"), 40, StatusCategory.SHIPPED, False, False),
    ("delivered", gettext_noop("Delivered"), 50, StatusCategory.DELIVERED, True, False),
    ("cancelled", gettext_noop("Cancelled"), 60, StatusCategory.CANCELLED, True, False),
    ("returned", gettext_noop("Returned"), 70, StatusCategory.RETURNED, True, False),
]


DEFAULT_TRANSITIONS = [
    ("new", "confirmed"),
    ("confirmed", "packed"),
    ("packed", "shipped"),
    ("shipped", "delivered"),
    ("new", "cancelled"),
    ("confirmed", "cancelled"),
    ("packed", "cancelled"),
    ("shipped", "returned"),
    ("delivered", "returned"),
]


@transaction.atomic
def order_pipeline_defaults_install() -> None:
    """Add the default statuses and moves that are missing; changes nothing that exists."""
    OrderStatus.objects.bulk_create(
        [
            OrderStatus(
                code=code,
                label=label,
                position=position,
                category=category,
                is_final=final,
                editable=editable,
            )
            for code, label, position, category, final, editable in DEFAULT_STATUSES
        ],
        ignore_conflicts=True,
    )
    OrderTransition.objects.bulk_create(
        [OrderTransition(from_status_id=a, to_status_id=b) for a, b in DEFAULT_TRANSITIONS],
        ignore_conflicts=True,
    )
    OrderCounter.objects.bulk_create(
        [OrderCounter(name=ORDER_COUNTER, value=FIRST_ORDER_NUMBER)], ignore_conflicts=True
    )


def _code_clean(code: str) -> str:
    code = (code or "").strip().lower()
    allowed = all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in code)
    if not code or len(code) > 40 or not allowed:
        raise DomainError(
            field="code", message=_("A code is up to 40 latin letters, digits, - and _.")
        )
    return code


@transaction.atomic
def order_status_create(
    *,
    code: str,
    label: str,
    category: str,
    actor: Actor,
    position: int | None = None,
    is_final: bool = False,
    editable: bool = False,
) -> OrderStatus:
    code = _code_clean(code)
    label = (label or "").strip()
    if not label:
        raise DomainError(field="label", message=_("A status needs a label."))
    if category not in StatusCategory.values:
        raise DomainError(field="category", message=_("Unknown category %(c)s.") % {"c": category})
    if OrderStatus.objects.filter(code=code).exists():
        raise Conflict(field="code", message=_("The status %(code)s exists.") % {"code": code})
    if position is None:
        last = OrderStatus.objects.order_by("-position").values_list("position", flat=True).first()
        position = (last or 0) + 10
    with _unique_guard(field="code", message=_("The status %(code)s exists.") % {"code": code}):
        status = OrderStatus.objects.create(
            code=code,
            label=label[:80],
            category=category,
            position=position,
            is_final=is_final,
            editable=editable,
        )
    event_record(
        event_type="order_status.created",
        subject=status,
        actor=actor,
        payload={"code": code, "label": status.label, "category": category},
    )
    return status


@transaction.atomic
def order_status_update(
    *,
    code: str,
    actor: Actor,
    label: str | None = None,
    position: int | None = None,
    is_final: bool | None = None,
    editable: bool | None = None,
) -> OrderStatus:
    """Rename, reorder, (un)mark final or editable; a status's code and category never change."""
    status = OrderStatus.objects.filter(code=code).first()
    if status is None:
        raise NotFound(field="status", message=_("No status %(code)s.") % {"code": code})
    changes: dict[str, Any] = {}
    if label is not None:
        if not label.strip():
            raise DomainError(field="label", message=_("A status needs a label."))
        if label.strip() != status.label:
            changes["label"] = label.strip()[:80]
    if position is not None and position != status.position:
        changes["position"] = position
    if is_final is not None and is_final != status.is_final:
        changes["is_final"] = is_final
    if editable is not None and editable != status.editable:
        changes["editable"] = editable
    if changes:
        OrderStatus.objects.filter(pk=status.pk).update(**changes)
        for field, value in changes.items():
            setattr(status, field, value)
        event_record(
            event_type="order_status.updated", subject=status, actor=actor, payload=changes
        )
    return status


@transaction.atomic
def order_status_delete(*, code: str, actor: Actor) -> None:
    """Remove a status and its transitions; refused while any order is in it."""
    status = OrderStatus.objects.filter(code=code).first()
    if status is None:
        raise NotFound(field="status", message=_("No status %(code)s.") % {"code": code})
    if Order.objects.filter(status__code=code).exists():
        raise Conflict(
            field="status",
            message=_("Orders are in %(label)s; move them before removing it.")
            % {"label": status.label},
        )
    other_new = OrderStatus.objects.filter(category=StatusCategory.NEW).exclude(pk=status.pk)
    if status.category == StatusCategory.NEW and not other_new.exists():
        raise Conflict(field="status", message=_("New orders need a status; this is the last one."))
    subject = status.pk
    status.delete()  # transitions go with it (CASCADE); orders are PROTECTed
    event_record(
        event_type="order_status.deleted",
        subject_type="orderstatus",
        subject_id=subject,
        actor=actor,
        payload={"code": code},
    )


@transaction.atomic
def order_transition_add(*, from_status: str, to_status: str, actor: Actor) -> OrderTransition:
    codes = set(
        OrderStatus.objects.filter(code__in=[from_status, to_status]).values_list("code", flat=True)
    )
    for field, code in (("from_status", from_status), ("to_status", to_status)):
        if code not in codes:
            raise DomainError(field=field, message=_("No status %(code)s.") % {"code": code})
    if from_status == to_status:
        raise DomainError(field="to_status", message=_("A status cannot lead to itself."))
    transition, created = OrderTransition.objects.get_or_create(
        from_status_id=from_status, to_status_id=to_status
    )
    if created:
        event_record(
            event_type="order_transition.added",
            subject=transition,
            actor=actor,
            payload={"from": from_status, "to": to_status},
        )
    return transition


@transaction.atomic
def order_transition_remove(*, from_status: str, to_status: str, actor: Actor) -> None:
    transition = OrderTransition.objects.filter(
        from_status__code=from_status, to_status__code=to_status
    ).first()
    if transition is None:
        return
    subject = transition.pk
    transition.delete()
    event_record(
        event_type="order_transition.removed",
        subject_type="ordertransition",
        subject_id=subject,
        actor=actor,
        payload={"from": from_status, "to": to_status},
    )
