from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from procedo.catalog.models import StockMovement
from procedo.catalog.services import OutOfStock
from procedo.catalog.tests.factories import sku_create
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.customers.models import Customer
from procedo.customers.registry import merge_participants
from procedo.events.models import Event
from procedo.orders.models import Order, OrderLine, OrderStatus
from procedo.orders.services import customer_figures as figure_services
from procedo.orders.services import pipeline as pipeline_services
from procedo.orders.services import shipments as shipment_services
from procedo.orders.services import statuses as status_services
from procedo.orders.services import taking as taking_services
from procedo.orders.services.lines import OrderLineIn
from procedo.orders.tests.factories import customer_create, move, order_create, stock_of

pytestmark = pytest.mark.django_db
D = Decimal


def test_order_create_prices_lines_reserves_stock_and_records_totals(owner) -> None:
    customer = customer_create()
    mug = sku_create(code="MUG-1", price="250.00", on_hand=10)
    order = taking_services.order_create(
        lines=[
            OrderLineIn(sku_id=mug.pk, quantity=2, discount="50.00"),
            OrderLineIn(
                sku_code="GIFT-WRAP",
                description="Подарункове пакування",
                quantity=1,
                unit_price="35.50",
            ),
        ],
        customer_id=customer.pk,
        shipping="80",
        discount="15.50",
        channel="web",
        actor=owner,
        idempotency_key="shop:order-1",
    )
    assert (order.status_id, order.currency, order.stock_state) == ("new", "UAH", "reserved")
    assert (order.subtotal, order.discount_total, order.shipping_total, order.total) == (
        D("535.50"),
        D("65.50"),
        D("80.00"),
        D("550.00"),
    )
    lines = list(OrderLine.objects.filter(order=order).order_by("id"))
    assert [(ln.sku_id, ln.sku_code, ln.line_total) for ln in lines] == [
        (mug.pk, "MUG-1", D("450.00")),
        (None, "GIFT-WRAP", D("35.50")),
    ]
    assert lines[0].description == "Чашка керамічна"
    assert stock_of(mug) == (10, 2)
    event = Event.objects.get(event_type="order.created")
    assert (event.subject_type, event.subject_id, event.customer_id, event.actor_id) == (
        "order",
        order.pk,
        customer.pk,
        owner.pk,
    )
    assert event.payload["total"] == "550.00" and event.payload["number"] == order.number


def test_numbers_are_unique_and_sequential() -> None:
    first, second = order_create(), order_create()
    assert int(second.number) == int(first.number) + 1
    imported = order_create(number=str(int(second.number) + 1))
    assert order_create().number == str(int(imported.number) + 1)  # skips the taken one


def test_overselling_refuses_the_whole_order_naming_the_sku() -> None:
    plenty = sku_create(code="PLENTY", on_hand=100)
    short = sku_create(code="LAST-ONE", on_hand=1)
    before = Event.objects.count()
    with pytest.raises(OutOfStock) as caught:
        order_create((plenty, 5), (short, 2))
    assert "LAST-ONE" in caught.value.message and caught.value.available == 1
    assert not Order.objects.exists() and not OrderLine.objects.exists()
    assert stock_of(plenty) == (100, 0) and stock_of(short) == (1, 0)
    assert Event.objects.count() == before
    assert not StockMovement.objects.exclude(reason="adjust").exists()


def test_backorder_allows_an_order_beyond_stock() -> None:
    sku = sku_create(on_hand=0, allow_backorder=True)
    order = order_create((sku, 3))
    assert order.stock_state == "reserved" and stock_of(sku) == (0, 3)


