"""Each customer's order figures (count, spend, dates) and moving orders at a merge."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Case, Count, F, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from procedo.business.selectors import business_get
from procedo.customers.services.bulk import customer_figures_set
from procedo.orders.models import Order, OrderKind, StatusCategory
from procedo.orders.services._common import ZERO


def _stats_updates(currency: str) -> dict[str, Any]:
    not_cancelled = (
        Order.objects.filter(customer_id=OuterRef("pk"))
        .exclude(status__category=StatusCategory.CANCELLED)
        .order_by()
    )
    counted = not_cancelled.filter(kind=OrderKind.SALE)
    per_customer = counted.values("customer_id")
    # A return document (an imported credit note) credits its total back against a sale
    # that stays where it was; a sale a person moved to a returned status is worth nothing.
    signed_total = Case(When(kind=OrderKind.RETURN, then=-F("total")), default=F("total"))
    valued = not_cancelled.exclude(kind=OrderKind.SALE, status__category=StatusCategory.RETURNED)
    return {
        "orders_count": Coalesce(
            Subquery(per_customer.annotate(n=Count("pk")).values("n")), Value(0)
        ),
        # Orders in another currency cannot be added without a rate: the
        # lifetime value is in the business's currency only.
        "lifetime_value": Coalesce(
            Subquery(
                valued.filter(currency=currency)
                .values("customer_id")
                .annotate(s=Sum(signed_total))
                .values("s")
            ),
            Value(ZERO),
        ),
        "first_order_at": Subquery(counted.order_by("placed_at").values("placed_at")[:1]),
        "last_order_at": Subquery(counted.order_by("-placed_at").values("placed_at")[:1]),
    }


def customer_stats_refresh(*, customer_ids: Iterable[int | None]) -> int:
    """Recompute first/last order, order count and lifetime value of these customers.

    The figures are the orders' (cancelled ones do not count; returned ones count as
    orders but add nothing to the lifetime value), written by the customers'
    own service as one UPDATE with correlated subqueries per chunk of customers, whatever
    the number of orders: safe for bulk use. Returns the number of customers updated.
    """
    ids = sorted({int(pk) for pk in customer_ids if pk is not None})
    if not ids:
        return 0
    return customer_figures_set(customer_ids=ids, figures=_stats_updates(business_get().currency))


def customer_stats_refresh_all() -> int:
    """The same for every customer in one UPDATE: after a bulk import, or to repair drift."""
    return customer_figures_set(customer_ids=None, figures=_stats_updates(business_get().currency))


@transaction.atomic
def orders_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's orders become the survivor's, in one UPDATE.

    Called positionally by the customers merge (procedo.customers.registry),
    inside its transaction; the merge records the event with the count returned
    here. Both customers' order figures are recomputed.
    """
    if survivor_id == duplicate_id:
        return 0
    moved = Order.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
    customer_stats_refresh(customer_ids=[survivor_id, duplicate_id])
    return moved
