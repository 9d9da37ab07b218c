"""The demo store's SOPs: two published procedures a small shop really runs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from procedo.sops import services
from procedo.sops.models import Sop

CONFIRM: dict[str, list[dict[str, Any]]] = {
    "triggers": [
        {"kind": "event", "key": "placed", "event_type": "order.created"},
        {"kind": "manual", "key": "by_hand"},
    ],
    "cancel_on": [
        {
            "event_type": "order.status_changed",
            "conditions": {"rules": [{"field": "event.to", "op": "eq", "value": "cancelled"}]},
        }
    ],
    "steps": [
        {
            "kind": "checklist",
            "key": "call",
            "title": "Зателефонувати й підтвердити замовлення",
            "instructions": "Назвіться, перевірте склад замовлення, адресу і спосіб оплати.",
            "assignee": {"kind": "team", "team_id": 0},
            "due_in_minutes": 15,
            "priority": "high",
            "checklist": ["Адреса доставки", "Спосіб оплати", "Зручний час доставки"],
        },
        {
            "kind": "set_status",
            "key": "confirm",
            "title": "Позначити замовлення підтвердженим",
            "status": "confirmed",
        },
    ],
}

THANK_YOU: dict[str, list[dict[str, Any]]] = {
    "triggers": [
        {
            "kind": "date",
            "key": "delivered",
            "field": "delivered_at",
            "offset_days": 3,
            "conditions": {
                "rules": [{"field": "status_category", "op": "eq", "value": "delivered"}]
            },
        }
    ],
    "steps": [
        {
            "kind": "email",
            "key": "thanks",
            "title": "Лист-подяка",
            "subject": "Дякуємо за замовлення {{ order.number }}",
            "body": (
                "{{ customer.first_name|default:'Вітаємо' }}, дякуємо, що обрали"
                " {{ business.name }}! Як вам замовлення {{ order.number }}?"
            ),
        },
        {"kind": "wait", "key": "week", "title": "Зачекати тиждень", "minutes": 7 * 24 * 60},
        {
            "kind": "branch",
            "key": "repeat",
            "title": "Купив(ла) ще раз?",
            "conditions": {"rules": [{"field": "customer.orders_count", "op": "gte", "value": 2}]},
            "then_step": "end",
            "else_step": "offer",
        },
        {
            "kind": "task",
            "key": "offer",
            "title": "Запропонувати знижку на повторне замовлення",
            "assignee": {"kind": "role", "role": "marketer"},
            "due_in_minutes": 2 * 24 * 60,
        },
    ],
}


def _publish(sop: Sop, definition: dict[str, Any], *, author: Any, reviewer: Any) -> None:
    draft = sop.revisions.get()
    services.revision_update(revision_id=draft.pk, definition=definition, actor=author)
    services.revision_transition(revision_id=draft.pk, to_state="review", actor=author)
    services.revision_transition(
        revision_id=draft.pk, to_state="approved", actor=reviewer, comment="Погоджено"
    )
    services.revision_transition(revision_id=draft.pk, to_state="published", actor=reviewer)


def demo_sops_load(*, owner: Any, reviewer: Any, team_id: int) -> None:
    """Two published SOPs: confirm new orders in 15 minutes; thank buyers 3 days after delivery."""
    confirm = services.sop_create(
        name="Підтвердити нове замовлення за 15 хвилин",
        subject_type="order",
        owner_id=reviewer.pk,
        kpi="order_confirmation_time",
        kpi_target=Decimal("15"),
        goal="Кожне нове замовлення підтверджене дзвінком протягом 15 хвилин.",
        why="Непідтверджені замовлення скасовують удвічі частіше; дзвінок ловить помилки в адресі.",
        actor=owner,
    )
    steps = [dict(step) for step in CONFIRM["steps"]]
    steps[0]["assignee"] = {"kind": "team", "team_id": team_id}
    definition = {**CONFIRM, "steps": steps}
    _publish(confirm, definition, author=owner, reviewer=reviewer)

    thank = services.sop_create(
        name="Подяка через 3 дні після доставки",
        subject_type="order",
        owner_id=owner.pk,
        kpi="repeat_purchase_rate",
        kpi_window_days=60,
        kpi_target=Decimal("25"),
        holdout_percent=10,
        goal="Більше повторних покупок протягом 60 днів.",
        why="Покупець, якому подякували й запропонували знижку, повертається частіше.",
        actor=owner,
    )
    _publish(thank, THANK_YOU, author=owner, reviewer=reviewer)