def test_cancel_releases_and_ship_consumes_stock() -> None:
    sku = sku_create(on_hand=10)
    kept = order_create((sku, 3))
    cancelled = order_create((sku, 2))
    assert stock_of(sku) == (10, 5)

    cancelled = move(cancelled, "cancelled")
    assert cancelled.stock_state == "released" and cancelled.cancelled_at is not None
    assert stock_of(sku) == (10, 3)

    kept = move(kept, "confirmed", "packed", "shipped")
    assert kept.stock_state == "consumed" and kept.confirmed_at and kept.shipped_at
    assert stock_of(sku) == (7, 0)
    kept = move(kept, "delivered")
    assert kept.delivered_at is not None and stock_of(sku) == (7, 0)
    reasons = list(
        StockMovement.objects.filter(order_id__in=[kept.pk, cancelled.pk])
        .order_by("id")
        .values_list("order_id", "reason")
    )
    assert reasons == [
        (kept.pk, "reserve"),
        (cancelled.pk, "reserve"),
        (cancelled.pk, "release"),
        (kept.pk, "consume"),
    ]


def test_pipeline_refuses_an_illegal_move_and_records_nothing() -> None:
    sku = sku_create(on_hand=5)
    order = order_create((sku, 1))
    before = Event.objects.count()
    with pytest.raises(Conflict) as caught:
        status_services.order_change_status(
            order_id=order.pk, to_status="delivered", actor=None, idempotency_key="k-illegal"
        )
    assert caught.value.field == "status" and "New" in caught.value.message
    order.refresh_from_db()
    assert (order.status_id, order.stock_state, order.delivered_at) == ("new", "reserved", None)
    assert Event.objects.count() == before and stock_of(sku) == (5, 1)

    with pytest.raises(DomainError) as unknown:
        status_services.order_change_status(
            order_id=order.pk, to_status="teleported", actor=None, idempotency_key="k-x"
        )
    assert unknown.value.field == "status" and unknown.value.status_code == 422
    with pytest.raises(NotFound):
        status_services.order_change_status(
            order_id=999_999, to_status="confirmed", actor=None, idempotency_key="k-y"
        )


def test_the_same_key_twice_changes_once_and_records_one_event() -> None:
    sku = sku_create(on_hand=5)
    order = order_create((sku, 2))
    for _ in range(2):
        status_services.order_change_status(
            order_id=order.pk, to_status="cancelled", actor=None, idempotency_key="ui:abc"
        )
    order.refresh_from_db()
    assert order.status_id == "cancelled" and stock_of(sku) == (5, 0)
    events = Event.objects.filter(subject_type="order", event_type="order.status_changed")
    assert [(e.payload["from"], e.payload["to"]) for e in events] == [("new", "cancelled")]
    assert StockMovement.objects.filter(reason="release").count() == 1


def test_create_is_idempotent_by_key_and_by_external_ref() -> None:
    sku = sku_create(on_hand=5)
    lines = [OrderLineIn(sku_id=sku.pk, quantity=1)]
    first = taking_services.order_create(lines=lines, actor=None, idempotency_key="api:k1")
    again = taking_services.order_create(lines=lines, actor=None, idempotency_key="api:k1")
    by_ref = taking_services.order_create(
        lines=lines, actor=None, idempotency_key=None, external_ref="shopify:1001"
    )
    by_ref_again = taking_services.order_create(
        lines=lines, actor=None, idempotency_key="webhook:2", external_ref="shopify:1001"
    )
    assert again.pk == first.pk and by_ref_again.pk == by_ref.pk
    assert Order.objects.count() == 2 and stock_of(sku) == (5, 2)


