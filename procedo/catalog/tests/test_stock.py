from __future__ import annotations

from decimal import Decimal

import pytest

from procedo.catalog import services
from procedo.catalog.models import Sku, StockMovement
from procedo.catalog.services import OutOfStock, StockLine
from procedo.catalog.tests.factories import product_create, sku_create
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.events.models import Event

pytestmark = pytest.mark.django_db


def _stock(*skus: Sku) -> list[tuple[int, int]]:
    return [(sku.on_hand, sku.reserved) for sku in (Sku.objects.get(pk=s.pk) for s in skus)]


def test_reserving_many_lines_is_one_update_with_a_movement_and_an_event_each(
    django_assert_num_queries,
) -> None:
    a, b, c = (
        sku_create(on_hand=5),
        sku_create(on_hand=5),
        sku_create(on_hand=0, allow_backorder=True),
    )
    lines = [StockLine(a.pk, 2), StockLine(b.pk, 5), StockLine(c.pk, 3), StockLine(a.pk, 1)]
    # savepoint, UPDATE, release, movements INSERT, events INSERT (+ outer savepoint pair)
    with django_assert_num_queries(7):
        services.stock_reserve(lines=lines, order_id=42)
    assert _stock(a, b, c) == [(5, 3), (5, 5), (0, 3)]
    movements = StockMovement.objects.filter(reason="reserve").order_by("sku_id")
    assert [(m.sku_id, m.delta_reserved, m.delta_on_hand, m.order_id) for m in movements] == [
        (a.pk, 3, 0, 42),
        (b.pk, 5, 0, 42),
        (c.pk, 3, 0, 42),
    ]
    events = Event.objects.filter(event_type="stock.reserved").order_by("subject_id")
    assert [(e.subject_type, e.subject_id, e.payload["quantity"]) for e in events] == [
        ("sku", a.pk, 3),
        ("sku", b.pk, 5),
        ("sku", c.pk, 3),
    ]


def test_overselling_names_the_sku_and_changes_nothing() -> None:
    plenty = sku_create(code="MUG-BLUE", on_hand=50)
    short = sku_create(code="MUG-RED", on_hand=3)
    services.stock_reserve(lines=[StockLine(short.pk, 1)], order_id=1)
    before = (StockMovement.objects.count(), Event.objects.count())

    with pytest.raises(OutOfStock) as caught:
        services.stock_reserve(lines=[StockLine(plenty.pk, 10), StockLine(short.pk, 3)], order_id=2)

    error = caught.value
    assert (error.sku_code, error.available, error.requested) == ("MUG-RED", 2, 3)
    assert "MUG-RED" in error.message and "2" in error.message
    assert error.status_code == 409 and error.field == "lines"
    # The line that fitted was not reserved either: the whole request is refused.
    assert _stock(plenty, short) == [(50, 0), (3, 1)]
    assert (StockMovement.objects.count(), Event.objects.count()) == before


def test_backorder_lets_reservations_pass_what_is_on_hand() -> None:
    sku = sku_create(on_hand=1, allow_backorder=True)
    services.stock_reserve(lines=[StockLine(sku.pk, 4)], order_id=7)
    assert _stock(sku) == [(1, 4)]
    assert Sku.objects.get(pk=sku.pk).available == -3


def test_release_consume_and_restock_move_the_right_columns() -> None:
    sku = sku_create(on_hand=10)
    services.stock_reserve(lines=[StockLine(sku.pk, 4)], order_id=1)
    services.stock_release(lines=[StockLine(sku.pk, 1)], order_id=1)
    assert _stock(sku) == [(10, 3)]
    services.stock_consume(lines=[StockLine(sku.pk, 3)], order_id=1)
    assert _stock(sku) == [(7, 0)]
    services.stock_restock(lines=[StockLine(sku.pk, 2)], order_id=1)
    assert _stock(sku) == [(9, 0)]
    history = list(
        StockMovement.objects.filter(sku=sku)
        .order_by("id")
        .values_list("reason", "delta_on_hand", "delta_reserved")
    )
    assert history == [
        ("adjust", 10, 0),  # the initial stock of sku_create
        ("reserve", 0, 4),
        ("release", 0, -1),
        ("consume", -3, -3),
        ("return", 2, 0),
    ]
    # The movements explain the stock exactly.
    assert sum(m[1] for m in history) == 9 and sum(m[2] for m in history) == 0


