"""Two orders racing for the last unit: the conditional UPDATE lets exactly one through."""

from __future__ import annotations

import threading

import pytest
from django.db import transaction

from procedo.catalog import services
from procedo.catalog.models import Sku
from procedo.catalog.services import OutOfStock, StockLine
from procedo.catalog.tests.factories import sku_create
from procedo.testing import in_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_the_last_unit_goes_to_one_order_only(postgres_only: None) -> None:
    sku = sku_create(code="LAST", on_hand=1)
    first_reserved = threading.Event()
    outcomes: dict[str, str] = {}

    def first() -> None:
        with transaction.atomic():
            services.stock_reserve(lines=[StockLine(sku.pk, 1)], order_id=1)
            first_reserved.set()
            # Hold the row until the second order is waiting on it.
            threading.Event().wait(0.5)
        outcomes["first"] = "reserved"

    def second() -> None:
        first_reserved.wait(5)
        try:
            services.stock_reserve(lines=[StockLine(sku.pk, 1)], order_id=2)
            outcomes["second"] = "reserved"
        except OutOfStock as exc:
            outcomes["second"] = f"refused: {exc.sku_code} {exc.available}"

    in_threads(first, second)
    assert outcomes == {"first": "reserved", "second": "refused: LAST 0"}
    fresh = Sku.objects.get(pk=sku.pk)
    assert (fresh.on_hand, fresh.reserved) == (1, 1)
