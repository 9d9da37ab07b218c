"""The header search's suggestions: what shows under the box as people type."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.customers.services.customers import customer_create
from procedo.orders.services.shipments import shipment_create
from procedo.orders.tests.factories import order_create
from procedo.sops.services import sops as sop_services

pytestmark = pytest.mark.django_db


def _suggest(client: Client, query: str) -> str:
    response = client.get(reverse("home:suggest"), {"q": query}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_suggestions_come_grouped_customers_orders_sops_products_people(
    owner_client: Client, owner: User
) -> None:
    olena = customer_create(
        first_name="Олена", last_name="Доставка", phones=["+380 67 555 22 45"], actor=None
    )
    sop = sop_services.sop_create(
        name="Доставка кур'єром до дверей",
        subject_type="order",
        owner_id=owner.pk,
        kpi="order_confirmation_time",
        actor=owner,
    )
    html = _suggest(owner_client, "доставка")
    assert "<html" not in html  # a piece for under the box, not a page
    customers, sops = html.index("Customers"), html.index("SOPs")
    assert customers < html.index("Олена Доставка") < sops < html.index("Доставка кур")
    assert f'href="{reverse("customers:card", args=[olena.pk])}"' in html
    assert f'href="{reverse("sops:detail", args=[sop.pk])}"' in html
    # Groups without hits are left out; the last link is the full search page.
    assert "Orders" not in html and "No matches" not in html
    assert f'href="{reverse("home:search")}?q=%D0%B4' in html


def test_a_phone_is_suggested_by_its_last_digits_and_an_order_by_tracking(
    owner_client: Client,
) -> None:
    customer_create(first_name="Богдан", phones=["+380 93 555 22 45"], actor=None)
    order = order_create()
    shipment_create(
        order_id=order.pk,
        carrier="Нова пошта",
        tracking_number="20450000002245",
        actor=None,
        idempotency_key=None,
    )
    assert "Богдан" in _suggest(owner_client, "2245")
    assert f"#{order.number}" in _suggest(owner_client, "20450000002245")


def test_fewer_than_two_characters_suggest_nothing(owner_client: Client) -> None:
    # Empty, so the list under the box hides itself (.suggest:empty).
    assert _suggest(owner_client, "о") == ""
    assert _suggest(owner_client, "  ") == ""
    assert "No matches." in _suggest(owner_client, "жодного-такого")


def test_suggestions_show_only_what_the_reader_may_open(make_user: Callable[..., User]) -> None:
    customer_create(first_name="Оксана", last_name="Клієнтка", actor=None)
    viewer = Client()
    viewer.force_login(make_user(Role.VIEWER))
    html = _suggest(viewer, "оксана")
    assert "Оксана Клієнтка" in html
    assert "People" not in html  # the team page is not a viewer's (accounts.manage)
    assert Client().get(reverse("home:suggest"), {"q": "оксана"}).status_code == 302


def test_a_pasted_page_is_cut_to_the_longest_query(owner_client: Client) -> None:
    html = _suggest(owner_client, "х" * 5000)
    assert "х" * 100 in html and "х" * 101 not in html