def test_releasing_more_than_reserved_is_refused_and_writes_nothing() -> None:
    sku = sku_create(on_hand=10)
    services.stock_reserve(lines=[StockLine(sku.pk, 2)], order_id=1)
    count = StockMovement.objects.count()
    with pytest.raises(Conflict):
        services.stock_consume(lines=[StockLine(sku.pk, 3)], order_id=1)
    assert _stock(sku) == [(10, 2)] and StockMovement.objects.count() == count


def test_unknown_sku_is_not_found() -> None:
    with pytest.raises(NotFound):
        services.stock_reserve(lines=[StockLine(999_999, 1)], order_id=1)


def test_stock_count_records_the_difference_with_its_reason_once_per_key(owner) -> None:
    sku = sku_create(on_hand=10)
    for _ in range(2):
        services.stock_adjust(
            sku_id=sku.pk,
            counted=7,
            note="Інвентаризація",
            actor=owner,
            idempotency_key="ui:count-1",
        )
    assert _stock(sku) == [(7, 0)]
    movement = StockMovement.objects.filter(reason="adjust").latest("id")
    assert (movement.delta_on_hand, movement.note, movement.actor_id) == (
        -3,
        "Інвентаризація",
        owner.pk,
    )
    event = Event.objects.get(event_type="stock.adjusted")
    assert event.payload["from"] == 10 and event.payload["to"] == 7


def test_stock_adjust_refuses_bad_input_and_changes_nothing() -> None:
    sku = sku_create(on_hand=2)
    cases = [
        ({"counted": -1, "note": "x"}, "counted"),
        ({"counted": 1, "note": "  "}, "note"),
        ({"delta": -3, "note": "broken"}, "delta"),
        ({"note": "nothing"}, "counted"),
    ]
    for kwargs, field in cases:
        with pytest.raises(DomainError) as caught:
            services.stock_adjust(sku_id=sku.pk, **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field
    assert _stock(sku) == [(2, 0)]


def test_sku_create_validates_money_and_codes() -> None:
    product = product_create()
    sku_create(product=product, code="TEA-1")
    cases = [
        ({"code": "tea-1", "price": Decimal("1")}, "code"),  # taken, any case
        ({"code": "TEA 2", "price": Decimal("1")}, "code"),
        ({"code": "TEA-3", "price": 9.99}, "price"),  # a float is refused
        ({"code": "TEA-4", "price": Decimal("9.999")}, "price"),
        ({"code": "TEA-5", "price": Decimal("-1")}, "price"),
        ({"code": "TEA-6", "price": Decimal("1"), "currency": "KWD"}, "currency"),
        ({"code": "TEA-7", "price": Decimal("1"), "currency": "гривня"}, "currency"),
    ]
    for kwargs, field in cases:
        with pytest.raises(DomainError) as caught:
            services.sku_create(
                product_id=product.pk,
                **{"currency": "UAH", **kwargs},  # type: ignore[arg-type]
            )
        assert caught.value.field == field, kwargs
    assert Sku.objects.count() == 1


def test_sku_update_never_writes_stock_back() -> None:
    sku = sku_create(on_hand=5, price="100.00")
    stale = Sku.objects.get(pk=sku.pk)
    services.stock_reserve(lines=[StockLine(sku.pk, 2)], order_id=1)
    services.sku_update(sku_id=stale.pk, price="120.00", allow_backorder=True)
    fresh = Sku.objects.get(pk=sku.pk)
    assert (fresh.price, fresh.allow_backorder, fresh.reserved) == (Decimal("120.00"), True, 2)
    assert Event.objects.get(event_type="sku.updated").payload == {
        "price": "120.00",
        "allow_backorder": True,
    }
