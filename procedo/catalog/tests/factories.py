"""Catalog test data, built through the services (as the app builds it)."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from procedo.catalog import services
from procedo.catalog.models import Product, Sku

_codes = count(1)


def product_create(name: str = "Чашка керамічна", **extra: object) -> Product:
    return services.product_create(name=name, **extra)  # type: ignore[arg-type]


def sku_create(
    *,
    product: Product | None = None,
    code: str | None = None,
    price: str = "250.00",
    currency: str = "UAH",
    on_hand: int = 10,
    allow_backorder: bool = False,
    name: str = "",
) -> Sku:
    return services.sku_create(
        product_id=(product or product_create()).pk,
        code=code or f"SKU-{next(_codes)}",
        price=Decimal(price),
        currency=currency,
        on_hand=on_hand,
        allow_backorder=allow_backorder,
        name=name,
    )
