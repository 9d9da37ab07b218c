"""Where other apps plug into customers without customers importing them.

- A merge participant moves that app's rows from a duplicate customer to the
  survivor. `customer_merge` calls every participant inside its transaction,
  so a participant that raises undoes the whole merge.
- A card section shows that app's data about a customer on the customer card
  (the orders app lists the customer's orders there).

Register both from your AppConfig.ready(), e.g. in procedo/orders/apps.py:

    from procedo.customers.registry import CardSection, card_section_register
    from procedo.customers.registry import merge_participant_register

    merge_participant_register(services.orders_move_to_customer, name="orders")
    card_section_register(CardSection(
        key="orders", title=_("Orders"), template="orders/_customer_orders.html",
        permission="orders.view",
        context=lambda customer_id: {"orders": selectors.orders_of_customer(
            customer_id=customer_id, limit=10)},
    ))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise

# fn(survivor_id, duplicate_id) -> rows moved (or None); runs in the merge's transaction.
MergeParticipant = Callable[[int, int], int | None]

_merge_participants: dict[str, MergeParticipant] = {}


def merge_participant_register(fn: MergeParticipant, *, name: str = "") -> MergeParticipant:
    """Register `fn` (also usable as a decorator); `name` keys the row count in the event."""
    _merge_participants[name or f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def merge_participant_unregister(name: str) -> None:
    _merge_participants.pop(name, None)


def merge_participants() -> dict[str, MergeParticipant]:
    return dict(_merge_participants)


@dataclass(frozen=True)
class CardSection:
    key: str
    title: str | Promise
    template: str  # rendered with the context below plus `customer`
    permission: str  # only roles with it see the section
    context: Callable[[int], dict[str, Any]]  # customer_id -> template context
    order: int = 100


_card_sections: dict[str, CardSection] = {}


def card_section_register(section: CardSection) -> None:
    _card_sections[section.key] = section


def card_section_unregister(key: str) -> None:
    _card_sections.pop(key, None)


def card_sections() -> list[CardSection]:
    return sorted(_card_sections.values(), key=lambda section: section.order)