def test_order_create_validates_input_and_names_the_field() -> None:
    sku = sku_create(on_hand=5, currency="UAH")
    cases = [
        ({"lines": []}, "lines"),
        ({"lines": [OrderLineIn(sku_id=sku.pk, quantity=0)]}, "lines.0.quantity"),
        ({"lines": [OrderLineIn(sku_id=999_999, quantity=1)]}, "lines.0.sku_id"),
        (
            {"lines": [OrderLineIn(sku_code="NEW", quantity=1, description="x")]},
            "lines.0.unit_price",
        ),
        (
            {"lines": [OrderLineIn(sku_code="NEW", quantity=1, unit_price="5")]},
            "lines.0.description",
        ),
        (
            {"lines": [OrderLineIn(sku_id=sku.pk, quantity=1)], "currency": "EUR"},
            "lines.0.unit_price",
        ),
        (  # a float is refused: money is Decimal
            {"lines": [OrderLineIn(sku_id=sku.pk, quantity=1, unit_price=1.5)]},  # type: ignore[arg-type]
            "lines.0.unit_price",
        ),
        ({"lines": [OrderLineIn(sku_id=sku.pk, quantity=1)], "shipping": "-1"}, "shipping"),
        (
            {"lines": [OrderLineIn(sku_id=sku.pk, quantity=1)], "customer_id": 999_999},
            "customer_id",
        ),
        ({"lines": [OrderLineIn(sku_id=sku.pk, quantity=1)], "status": "nope"}, "status"),
    ]
    for kwargs, field in cases:
        with pytest.raises(DomainError) as caught:
            taking_services.order_create(actor=None, idempotency_key=None, **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field, kwargs
    assert not Order.objects.exists() and stock_of(sku) == (5, 0)


def test_an_order_for_a_merged_customer_lands_on_the_survivor() -> None:
    survivor = customer_create("Олег")
    duplicate = customer_create("Олег", merged_into=survivor)
    order = order_create(customer=duplicate)
    assert order.customer_id == survivor.pk


def test_customer_stats_follow_orders_and_ignore_cancelled() -> None:
    customer = customer_create()
    sku = sku_create(on_hand=50, price="100.00")
    early = timezone.now() - timedelta(days=30)
    first = order_create((sku, 1), customer=customer, placed_at=early)
    second = order_create((sku, 3), customer=customer)
    customer.refresh_from_db()
    assert (customer.orders_count, customer.lifetime_value) == (2, D("400.00"))
    assert customer.first_order_at == first.placed_at
    assert customer.last_order_at == second.placed_at

    move(second, "cancelled")
    customer.refresh_from_db()
    assert (customer.orders_count, customer.lifetime_value) == (1, D("100.00"))
    assert customer.last_order_at == first.placed_at

    move(first, "cancelled")
    customer.refresh_from_db()
    assert (customer.orders_count, customer.lifetime_value, customer.first_order_at) == (
        0,
        D("0"),
        None,
    )


def test_lifetime_value_counts_the_business_currency_only() -> None:
    customer = customer_create()
    order_create((sku_create(price="100.00"), 1), customer=customer)
    order_create((sku_create(price="20.00", currency="EUR"), 1), customer=customer, currency="EUR")
    customer.refresh_from_db()
    assert (customer.orders_count, customer.lifetime_value) == (2, D("100.00"))


@pytest.mark.parametrize("customers", [3, 40])
def test_customer_stats_refresh_is_set_based(customers: int, django_assert_num_queries) -> None:
    sku = sku_create(on_hand=1000, price="10.00")
    people = [customer_create(f"Клієнт {i}") for i in range(customers)]
    for i, person in enumerate(people):
        for _ in range(1 + i % 3):
            order_create((sku, 1), customer=person)
    Customer.objects.update(orders_count=0, lifetime_value=0, first_order_at=None)

    # The business's currency, then one UPDATE: the same two queries for 3 or 40 customers.
    with django_assert_num_queries(2):
        updated = figure_services.customer_stats_refresh(customer_ids=[p.pk for p in people])
    assert updated == customers
    counts = dict(Customer.objects.values_list("pk", "orders_count"))
    assert [counts[p.pk] for p in people] == [1 + i % 3 for i in range(customers)]
    values = dict(Customer.objects.values_list("pk", "lifetime_value"))
    assert values[people[-1].pk] == D("10.00") * (1 + (customers - 1) % 3)


def test_merge_participant_moves_orders_and_refreshes_both() -> None:
    survivor, duplicate = customer_create("А"), customer_create("Б")
    sku = sku_create(price="50.00")
    order_create((sku, 1), customer=survivor)
    order_create((sku, 2), customer=duplicate)
    # The customers merge calls participants positionally, inside its transaction.
    with transaction.atomic():
        moved = figure_services.orders_move_to_customer(survivor.pk, duplicate.pk)
    assert moved == 1
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert (survivor.orders_count, survivor.lifetime_value) == (2, D("150.00"))
    assert (duplicate.orders_count, duplicate.lifetime_value) == (0, D("0"))
    assert merge_participants()["orders"] is figure_services.orders_move_to_customer


def test_imported_history_holds_no_stock() -> None:
    sku = sku_create(on_hand=5)
    order = order_create(
        (sku, 2), status="delivered", placed_at=timezone.now() - timedelta(days=90)
    )
    assert order.stock_state == "none" and stock_of(sku) == (5, 0)
    assert Event.objects.get(event_type="order.created").occurred_at == order.placed_at


def test_managers_change_the_pipeline_and_orders_follow_it(owner) -> None:
    pipeline_services.order_status_create(
        code="awaiting_payment", label="Очікує оплату", category="new", position=15, actor=owner
    )
    pipeline_services.order_transition_add(
        from_status="new", to_status="awaiting_payment", actor=owner
    )
    pipeline_services.order_transition_add(
        from_status="awaiting_payment", to_status="confirmed", actor=owner
    )
    order = move(order_create(), "awaiting_payment", "confirmed")
    assert order.status_id == "confirmed"

    with pytest.raises(Conflict) as in_use:
        pipeline_services.order_status_delete(code="confirmed", actor=owner)
    assert in_use.value.field == "status" and OrderStatus.objects.filter(code="confirmed").exists()

    pipeline_services.order_transition_remove(
        from_status="confirmed", to_status="packed", actor=owner
    )
    with pytest.raises(Conflict):
        move(order, "packed")

    pipeline_services.order_status_delete(code="awaiting_payment", actor=owner)
    assert not OrderStatus.objects.filter(code="awaiting_payment").exists()
    with pytest.raises(Conflict):
        pipeline_services.order_status_create(code="new", label="x", category="new", actor=owner)
    with pytest.raises(DomainError) as bad:
        pipeline_services.order_status_create(
            code="на паузі", label="x", category="new", actor=owner
        )
    assert bad.value.field == "code"
    assert Event.objects.filter(event_type__startswith="order_transition.").count() == 3


def test_a_reopened_order_takes_its_stock_again(owner) -> None:
    pipeline_services.order_transition_add(from_status="cancelled", to_status="new", actor=owner)
    sku = sku_create(on_hand=2)
    order = move(order_create((sku, 2)), "cancelled")
    assert stock_of(sku) == (2, 0)
    order = move(order, "new")
    assert order.stock_state == "reserved" and stock_of(sku) == (2, 2)
    # Reopening cannot oversell: the stock went to another order meanwhile.
    move(order, "cancelled")
    order_create((sku, 2))
    with pytest.raises(OutOfStock):
        move(order, "new")
    order.refresh_from_db()
    assert order.status_id == "cancelled" and stock_of(sku) == (2, 2)


def test_a_key_reused_for_a_different_request_is_refused() -> None:
    order = order_create()
    status_services.order_change_status(
        order_id=order.pk, to_status="confirmed", actor=None, idempotency_key="ui:same"
    )
    with pytest.raises(DomainError) as caught:
        taking_services.order_create(
            lines=[OrderLineIn(sku_code="X", description="x", unit_price="1", quantity=1)],
            actor=None,
            idempotency_key="ui:same",
        )
    assert caught.value.status_code == 422 and caught.value.code == "idempotency_key_reused"
    assert caught.value.field == "Idempotency-Key" and Order.objects.count() == 1
    with pytest.raises(DomainError, match="Idempotency-Key"):
        shipment_services.shipment_create(
            order_id=order.pk, carrier="x", actor=None, idempotency_key="ui:same"
        )
