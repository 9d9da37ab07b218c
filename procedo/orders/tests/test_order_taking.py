"""Orders taken and changed by people: a customer found or made by phone, delivery and
payment agreed, lines and delivery changed while the pipeline allows, many moved at once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from procedo.accounts.roles import Role
from procedo.catalog.models import Sku
from procedo.catalog.services import OutOfStock
from procedo.catalog.tests.factories import sku_create
from procedo.core.errors import Conflict, DomainError
from procedo.customers.models import Customer, Identity
from procedo.events.models import Event
from procedo.orders import selectors
from procedo.orders.models import Order, OrderLine, OrderStatus
from procedo.orders.services.customer_figures import customer_stats_refresh
from procedo.orders.services.editing import order_delivery_set, order_lines_set
from procedo.orders.services.lines import DeliveryIn, OrderLineIn
from procedo.orders.services.pipeline import order_status_update
from procedo.orders.services.shipments import shipment_create
from procedo.orders.services.statuses import orders_change_status_many
from procedo.orders.services.taking import CustomerIn, order_create
from procedo.orders.tests.factories import customer_create, move, paid

pytestmark = pytest.mark.django_db
D = Decimal
BRANCH = DeliveryIn(carrier="nova_poshta", point="branch", city="Київ", branch="Відділення №12")


def _stock(sku: Sku) -> tuple[int, int]:
    fresh = Sku.objects.get(pk=sku.pk)
    return fresh.on_hand, fresh.reserved


def _take(*lines: tuple[Sku, int], **extra: Any) -> Order:
    return order_create(
        lines=[OrderLineIn(sku_id=sku.pk, quantity=n) for sku, n in lines],
        actor=extra.pop("actor", None),
        idempotency_key=extra.pop("idempotency_key", None),
        **extra,
    )


# --- taking an order -------------------------------------------------------------------------


def test_a_phone_order_finds_or_makes_its_customer_in_the_same_transaction(
    make_user: Any,
) -> None:
    olena = make_user(Role.OPERATOR, username="olena")
    cup = sku_create(price="250.00", on_hand=5)
    order = _take(
        (cup, 2),
        customer=CustomerIn(phone="067 123 45 67", first_name="Марина", last_name="Ткаченко"),
        delivery=BRANCH,
        payment_method="cod",
        channel="phone",
        manager_id=olena.pk,
        actor=olena,
        idempotency_key="ui:1",
    )
    customer = Customer.objects.get()
    assert order.customer_id == customer.pk and str(customer) == "Марина Ткаченко"
    assert customer.source == "phone" and customer.orders_count == 1
    assert Identity.objects.get().value == "+380671234567"
    assert (order.delivery_carrier, order.delivery_point, order.delivery_city) == (
        "nova_poshta",
        "branch",
        "Київ",
    )
    assert (order.delivery_branch, order.payment_method, order.manager_id) == (
        "Відділення №12",
        "cod",
        olena.pk,
    )
    # The same phone written another way is the same customer; blanks only are filled.
    again = _take((cup, 1), customer=CustomerIn(phone="+38 (067) 123-45-67", first_name="Інна"))
    assert again.customer_id == customer.pk and Customer.objects.count() == 1
    assert str(Customer.objects.get()) == "Марина Ткаченко"


def test_an_order_refused_for_stock_leaves_no_customer_and_names_its_line() -> None:
    plenty, short = sku_create(code="PLENTY", on_hand=9), sku_create(code="LAST", on_hand=1)
    before = Event.objects.count()
    with pytest.raises(OutOfStock) as caught:
        _take((plenty, 1), (short, 2), customer=CustomerIn(phone="067 123 45 67"))
    assert (caught.value.field, caught.value.code) == ("lines.1.quantity", "out_of_stock")
    assert not Customer.objects.exists() and not Order.objects.exists()
    assert Event.objects.count() == before and _stock(short) == (1, 0)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"customer": CustomerIn(phone="12345")}, "customer.phone"),
        ({"customer": CustomerIn(first_name="Без телефону")}, "customer.phone"),
        ({"customer": CustomerIn(email="not-an-email")}, "customer.email"),
        ({"delivery": DeliveryIn(carrier="dhl")}, "delivery.carrier"),
        ({"delivery": DeliveryIn(carrier="nova_poshta")}, "delivery.point"),
        ({"delivery": DeliveryIn(carrier="nova_poshta", point="branch")}, "delivery.city"),
        (
            {"delivery": DeliveryIn(carrier="nova_poshta", point="branch", city="Київ")},
            "delivery.branch",
        ),
        ({"delivery": DeliveryIn(carrier="courier", city="Львів")}, "delivery.address"),
        ({"delivery": DeliveryIn(recipient_phone="нуль")}, "delivery.recipient_phone"),
        ({"delivery": DeliveryIn(city="К" * 101)}, "delivery.city"),
        ({"payment_method": "barter"}, "payment_method"),
        ({"manager_id": 999_999}, "manager_id"),
    ],
)
def test_bad_order_input_names_its_field_and_writes_nothing(
    extra: dict[str, Any], field: str
) -> None:
    sku = sku_create(on_hand=5)
    with pytest.raises(DomainError) as caught:
        _take((sku, 1), **extra)
    assert caught.value.field == field
    assert not Order.objects.exists() and not Customer.objects.exists()
    assert _stock(sku) == (5, 0)


def test_a_manager_is_someone_who_works_on_orders(make_user: Any) -> None:
    viewer = make_user(Role.VIEWER)
    with pytest.raises(DomainError) as caught:
        _take((sku_create(), 1), manager_id=viewer.pk)
    assert caught.value.field == "manager_id"


def test_pickup_needs_no_place_and_keeps_none() -> None:
    order = _take(
        (sku_create(), 1),
        delivery=DeliveryIn(carrier="pickup", point="branch", city="Київ", branch="№3"),
    )
    assert (order.delivery_point, order.delivery_city, order.delivery_branch) == ("", "", "")


# --- changing lines --------------------------------------------------------------------------


def test_lines_change_reprices_and_moves_only_the_difference_of_stock() -> None:
    cup = sku_create(code="CUP", price="250.00", on_hand=10)
    vase = sku_create(code="VASE", price="640.00", on_hand=3)
    pot = sku_create(code="POT", price="90.00", on_hand=4)
    order = _take((cup, 1), (vase, 2), shipping="60")
    assert _stock(vase) == (3, 2) and order.total == D("1590.00")

    changed = order_lines_set(
        order_id=order.pk,
        lines=[
            OrderLineIn(sku_id=vase.pk, quantity=3),  # one more: the one left
            OrderLineIn(sku_id=pot.pk, quantity=1),  # new
        ],  # the cup is gone
        actor=None,
        idempotency_key="ui:lines",
    )
    assert (_stock(cup), _stock(vase), _stock(pot)) == ((10, 0), (3, 3), (4, 1))
    assert [(line.sku_code, line.quantity) for line in changed.lines.order_by("id")] == [
        ("VASE", 3),
        ("POT", 1),
    ]
    assert (changed.subtotal, changed.shipping_total, changed.total) == (
        D("2010.00"),
        D("60.00"),
        D("2070.00"),
    )
    event = Event.objects.get(event_type="order.lines_changed")
    assert event.payload["from_total"] == "1590.00" and event.payload["total"] == "2070.00"
    assert [line["sku"] for line in event.payload["before"]] == ["CUP", "VASE"]
    assert Customer.objects.count() == 0  # a guest order: no figures to refresh

    # A repeat of the same request changes nothing more.
    order_lines_set(
        order_id=order.pk,
        lines=[OrderLineIn(sku_id=vase.pk, quantity=3), OrderLineIn(sku_id=pot.pk, quantity=1)],
        actor=None,
        idempotency_key="ui:lines",
    )
    assert Event.objects.filter(event_type="order.lines_changed").count() == 1


def test_a_kept_line_keeps_its_agreed_price() -> None:
    cup = sku_create(price="250.00", on_hand=10)
    order = _take((cup, 1))
    Sku.objects.filter(pk=cup.pk).update(price="300.00")
    line = order.lines.get()
    changed = order_lines_set(
        order_id=order.pk,
        lines=[OrderLineIn(sku_id=cup.pk, quantity=2, unit_price=line.unit_price)],
        actor=None,
        idempotency_key=None,
    )
    assert changed.total == D("500.00")


def test_more_than_the_stock_names_the_line_and_changes_nothing() -> None:
    vase = sku_create(code="VASE", on_hand=3)
    order = _take((vase, 2))
    with pytest.raises(OutOfStock) as caught:
        order_lines_set(
            order_id=order.pk,
            lines=[OrderLineIn(sku_id=vase.pk, quantity=4)],
            actor=None,
            idempotency_key="k",
        )
    assert caught.value.field == "lines.0.quantity" and caught.value.available == 1
    assert _stock(vase) == (3, 2) and order.lines.get().quantity == 2
    assert not Event.objects.filter(event_type="order.lines_changed").exists()


def test_an_order_past_its_editable_statuses_cannot_change() -> None:
    sku = sku_create(on_hand=5)
    order = move(_take((sku, 1)), "confirmed", "packed")
    with pytest.raises(Conflict) as caught:
        order_lines_set(
            order_id=order.pk,
            lines=[OrderLineIn(sku_id=sku.pk, quantity=2)],
            actor=None,
            idempotency_key=None,
        )
    assert (caught.value.field, caught.value.code) == ("status", "not_editable")
    with pytest.raises(Conflict):
        order_delivery_set(order_id=order.pk, delivery=BRANCH, actor=None, idempotency_key=None)
    assert order.lines.get().quantity == 1 and _stock(sku) == (5, 1)

    # Which statuses allow it is the pipeline's data, not code.
    order_status_update(code="packed", editable=True, actor=None)
    order_lines_set(
        order_id=order.pk,
        lines=[OrderLineIn(sku_id=sku.pk, quantity=2)],
        actor=None,
        idempotency_key=None,
    )
    assert _stock(sku) == (5, 2)
    # Goods that left the shelf are never rewritten, whatever a status says.
    OrderStatus.objects.filter(code="shipped").update(editable=True)
    move(order, "shipped")
    with pytest.raises(Conflict):
        order_lines_set(
            order_id=order.pk,
            lines=[OrderLineIn(sku_id=sku.pk, quantity=1)],
            actor=None,
            idempotency_key=None,
        )


def test_a_total_never_falls_below_the_money_kept_and_paid_follows_it() -> None:
    cup = sku_create(price="100.00", on_hand=10)
    order = _take((cup, 2))
    paid(order)
    order.refresh_from_db()
    assert order.paid_at is not None
    with pytest.raises(DomainError) as caught:
        order_lines_set(
            order_id=order.pk,
            lines=[OrderLineIn(sku_id=cup.pk, quantity=1)],
            actor=None,
            idempotency_key=None,
        )
    assert caught.value.field == "lines"
    more = order_lines_set(
        order_id=order.pk,
        lines=[OrderLineIn(sku_id=cup.pk, quantity=3)],
        actor=None,
        idempotency_key=None,
    )
    assert more.paid_at is None  # 100 more is due
    paid(more, D("100.00"))
    assert Order.objects.get(pk=order.pk).paid_at is not None


def test_an_order_of_free_lines_reserves_once_it_gets_a_sku() -> None:
    order = order_create(
        lines=[OrderLineIn(description="Гравіювання", unit_price="50", quantity=1)],
        actor=None,
        idempotency_key=None,
    )
    assert order.stock_state == "none"
    cup = sku_create(on_hand=4)
    changed = order_lines_set(
        order_id=order.pk,
        lines=[OrderLineIn(sku_id=cup.pk, quantity=2)],
        actor=None,
        idempotency_key=None,
    )
    assert changed.stock_state == "reserved" and _stock(cup) == (4, 2)
    move(changed, "cancelled")
    assert _stock(cup) == (4, 0)


# --- changing delivery -----------------------------------------------------------------------


def test_delivery_change_records_what_changed_and_a_new_charge_retotals() -> None:
    customer = customer_create()
    order = _take((sku_create(price="250.00"), 1), customer_id=customer.pk, delivery=BRANCH)
    order_delivery_set(
        order_id=order.pk,
        delivery=DeliveryIn(
            carrier="nova_poshta",
            point="address",
            city="Київ",
            address="вул. Хрещатик, 1",
            recipient_phone="050 000 00 01",
        ),
        payment_method="card",
        shipping="70",
        actor=None,
        idempotency_key="ui:d1",
    )
    order.refresh_from_db()
    assert (order.delivery_point, order.delivery_branch, order.delivery_address) == (
        "address",
        "",
        "вул. Хрещатик, 1",
    )
    assert (order.recipient_phone, order.payment_method, order.total) == (
        "+380500000001",
        "card",
        D("320.00"),
    )
    customer.refresh_from_db()
    assert customer.lifetime_value == D("320.00")
    event = Event.objects.get(event_type="order.delivery_changed")
    assert event.payload["delivery_point"] == "address" and event.payload["total"] == "320.00"
    assert "delivery_city" not in event.payload  # unchanged

    # The same again: nothing changed, nothing recorded.
    order_delivery_set(
        order_id=order.pk,
        delivery=DeliveryIn(
            carrier="nova_poshta",
            point="address",
            city="Київ",
            address="вул. Хрещатик, 1",
            recipient_phone="+380500000001",
        ),
        payment_method="card",
        shipping="70.00",
        actor=None,
        idempotency_key=None,
    )
    assert Event.objects.filter(event_type="order.delivery_changed").count() == 1


# --- many at once ----------------------------------------------------------------------------


def test_many_orders_move_each_on_its_own_and_the_refused_say_why() -> None:
    sku = sku_create(on_hand=10)
    first, second = _take((sku, 1)), _take((sku, 1))
    done = move(_take((sku, 1)), "cancelled")
    result = orders_change_status_many(
        order_ids=[first.pk, second.pk, done.pk, 999_999],
        to_status="confirmed",
        actor=None,
        idempotency_key="ui:bulk",
    )
    assert [order.pk for order in result.moved] == [first.pk, second.pk]
    assert [(r.order_id, r.number) for r in result.refused] == [
        (done.pk, done.number),
        (999_999, ""),
    ]
    assert "cannot go from" in result.refused[0].message
    # A repeat (a double click) moves nothing twice.
    orders_change_status_many(
        order_ids=[first.pk, second.pk],
        to_status="confirmed",
        actor=None,
        idempotency_key="ui:bulk",
    )
    assert Event.objects.filter(event_type="order.status_changed").count() == 3
    with pytest.raises(DomainError) as caught:
        orders_change_status_many(
            order_ids=[], to_status="confirmed", actor=None, idempotency_key=None
        )
    assert caught.value.field == "order_ids"


def test_delivery_gaps_name_what_an_order_lacks() -> None:
    sku = sku_create(price="100.00", on_hand=10)
    bare, shipped_and_paid = _take((sku, 1)), _take((sku, 1))
    shipment_create(
        order_id=shipped_and_paid.pk, carrier="Нова пошта", actor=None, idempotency_key=None
    )
    paid(shipped_and_paid)
    gaps = selectors.delivery_gaps(order_ids=[bare.pk, shipped_and_paid.pk])
    assert gaps == {bare.pk: ["no shipment", "no payment received"]}


# --- lifetime value --------------------------------------------------------------------------


def test_a_returned_order_adds_nothing_to_the_lifetime_value() -> None:
    customer = customer_create()
    sku = sku_create(price="100.00", on_hand=10)
    kept = _take((sku, 1), customer_id=customer.pk)
    returned = move(_take((sku, 2), customer_id=customer.pk), "confirmed", "packed", "shipped")
    customer.refresh_from_db()
    assert (customer.orders_count, customer.lifetime_value) == (2, D("300.00"))
    move(returned, "returned")
    customer.refresh_from_db()
    assert (customer.orders_count, customer.lifetime_value) == (2, D("100.00"))
    # An imported credit note (a return document) still counts against the sale it reverses.
    _credit_note(customer, D("40"))
    customer.refresh_from_db()
    assert customer.lifetime_value == D("60.00") and kept.total == D("100.00")


def _credit_note(customer: Customer, amount: Decimal) -> None:
    """A return document as imports write it: in a returned status, kind "return"."""
    order = order_create(
        lines=[OrderLineIn(sku_code="X", description="x", unit_price=amount, quantity=1)],
        customer_id=customer.pk,
        status="returned",
        actor=None,
        idempotency_key=None,
    )
    Order.objects.filter(pk=order.pk).update(kind="return")
    customer_stats_refresh(customer_ids=[customer.pk])


def test_the_stock_an_order_holds_counts_as_available_to_it() -> None:
    vase = sku_create(on_hand=3)
    order = _take((vase, 2))
    assert selectors.stock_held(order_id=order.pk) == {vase.pk: 2}
    assert selectors.stock_held(order_id=None) == {}
    move(order, "cancelled")
    assert selectors.stock_held(order_id=order.pk) == {}
    assert OrderLine.objects.count() == 1
