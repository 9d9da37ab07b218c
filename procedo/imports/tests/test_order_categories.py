"""The orders file's optional category column: the product category of the SKUs it creates."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from procedo.catalog.models import Product, Sku

pytestmark = pytest.mark.django_db


def test_new_skus_take_their_category_and_known_products_keep_theirs(tmp_path: Path) -> None:
    known = Product.objects.create(name="Mug", category="Посуд")
    Sku.objects.create(product=known, code="MUG-1", price="150.00", currency="UAH")
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_number,sku,description,product_category,quantity,unit_price,placed_at\n"
        "1001,MUG-1,Чашка,Чайники,1,150.00,2026-03-01 10:00\n"
        "1001,TEA-9,Чай,  Чай   листовий ,1,80.50,2026-03-01 10:00\n"
        "1002,TEA-9,Чай,Кава,1,80.50,2026-03-02 10:00\n"
        "1002,PEN-2,Ручка,,2,10,2026-03-02 10:00\n",
        encoding="utf-8",
    )
    call_command("import", "orders", str(path), "--source", "shop", "--currency", "UAH")
    categories = dict(Sku.objects.values_list("code", "product__category"))
    # The first line that describes a SKU names its category, squeezed like any category.
    assert categories == {"MUG-1": "Посуд", "TEA-9": "Чай листовий", "PEN-2": ""}
