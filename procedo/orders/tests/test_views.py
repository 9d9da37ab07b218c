from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.catalog.models import Sku
from procedo.catalog.tests.factories import sku_create
from procedo.customers.models import Customer
from procedo.customers.registry import card_sections
from procedo.customers.services import customers as customer_services
from procedo.events.models import Event
from procedo.home.search import search_everywhere
from procedo.orders import selectors
from procedo.orders.models import Order, OrderStatus, OrderTransition, Payment, Shipment
from procedo.orders.services.shipments import shipment_create
from procedo.orders.tests.factories import customer_create, move, order_create
from procedo.testing import logged_in

pytestmark = pytest.mark.django_db


def _token() -> str:
    return str(uuid.uuid4())


def test_owner_sees_the_list_with_filters_and_a_next_page(owner_client: Client) -> None:
    customer = customer_create("Ганна")
    orders = [order_create(customer=customer) for _ in range(3)]
    page = owner_client.get(reverse("orders:list"))
    assert page.status_code == 200
    assert all(f"#{o.number}".encode() in page.content for o in orders)
    assert "Ганна".encode() in page.content and b"Orders" in page.content

    filtered = owner_client.get(reverse("orders:list"), {"status": "cancelled"})
    assert filtered.status_code == 200 and f"#{orders[0].number}".encode() not in filtered.content

    cursor = selectors.order_list(limit=1).next_cursor
    assert cursor
    more = owner_client.get(reverse("orders:list"), {"cursor": cursor}, HTTP_HX_REQUEST="true")
    assert more.status_code == 200 and b"<html" not in more.content
    assert f"#{orders[1].number}".encode() in more.content
    broken = owner_client.get(reverse("orders:list"), {"cursor": "!!"})
    assert broken.status_code == 200  # a bad cursor starts from the top


