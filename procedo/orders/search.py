from __future__ import annotations

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from procedo.core.money import money_format
from procedo.core.search import SearchHit, SearchProvider
from procedo.orders.models import Order


def _find_orders(query: str, limit: int) -> list[SearchHit]:
    """By number or by the shop's own reference, exact: both unique indexes, at any table size.

    Numbers are typed whole ("1042", "#1042"); a substring match would scan every order.
    """
    needle = query.strip().lstrip("#").strip()
    if not needle:
        return []
    matches = (
        Order.objects.select_related("status", "customer")
        .filter(Q(number=needle) | Q(number=needle.upper()) | Q(external_ref=needle))
        .order_by("-placed_at", "-id")[:limit]
    )
    hits = []
    for order in matches:
        parts = [order.status.label, money_format(order.total, order.currency)]
        if order.customer is not None:
            parts.append(str(order.customer))
        hits.append(
            SearchHit(
                title=f"#{order.number}",
                detail=" · ".join(parts),
                url=reverse("orders:detail", args=[order.pk]),
            )
        )
    return hits


order_search = SearchProvider(label=_("Orders"), permission="orders.view", find=_find_orders)
