"""Reads of the catalog: lists paged by keyset, cards with stock and its movements."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Prefetch, Q, QuerySet, Value, When
from django.utils.translation import gettext_lazy

from procedo.catalog.models import Product, Sku, StockMovement
from procedo.core.exports import Column
from procedo.core.paging import Page, keyset_all, keyset_page

PRODUCT_ORDER = ("name", "id")
SKU_ORDER = ("code",)  # unique, so it is a complete keyset


def _products(*, query: str = "", active: bool | None = None) -> QuerySet[Product]:
    products = Product.objects.all()
    if query.strip():
        # search_text is casefolded on write, so this also matches Cyrillic on SQLite.
        products = products.filter(search_text__contains=query.strip().casefold())
    if active is not None:
        products = products.filter(active=active)
    return products


def product_list(
    *, query: str = "", active: bool | None = None, cursor: str | None = None, limit: int = 50
) -> Page[Product]:
    """Products by name, each with its SKUs (stock included): two queries a page."""
    products = _products(query=query, active=active).prefetch_related(
        Prefetch("skus", queryset=Sku.objects.order_by("code"))
    )
    return keyset_page(products, order=PRODUCT_ORDER, cursor=cursor, limit=limit)


def _sku_value(read: Callable[[Sku], Any]) -> Callable[[tuple[Product, Sku | None]], Any]:
    return lambda row: read(row[1]) if row[1] is not None else None


# The products list as a file, one row per SKU with its stock (a product without SKUs:
# one row with the SKU columns empty).
PRODUCT_COLUMNS = (
    Column(gettext_lazy("Product ID"), lambda row: row[0].pk),
    Column(gettext_lazy("Product"), lambda row: row[0].name),
    Column(gettext_lazy("Category"), lambda row: row[0].category),
    Column(gettext_lazy("Product active"), lambda row: row[0].active),
    Column(gettext_lazy("SKU"), _sku_value(lambda sku: sku.code)),
    Column(gettext_lazy("Variant"), _sku_value(lambda sku: sku.name)),
    Column(gettext_lazy("Price"), _sku_value(lambda sku: sku.price)),
    Column(gettext_lazy("Currency"), _sku_value(lambda sku: sku.currency)),
    Column(gettext_lazy("On hand"), _sku_value(lambda sku: sku.on_hand)),
    Column(gettext_lazy("Reserved"), _sku_value(lambda sku: sku.reserved)),
    Column(gettext_lazy("Available"), _sku_value(lambda sku: sku.on_hand - sku.reserved)),
    Column(gettext_lazy("Backorder allowed"), _sku_value(lambda sku: sku.allow_backorder)),
    Column(gettext_lazy("SKU active"), _sku_value(lambda sku: sku.active)),
)


def product_export_rows(
    *, query: str = "", active: bool | None = None
) -> Iterator[tuple[Product, Sku | None]]:
    """(product, SKU) for every SKU of every product the list shows, read in batches."""
    products = _products(query=query, active=active).prefetch_related(
        Prefetch("skus", queryset=Sku.objects.order_by("code"))
    )
    for product in keyset_all(products, order=PRODUCT_ORDER):
        skus = list(product.skus.all())
        if not skus:
            yield product, None
        for sku in skus:
            yield product, sku


@dataclass(frozen=True)
class ProductCard:
    product: Product
    skus: list[Sku]
    movements: list[StockMovement]


def product_detail(*, product_id: int, movements_limit: int = 50) -> ProductCard | None:
    """A product, its SKUs with stock and the latest stock movements: three queries."""
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        return None
    skus = list(Sku.objects.filter(product_id=product_id).order_by("code"))
    movements = (
        list(
            StockMovement.objects.filter(sku_id__in=[sku.pk for sku in skus])
            .select_related("sku", "actor")
            .order_by("-id")[:movements_limit]
        )
        if skus
        else []
    )
    return ProductCard(product=product, skus=skus, movements=movements)


def sku_list(*, query: str = "", cursor: str | None = None, limit: int = 50) -> Page[Sku]:
    skus = Sku.objects.select_related("product")
    if query.strip():
        skus = skus.filter(product__search_text__contains=query.strip().casefold())
    return keyset_page(skus, order=SKU_ORDER, cursor=cursor, limit=limit)


def skus_for_sale(*, query: str, limit: int = 10) -> list[Sku]:
    """SKUs a person can put on an order, found by code or by any word of the product's
    or variant's name, with their stock: an exact code first, then by code. One query."""
    needle = query.strip()[:100]
    if not needle:
        return []
    skus = (
        Sku.objects.select_related("product")
        .filter(active=True, product__active=True)
        .filter(Q(code__iexact=needle) | Q(product__search_text__contains=needle.casefold()))
        .annotate(exact=Case(When(code__iexact=needle, then=Value(0)), default=Value(1)))
        .order_by("exact", "code")
    )
    return list(skus[:limit])


def skus_by_ids(*, ids: Sequence[int]) -> dict[int, Sku]:
    """SKUs with their products and stock, by id (an order form shown again after an error)."""
    return {sku.pk: sku for sku in Sku.objects.select_related("product").filter(pk__in=ids)}


def sku_get(*, sku_id: int) -> Sku | None:
    return Sku.objects.select_related("product").filter(pk=sku_id).first()


def stock_movements_of_sku(
    *, sku_id: int, before: int | None = None, limit: int = 50
) -> list[StockMovement]:
    """The SKU's stock history, newest first; `before` is the last id shown (keyset)."""
    movements = StockMovement.objects.filter(sku_id=sku_id)
    if before is not None:
        movements = movements.filter(id__lt=before)
    return list(movements.select_related("actor").order_by("-id")[:limit])


def stock_movements_page(
    *, sku_id: int, cursor: str | None = None, limit: int = 50
) -> Page[StockMovement]:
    """The SKU's stock history, newest first, one keyset page at a time (the API's)."""
    movements = StockMovement.objects.filter(sku_id=sku_id).select_related("actor")
    return keyset_page(movements, order=["-id"], cursor=cursor, limit=limit)


def sku_ids_by_code(*, codes: Sequence[str]) -> dict[str, int]:
    """code -> id for the codes the catalog has (chunked IN lists: set-based for importers)."""
    known: dict[str, int] = {}
    for start in range(0, len(codes), 2000):
        known.update(
            Sku.objects.filter(code__in=codes[start : start + 2000]).values_list("code", "id")
        )
    return known


def skus_known(*, codes: Sequence[str]) -> set[str]:
    return set(sku_ids_by_code(codes=codes))
