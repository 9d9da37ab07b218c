from __future__ import annotations

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from procedo.core.money import money_format
from procedo.core.search import SearchHit, SearchProvider
from procedo.orders.models import Order, Shipment


def _find_orders(query: str, limit: int) -> list[SearchHit]:
    """By number, by the shop's own reference or by a shipment's tracking number, exact.

    Each is a unique or plain B-tree index seek, at any table size: numbers are typed whole
    ("1042", "#1042"), tracking numbers as the carrier prints them, spaces or not
    ("20 4501 2345 6789"); a substring match would scan every order. The tracking lookup is
    its own query: OR-ing it into the first would make PostgreSQL filter every order.
    """
    needle = query.strip().lstrip("#").strip()
    if not needle:
        return []
    compact = "".join(needle.split())
    by_number = (
        Order.objects.filter(Q(number=needle) | Q(number=needle.upper()) | Q(external_ref=needle))
        .order_by()
        .values_list("id", flat=True)[:limit]
    )
    tracked = (
        Shipment.objects.filter(
            tracking_number__in={needle, needle.upper(), compact, compact.upper()}
        )
        .order_by()
        .values_list("order_id", flat=True)[:limit]
    )
    ids = set(by_number) | set(tracked)
    if not ids:
        return []
    matches = (
        Order.objects.select_related("status", "customer")
        .filter(pk__in=ids)
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


order_search = SearchProvider(
    label=_("Orders"), permission="orders.view", find=_find_orders, order=200
)
