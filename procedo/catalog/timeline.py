"""How the log tells what happened to products, SKUs and stock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy

from procedo.catalog.models import Product, Sku
from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register, subject_register


def _products(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Product.objects.filter(pk__in=ids).values_list("pk", "name"))


def _skus(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Sku.objects.filter(pk__in=ids).values_list("pk", "code"))


def _quantity(event: Event, _names: Names) -> dict[str, Any]:
    return {"quantity": (event.payload or {}).get("quantity", "")}


def _adjusted(event: Event, _names: Names) -> dict[str, Any]:
    payload = event.payload or {}
    return {key: payload.get(key, "") for key in ("from", "to", "note")}


def timeline_register() -> None:
    subject_register("product", names=_products, url_name="catalog:product")
    subject_register("sku", names=_skus)
    sentence = sentence_register
    sentence("product.created", gettext_lazy("%(actor)s added the product %(subject)s"))
    sentence("product.updated", gettext_lazy("%(actor)s changed the product %(subject)s"))
    sentence("sku.created", gettext_lazy("%(actor)s added the SKU %(subject)s"))
    sentence("sku.updated", gettext_lazy("%(actor)s changed the SKU %(subject)s"))
    sentence("sku.imported", gettext_lazy("The SKU %(subject)s came in with imported history"))
    sentence(
        "stock.adjusted",
        gettext_lazy("%(actor)s set the stock of %(subject)s from %(from)s to %(to)s: %(note)s"),
        _adjusted,
    )
    sentence(
        "stock.reserved", gettext_lazy("%(quantity)s × %(subject)s held for an order"), _quantity
    )
    sentence(
        "stock.released", gettext_lazy("%(quantity)s × %(subject)s back on the shelf"), _quantity
    )
    sentence(
        "stock.consumed", gettext_lazy("%(quantity)s × %(subject)s left the warehouse"), _quantity
    )
    sentence("stock.returned", gettext_lazy("%(quantity)s × %(subject)s came back"), _quantity)
