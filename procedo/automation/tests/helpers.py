"""Building SOPs, customers and orders for the engine's tests, through the services."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.customers.models import Customer
from procedo.customers.services.customers import customer_create
from procedo.customers.services.details import tag_add
from procedo.orders.models import Order
from procedo.orders.services.lines import OrderLineIn
from procedo.orders.services.statuses import order_change_status
from procedo.orders.services.taking import order_create
from procedo.sops.models import Revision, RevisionState, Sop
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services
from procedo.testing import consumer_catch_up, person

_counter = itertools.count(1)


def task_step(key: str = "confirm", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "task",
        "key": key,
        "title": extra.pop("title", "Call the customer"),
        "assignee": extra.pop("assignee", {"kind": "role", "role": "operator"}),
        "due_in_minutes": 15,
        **extra,
    }


def event_trigger(event_type: str = "order.created", **conditions: Any) -> dict[str, Any]:
    rules = conditions.pop("rules", [])
    return {
        "kind": "event",
        "key": conditions.pop("key", "t1"),
        "event_type": event_type,
        "conditions": {"match": conditions.pop("match", "all"), "rules": rules},
    }


def sop_live(
    *,
    definition: dict[str, Any],
    owner: User | None = None,
    reviewer: User | None = None,
    subject_type: str = "order",
    name: str = "Confirm new orders",
    holdout_percent: int = 0,
    state: str = RevisionState.PUBLISHED,
    sop: Sop | None = None,
    **pilot: Any,
) -> tuple[Sop, Revision]:
    """An SOP (or a new revision of `sop`) taken through review to `state`."""
    owner = owner or person(Role.OWNER)
    reviewer = reviewer or person(Role.MANAGER)
    if sop is None:
        sop = sop_services.sop_create(
            name=name,
            subject_type=subject_type,
            owner_id=owner.pk,
            kpi="order_confirmation_time",
            kpi_target=Decimal("15"),
            holdout_percent=holdout_percent,
            goal="Every order confirmed fast",
            why="Customers who hear from us quickly buy again",
            actor=owner,
        )
        draft = sop.revisions.get()
    else:
        draft = revision_services.revision_draft_create(sop_id=sop.pk, actor=owner)
    draft = revision_services.revision_update(
        revision_id=draft.pk, definition=definition, actor=owner
    )
    revision_services.revision_transition(revision_id=draft.pk, to_state="review", actor=owner)
    revision_services.revision_transition(
        revision_id=draft.pk, to_state="approved", actor=reviewer, comment="ok"
    )
    revision = revision_services.revision_transition(
        revision_id=draft.pk, to_state=state, actor=reviewer, **pilot
    )
    return sop, revision


def customer(*, tags: tuple[str, ...] = (), email: str = "", **extra: Any) -> Customer:
    made = customer_create(
        first_name=extra.pop("first_name", "Олена"),
        last_name=extra.pop("last_name", f"Покупець {next(_counter)}"),
        emails=[email] if email else [],
        **extra,
    )
    for tag in tags:
        tag_add(customer_id=made.pk, name=tag, actor=None)
    return made


def order(*, customer_id: int | None = None, total: str = "150.00", **extra: Any) -> Order:
    return order_create(
        lines=[OrderLineIn(quantity=1, description="Чай", unit_price=total)],
        customer_id=customer_id,
        actor=extra.pop("actor", None),
        idempotency_key=None,
        reserve_stock=False,
        **extra,
    )


def deliver(order_id: int, *, actor: Any = None, at: datetime | None = None) -> None:
    for status in ("confirmed", "packed", "shipped", "delivered"):
        order_change_status(
            order_id=order_id, to_status=status, actor=actor, idempotency_key=None, changed_at=at
        )


def delivered(at: datetime) -> int:
    """A new order, delivered `at`; its id."""
    made = order()
    deliver(made.pk, at=at)
    return made.pk


def engine_drain(*, timeout: float = 120.0) -> int:
    """Drain the engine's consumer until it has read every event written so far."""
    from procedo.automation.services.engine import CONSUMER, engine_consume

    return consumer_catch_up(name=CONSUMER, handler=engine_consume, timeout=timeout)


def sop_with_decisions() -> tuple[Sop, Revision]:
    """A published SOP on new orders: a decision routes to pack / change / call again;
    packing is verified, and a failed check goes to a fix step."""
    return sop_live(
        definition={
            "triggers": [event_trigger()],
            "steps": [
                {
                    **task_step("confirm", title="Підтвердити замовлення"),
                    "kind": "checklist",
                    "checklist_kind": "decision",
                    "items": [
                        {
                            "key": "answer",
                            "text": "Що сказав клієнт?",
                            "options": [
                                {"value": "yes", "label": "Підтвердив", "goto": "pack"},
                                {"value": "change", "label": "Хоче змінити", "goto": "change"},
                                {"value": "no_answer", "label": "Не відповів"},
                            ],
                        }
                    ],
                },
                task_step("retry", title="Передзвонити", next="end"),
                task_step("change", title="Змінити замовлення", next="end"),
                {
                    **task_step("pack", title="Зібрати"),
                    "kind": "checklist",
                    "checklist_kind": "verification",
                    "items": [{"key": "complete", "text": "Усе на місці"}],
                    "on_fail": "fix",
                },
                task_step("ship", title="Відправити", next="end"),
                task_step("fix", title="Дозібрати", next="end"),
            ],
        }
    )
