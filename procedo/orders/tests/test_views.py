from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.catalog.tests.factories import sku_create
from procedo.customers.registry import card_sections
from procedo.events.models import Event
from procedo.home.search import search_everywhere
from procedo.orders import selectors
from procedo.orders.models import Order, OrderStatus, OrderTransition, Payment, Shipment
from procedo.orders.tests.factories import customer_create, move, order_create

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


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
    viewer = _client(make_user(Role.VIEWER))
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
    manager = _client(make_user(Role.MANAGER))
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
