from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from procedo.catalog.models import Product, Sku
from procedo.core.search import SearchHit, SearchProvider


def _find_products(query: str, limit: int) -> list[SearchHit]:
    """An exact SKU code first, then products whose name or SKUs contain the words."""
    needle = query.strip().casefold()
    hits: list[SearchHit] = []
    seen: set[int] = set()
    exact = Sku.objects.select_related("product").filter(code__iexact=query.strip()).first()
    if exact is not None:
        seen.add(exact.product_id)
        hits.append(
            SearchHit(
                title=f"{exact.code} · {exact.product.name}",
                detail=exact.name,
                url=reverse("catalog:product", args=[exact.product_id]),
            )
        )
    # search_text is casefolded on write: SQLite's LIKE folds only ASCII.
    products = (
        Product.objects.filter(search_text__contains=needle)
        .exclude(pk__in=seen)
        .order_by("name", "id")[: max(limit - len(hits), 0)]
    )
    for product in products:
        hits.append(
            SearchHit(
                title=product.name,
                detail=str(_("active")) if product.active else str(_("inactive")),
                url=reverse("catalog:product", args=[product.pk]),
            )
        )
    return hits


product_search = SearchProvider(
    label=_("Products"), permission="catalog.view", find=_find_products, order=400
)