def test_card_shows_only_the_moves_the_pipeline_allows(owner_client: Client) -> None:
    order = order_create((sku_create(code="VASE-1", on_hand=3), 1))
    page = owner_client.get(reverse("orders:detail", args=[order.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'value="confirmed"' in body and 'value="cancelled"' in body
    assert 'value="shipped"' not in body and 'value="delivered"' not in body
    assert "VASE-1" in body and f'placed order <a href="/orders/{order.pk}/">' in body


def test_status_buttons_move_the_order_through_htmx_once_per_token(owner_client: Client) -> None:
    order = order_create()
    url = reverse("orders:change-status", args=[order.pk])
    form = {"form_token": _token(), "status": "confirmed"}
    for _ in range(2):  # a double click sends the same token twice
        response = owner_client.post(url, form, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert b'id="order-card"' in response.content and b"<html" not in response.content
    order.refresh_from_db()
    assert order.status_id == "confirmed"
    assert Event.objects.filter(event_type="order.status_changed").count() == 1
    assert b'value="packed"' in response.content  # the next moves, from the new status

    refused = owner_client.post(
        url, {"form_token": _token(), "status": "delivered"}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 422 and b"cannot go from" in refused.content
    assert b'id="order-card"' in refused.content
    order.refresh_from_db()
    assert order.status_id == "confirmed"


def test_payment_and_shipment_forms(owner_client: Client) -> None:
    order = move(order_create((sku_create(price="120.00", on_hand=5), 1)), "confirmed", "packed")
    paid = owner_client.post(
        reverse("orders:payment-record", args=[order.pk]),
        {"form_token": _token(), "amount": "120.00", "method": "card", "status": "paid"},
        HTTP_HX_REQUEST="true",
    )
    assert paid.status_code == 200 and Payment.objects.filter(order=order).count() == 1
    bad = owner_client.post(
        reverse("orders:payment-record", args=[order.pk]),
        {"form_token": _token(), "amount": "0", "method": "card", "status": "paid"},
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 422 and Payment.objects.count() == 1

    shipped = owner_client.post(
        reverse("orders:shipment-create", args=[order.pk]),
        {"form_token": _token(), "carrier": "Нова пошта", "tracking_number": "204500"},
        HTTP_HX_REQUEST="true",
    )
    assert shipped.status_code == 200 and "Нова пошта".encode() in shipped.content
    shipment = Shipment.objects.get(order=order)
    delivered = owner_client.post(
        reverse("orders:shipment-update-status", args=[shipment.pk]),
        {"form_token": _token(), "status": "in_transit", "note": ""},
        HTTP_HX_REQUEST="true",
    )
    assert delivered.status_code == 200
    order.refresh_from_db()
    assert order.status_id == "shipped" and order.paid_at is not None


def test_viewer_reads_but_every_change_is_403(make_user: Callable[..., User]) -> None:
    order = order_create()
    viewer = logged_in(make_user(Role.VIEWER))
    page = viewer.get(reverse("orders:detail", args=[order.pk]))
    assert page.status_code == 200 and b'name="status"' not in page.content
    for url, data in [
        (
            reverse("orders:change-status", args=[order.pk]),
            {"form_token": _token(), "status": "confirmed"},
        ),
        (
            reverse("orders:payment-record", args=[order.pk]),
            {"form_token": _token(), "amount": "1", "method": "card", "status": "paid"},
        ),
        (
            reverse("orders:shipment-create", args=[order.pk]),
            {"form_token": _token(), "carrier": "x"},
        ),
    ]:
        response = viewer.post(url, data, HTTP_HX_REQUEST="true")
        assert response.status_code == 403 and b"orders.change" in response.content
    assert viewer.get(reverse("orders:pipeline")).status_code == 403
    order.refresh_from_db()
    assert order.status_id == "new" and not Payment.objects.exists()


def test_manager_edits_the_pipeline(make_user: Callable[..., User]) -> None:
    manager = logged_in(make_user(Role.MANAGER))
    assert manager.get(reverse("orders:pipeline")).status_code == 200
    added = manager.post(
        reverse("orders:status-create"),
        {"code": "on_hold", "label": "На паузі", "category": "processing"},
    )
    assert added.status_code == 302 and OrderStatus.objects.filter(code="on_hold").exists()
    manager.post(
        reverse("orders:transition-add"), {"from_status": "confirmed", "to_status": "on_hold"}
    )
    assert OrderTransition.objects.filter(
        from_status__code="confirmed", to_status__code="on_hold"
    ).exists()
    manager.post(
        reverse("orders:transition-remove"), {"from_status": "confirmed", "to_status": "on_hold"}
    )
    assert not OrderTransition.objects.filter(to_status__code="on_hold").exists()

    order_create()
    refused = manager.post(reverse("orders:status-delete", args=["new"]), follow=True)
    assert "move them before removing it" in refused.content.decode()
    assert OrderStatus.objects.filter(code="new").exists()
    duplicate = manager.post(
        reverse("orders:status-create"), {"code": "on_hold", "label": "x", "category": "new"}
    )
    assert duplicate.status_code == 422


def test_orders_are_found_by_number_and_listed_on_the_customer_card(owner: User) -> None:
    customer = customer_create("Ірина")
    order = order_create(customer=customer, external_ref="shop-77")
    results = dict(
        (str(provider.label), hits)
        for provider, hits in search_everywhere(query=f"#{order.number}", user=owner)
    )
    assert [hit.title for hit in results["Orders"]] == [f"#{order.number}"]
    by_ref = dict(
        (str(p.label), hits) for p, hits in search_everywhere(query="shop-77", user=owner)
    )
    assert [hit.url for hit in by_ref["Orders"]] == [reverse("orders:detail", args=[order.pk])]

    section = next(s for s in card_sections() if s.key == "orders")
    html = render_to_string(
        section.template, {**section.context(customer.pk), "customer": customer}
    )
    assert f"#{order.number}" in html
    assert Order.objects.count() == 1


# --- taking, changing and moving orders in the pages -------------------------------------------


def _order_form(**fields: object) -> dict[str, object]:
    return {
        "form_token": _token(),
        "phone": "067 123 45 67",
        "first_name": "Марина",
        "channel": "phone",
        "carrier": "nova_poshta",
        "point": "branch",
        "city": "Київ",
        "branch": "Відділення №12",
        "payment_method": "cod",
        "shipping": "0",
        **fields,
    }


def _field_html(body: str, name: str) -> str:
    """The form field's own block: where its error must show."""
    start = body.index(f'name="{name}"')
    block_start = body.rindex('<div class="field', 0, start)
    return body[block_start : body.index("</div>", start)]


def test_an_operator_takes_an_order_for_a_new_customer(make_user: Callable[..., User]) -> None:
    olena = make_user(Role.OPERATOR, username="olena")
    client = logged_in(olena)
    page = client.get(reverse("orders:create"))
    assert page.status_code == 200 and b'name="phone"' in page.content
    vase = sku_create(code="VASE-S", price="640.00", on_hand=3)
    saved = client.post(
        reverse("orders:create"),
        _order_form(line_sku=[vase.pk], line_qty=["2"], manager=str(olena.pk)),
    )
    order = Order.objects.get()
    assert saved.status_code == 302 and saved["Location"] == reverse(
        "orders:detail", args=[order.pk]
    )
    assert str(order.customer) == "Марина" and order.manager_id == olena.pk
    assert order.total == Decimal("1280.00") and order.payment_method == "cod"
    card = client.get(saved["Location"]).content.decode()
    assert f'href="/customers/{order.customer_id}/"' in card and "Нова пошта" not in card
    assert "Nova Poshta" in card and "Київ, Відділення №12" in card


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"line_sku": [], "line_qty": []}, None, "Add at least one line."),
        ({"phone": "12345"}, "phone", "12345 is not a valid phone number."),
        ({"phone": ""}, "phone", "Give the customer&#x27;s phone."),
        ({"branch": ""}, "branch", "Which branch or parcel locker?"),
        ({"line_qty": ["4"]}, "line_qty", "Not enough stock of VASE-S: 3 available, 4 asked."),
        ({"line_qty": ["0"]}, "line_qty", "A quantity from 1 to 1000000."),
    ],
)
def test_bad_order_input_shows_next_to_its_field_and_saves_nothing(
    owner_client: Client, fields: dict[str, object], field: str | None, message: str
) -> None:
    vase = sku_create(code="VASE-S", on_hand=3)
    data = _order_form(line_sku=[vase.pk], line_qty=["1"])
    data.update(fields)
    response = owner_client.post(reverse("orders:create"), data)
    assert response.status_code == 422
    body = response.content.decode()
    if field == "line_qty":  # a line's error is in its own row
        row = body[body.index('<tr class="line has-error">') :]
        assert message in row[: row.index("</tr>")]
    elif field is not None:
        assert message in _field_html(body, field)
    else:
        lines = body[body.index('id="lines"') :]
        assert message in lines[: lines.index("</section>")]
    assert 'value="067 123 45 67"' in body or fields.get("phone") is not None  # kept as typed
    assert not Order.objects.exists() and not Customer.objects.exists()
    assert Sku.objects.get(pk=vase.pk).reserved == 0


def test_an_order_from_the_customer_card_goes_to_that_customer(
    make_user: Callable[..., User],
) -> None:
    client = logged_in(make_user(Role.OPERATOR))
    customer = customer_create("Ганна")
    section = client.get(reverse("customers:card", args=[customer.pk])).content.decode()
    assert f'href="/orders/new/?customer={customer.pk}"' in section
    page = client.get(reverse("orders:create"), {"customer": customer.pk}).content.decode()
    assert "Ганна" in page and 'name="phone"' not in page.replace('name="phone" ', "")
    sku = sku_create(on_hand=2)
    client.post(
        reverse("orders:create"),
        _order_form(customer_id=customer.pk, phone="", line_sku=[sku.pk], line_qty=["1"]),
    )
    assert Order.objects.get().customer_id == customer.pk
    viewer = logged_in(make_user(Role.VIEWER))
    card = viewer.get(reverse("customers:card", args=[customer.pk])).content.decode()
    assert "/orders/new/" not in card


def test_lines_and_delivery_change_on_the_edit_page_until_the_pipeline_says_no(
    owner_client: Client,
) -> None:
    vase = sku_create(code="VASE-S", price="640.00", on_hand=3)
    order = order_create((vase, 1))
    page = owner_client.get(reverse("orders:edit", args=[order.pk])).content.decode()
    assert 'name="line_qty" value="1"' in page and "3 in stock" in page  # 2 free + 1 its own
    lines = {
        "form_token": _token(),
        "line_sku": [vase.pk],
        "line_qty": ["3"],
        "line_price": ["640.00"],
        "line_discount": [""],
        "line_text": ["Ваза"],
    }
    saved = owner_client.post(reverse("orders:lines-set", args=[order.pk]), lines)
    assert saved.status_code == 302
    assert order.lines.get().quantity == 3 and Sku.objects.get(pk=vase.pk).reserved == 3
    delivery = {"form_token": _token(), "carrier": "courier", "city": "Львів", "address": ""}
    refused = owner_client.post(reverse("orders:delivery-set", args=[order.pk]), delivery)
    assert refused.status_code == 422
    assert "Which street and house?" in _field_html(refused.content.decode(), "address")

    move(order, "confirmed", "packed")
    page = owner_client.get(reverse("orders:edit", args=[order.pk])).content.decode()
    assert "cannot be changed any more" in page
    late = owner_client.post(
        reverse("orders:lines-set", args=[order.pk]),
        {**lines, "form_token": _token(), "line_qty": ["1"]},
    )
    assert late.status_code == 422 and b"cannot be changed any more" in late.content
    assert order.lines.get().quantity == 3
    card = owner_client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert reverse("orders:edit", args=[order.pk]) not in card


def test_delivered_without_shipment_or_payment_asks_first(owner_client: Client) -> None:
    order = move(order_create(), "confirmed", "packed", "shipped")
    url = reverse("orders:change-status", args=[order.pk])
    token = _token()
    asked = owner_client.post(
        url, {"form_token": token, "status": "delivered"}, HTTP_HX_REQUEST="true"
    )
    body = asked.content.decode()
    assert asked.status_code == 200 and "no shipment, no payment received" in body
    assert 'name="confirmed" value="1"' in body
    order.refresh_from_db()
    assert order.status_id == "shipped"
    done = owner_client.post(
        url, {"form_token": token, "status": "delivered", "confirmed": "1"}, HTTP_HX_REQUEST="true"
    )
    assert done.status_code == 200
    order.refresh_from_db()
    assert order.status_id == "delivered"


def test_the_list_has_status_tabs_search_and_filters(
    owner_client: Client, make_user: Callable[..., User]
) -> None:
    taras = make_user(Role.MANAGER, username="taras", first_name="Тарас")
    # Made by the customers' service, so the name search can find her.
    marina = customer_services.customer_create(
        first_name="Марина", last_name="Ткаченко", phones=["067 123 45 67"]
    )
    mine = order_create(customer=marina, manager_id=taras.pk)
    other = order_create(customer=customer_create("Ганна"))
    move(other, "confirmed")
    shipment = shipment_create(
        order_id=other.pk,
        carrier="Нова пошта",
        tracking_number="20450012345678",
        actor=None,
        idempotency_key=None,
    )
    list_url = reverse("orders:list")
    page = owner_client.get(list_url).content.decode()
    assert 'status=new">New <span class="count">1</span>' in page
    assert 'status=confirmed">Confirmed <span class="count">1</span>' in page

    def numbers(**params: str | int) -> list[str]:
        body = owner_client.get(list_url, params).content.decode()
        return [n for n in (mine.number, other.number) if f">#{n}<" in body]

    assert numbers(q=f"#{mine.number}") == [mine.number]
    assert numbers(q=shipment.tracking_number) == [other.number]
    assert numbers(customer="ткач") == [mine.number]
    assert numbers(q="(067) 123-4567") == [mine.number]  # the customer's phone, any way
    assert numbers(manager=taras.pk) == [mine.number]
    assert numbers(status="confirmed") == [other.number]
    by_customer = owner_client.get(list_url, {"customer_id": marina.pk}).content.decode()
    assert "Orders of Марина Ткаченко" in by_customer


def test_bulk_moves_and_asks_before_calling_orders_delivered(owner_client: Client) -> None:
    first, second = order_create(), order_create()
    url = reverse("orders:change-status-many")
    back = reverse("orders:list") + "?status=new"
    moved = owner_client.post(
        url,
        {
            "form_token": _token(),
            "order": [first.pk, second.pk],
            "status": "confirmed",
            "next": back,
        },
    )
    assert moved.status_code == 302 and moved["Location"] == back
    assert set(Order.objects.values_list("status", flat=True)) == {"confirmed"}
    for order in (first, second):
        move(order, "packed", "shipped")
    asked = owner_client.post(
        url, {"form_token": _token(), "order": [first.pk, second.pk], "status": "delivered"}
    )
    assert asked.status_code == 200 and f"#{first.number}" in asked.content.decode()
    assert set(Order.objects.values_list("status", flat=True)) == {"shipped"}
    confirmed = owner_client.post(
        url,
        {
            "form_token": _token(),
            "order": [first.pk, second.pk],
            "status": "delivered",
            "confirmed": "1",
            "next": "https://elsewhere.example/",
        },
    )
    assert confirmed["Location"] == reverse("orders:list")  # never away from the site
    assert set(Order.objects.values_list("status", flat=True)) == {"delivered"}
    nothing = owner_client.post(url, {"form_token": _token(), "status": "confirmed"})
    assert nothing.status_code == 302


def test_the_pipeline_page_switches_a_status_editable(make_user: Callable[..., User]) -> None:
    client = logged_in(make_user(Role.MANAGER))
    response = client.post(reverse("orders:status-update", args=["packed"]), {"editable": "1"})
    assert response.status_code == 302 and OrderStatus.objects.get(code="packed").editable
    page = client.get(reverse("orders:pipeline")).content.decode()
    assert "Orders in Packed can be edited." in page
