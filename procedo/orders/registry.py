"""Where higher apps take part in placing an order without orders importing them.

A placement hook runs inside `order_create`'s transaction once the order and its
`order.created` event are written: it may add rows of its own app about the order (the
loyalty app attributes an order whose source carries a referral code), and a
DomainError it raises refuses the whole order, naming the field, with nothing written.
Register from your AppConfig.ready():

    from procedo.orders.registry import order_placed_hook_register
    order_placed_hook_register("loyalty.referral", services.referral_attribute_placed)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procedo.orders.models import Order

# fn(order, actor); runs in the order's transaction.
OrderPlacedHook = Callable[["Order", Any], None]

_placed_hooks: dict[str, OrderPlacedHook] = {}


def order_placed_hook_register(name: str, fn: OrderPlacedHook) -> None:
    _placed_hooks[name] = fn


def order_placed_hook_unregister(name: str) -> None:
    _placed_hooks.pop(name, None)


def order_placed_hooks() -> list[OrderPlacedHook]:
    return list(_placed_hooks.values())
