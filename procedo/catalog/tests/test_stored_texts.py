"""A stock movement's note the system wrote ("Order 10137") reads in each reader's language; a
note a person wrote, or one written before, reads as written."""

from __future__ import annotations

import pytest
from django.utils import translation

from procedo.catalog.models import StockMovement
from procedo.catalog.services import stock_adjust
from procedo.catalog.tests.factories import sku_create
from procedo.orders.tests.factories import order_create

pytestmark = pytest.mark.django_db


def test_the_systems_notes_read_in_ukrainian_and_a_persons_as_written() -> None:
    sku = sku_create(on_hand=5)
    order = order_create((sku, 2))
    initial, reserved = StockMovement.objects.filter(sku=sku).order_by("id")
    assert (initial.note, reserved.note) == ("Initial stock", f"Order {order.number}")
    with translation.override("uk"):
        assert initial.note_display == "Початковий залишок"
        assert reserved.note_display == f"Замовлення {order.number}"

    stock_adjust(sku_id=sku.pk, delta=1, note="Знайшли на складі", actor=None)
    by_hand = StockMovement.objects.filter(sku=sku).order_by("id").last()
    assert by_hand is not None and by_hand.note_text is None
    StockMovement.objects.filter(pk=reserved.pk).update(note_text=None)  # a row from before
    reserved.refresh_from_db()
    with translation.override("uk"):
        assert by_hand.note_display == "Знайшли на складі"
        assert reserved.note_display == f"Order {order.number}"
