from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.catalog import selectors, services
from procedo.catalog.models import Product, Sku, StockMovement
from procedo.catalog.search import product_search
from procedo.catalog.services import StockLine
from procedo.catalog.tests.factories import product_create, sku_create
from procedo.catalog.tests.plans import assert_uses_index, captured_sql
from procedo.testing import bearer, logged_in

pytestmark = pytest.mark.django_db


def test_product_list_pages_by_name_with_skus_in_two_queries(django_assert_num_queries) -> None:
    for i in range(5):
        product = product_create(name=f"Товар {i}")
        sku_create(product=product)
        sku_create(product=product)
    with django_assert_num_queries(2):
        first = selectors.product_list(limit=3)
        assert all(len(p.skus.all()) == 2 for p in first.items)
    second = selectors.product_list(cursor=first.next_cursor, limit=3)
    names = [p.name for p in first.items + second.items]
    assert names == [f"Товар {i}" for i in range(5)] and second.next_cursor is None


def test_product_card_reads_in_three_queries(django_assert_num_queries) -> None:
    sku = sku_create(on_hand=4)
    services.stock_reserve(lines=[StockLine(sku.pk, 1)], order_id=None)
    with django_assert_num_queries(3):
        card = selectors.product_detail(product_id=sku.product_id)
        assert card is not None
        assert [s.available for s in card.skus] == [3]
        assert [m.reason for m in card.movements] == ["reserve", "adjust"]
        assert [m.sku.code for m in card.movements] == [sku.code] * 2


def test_product_and_movement_lists_are_served_by_indexes() -> None:
    sku = sku_create()
    sql = captured_sql(lambda: selectors.product_list(limit=10), table="catalog_product")
    assert_uses_index(sql, table="catalog_product", index="product_name")
    sql = captured_sql(
        lambda: selectors.stock_movements_of_sku(sku_id=sku.pk), table="catalog_stockmovement"
    )
    assert_uses_index(sql, table="catalog_stockmovement", index="stock_movement_sku")
    sql = captured_sql(lambda: selectors.sku_list(limit=10), table="catalog_sku")
    assert_uses_index(sql, table="catalog_sku")


def test_search_finds_cyrillic_names_in_any_case_and_exact_codes() -> None:
    mug = product_create(name="Чашка Керамічна")
    sku_create(product=mug, code="MUG-01", name="Синя")
    product_create(name="Tea pot")
    assert [h.title for h in product_search.find("чашка", 10)] == ["Чашка Керамічна"]
    assert [h.title for h in product_search.find("КЕРАМІЧНА", 10)] == ["Чашка Керамічна"]
    assert [h.title for h in product_search.find("синя", 10)] == ["Чашка Керамічна"]
    assert product_search.find("mug-01", 10)[0].title == "MUG-01 · Чашка Керамічна"
    page = selectors.product_list(query="ЧАШ")
    assert [p.name for p in page.items] == ["Чашка Керамічна"]


def test_owner_sees_pages_and_counts_stock_through_htmx(owner_client: Client) -> None:
    sku = sku_create(code="CUP-9", on_hand=5)
    assert owner_client.get(reverse("catalog:products")).status_code == 200
    page = owner_client.get(reverse("catalog:product", args=[sku.product_id]))
    assert page.status_code == 200 and b"CUP-9" in page.content

    form = {"form_token": "7f1c7c53-7d7e-4a44-9f55-1d0f2d6a0b11", "counted": "3", "note": "Облік"}
    url = reverse("catalog:stock-adjust", args=[sku.pk])
    for _ in range(2):  # a double click
        partial = owner_client.post(url, form, HTTP_HX_REQUEST="true")
        assert partial.status_code == 200 and b'id="stock-card"' in partial.content
        assert b"<html" not in partial.content
    assert Sku.objects.get(pk=sku.pk).on_hand == 3
    assert StockMovement.objects.filter(reason="adjust", note="Облік").count() == 1

    refused = owner_client.post(
        url,
        {**form, "form_token": "1f1c7c53-7d7e-4a44-9f55-1d0f2d6a0b11", "counted": "-2"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 422 and Sku.objects.get(pk=sku.pk).on_hand == 3


def test_owner_creates_a_product_and_a_sku_in_the_ui(owner_client: Client) -> None:
    created = owner_client.post(
        reverse("catalog:product-create"),
        {
            "form_token": "2f1c7c53-7d7e-4a44-9f55-1d0f2d6a0b11",
            "name": "Глечик",
            "category": "  Посуд  для  чаю ",
            "active": "on",
        },
    )
    product = Product.objects.get(name="Глечик")
    assert product.category == "Посуд для чаю"
    assert created.status_code == 302 and created["Location"] == reverse(
        "catalog:product", args=[product.pk]
    )
    sku = owner_client.post(
        reverse("catalog:sku-create", args=[product.pk]),
        {
            "form_token": "3f1c7c53-7d7e-4a44-9f55-1d0f2d6a0b11",
            "code": "JUG-1",
            "price": "199.90",
            "currency": "uah",
            "on_hand": "4",
        },
        HTTP_HX_REQUEST="true",
    )
    assert sku.status_code == 200 and b"JUG-1" in sku.content
    assert Sku.objects.get(code="JUG-1").currency == "UAH"


def test_viewer_reads_but_cannot_change(make_user: Callable[..., User]) -> None:
    sku = sku_create(on_hand=5)
    viewer = logged_in(make_user(Role.VIEWER))
    assert viewer.get(reverse("catalog:product", args=[sku.product_id])).status_code == 200
    refused = viewer.post(
        reverse("catalog:stock-adjust", args=[sku.pk]), {"counted": "1", "note": "x"}
    )
    assert refused.status_code == 403 and b"catalog.change" in refused.content
    assert Sku.objects.get(pk=sku.pk).on_hand == 5


def test_api_creates_products_and_skus_and_adjusts_stock(owner: User) -> None:
    client, auth = Client(), bearer(owner)
    created = client.post(
        "/api/catalog/products",
        {"name": "Плед", "category": "Текстиль"},
        content_type="application/json",
        **auth,
    )
    assert created.status_code == 201 and created.json()["category"] == "Текстиль"
    product_id = created.json()["id"]
    moved = client.patch(
        f"/api/catalog/products/{product_id}",
        {"category": "Домашній текстиль"},
        content_type="application/json",
        **auth,
    )
    assert moved.json()["category"] == "Домашній текстиль"
    too_long = client.patch(
        f"/api/catalog/products/{product_id}",
        {"category": "x" * 101},
        content_type="application/json",
        **auth,
    )
    assert too_long.status_code == 422 and too_long.json()["field"] == "category"
    assert Product.objects.get(pk=product_id).category == "Домашній текстиль"
    sku = client.post(
        f"/api/catalog/products/{product_id}/skus",
        {"code": "BLANKET-1", "price": "899.00", "currency": "UAH", "on_hand": 2},
        content_type="application/json",
        **auth,
    )
    assert sku.status_code == 201 and sku.json()["price"] == "899.00"
    sku_id = sku.json()["id"]

    adjusted = client.post(
        f"/api/catalog/skus/{sku_id}/stock",
        {"delta": 3, "note": "поставка"},
        content_type="application/json",
        **auth,
    )
    assert adjusted.status_code == 200 and adjusted.json()["on_hand"] == 5

    listed = client.get("/api/catalog/products?q=плед", **auth).json()
    assert [p["skus"][0]["code"] for p in listed["items"]] == ["BLANKET-1"]
    movements = client.get(f"/api/catalog/skus/{sku_id}/movements", **auth).json()
    assert [m["delta_on_hand"] for m in movements["items"]] == [3, 2]


def test_api_errors_name_the_field(owner: User, make_user: Callable[..., User]) -> None:
    client, auth = Client(), bearer(owner)
    product = product_create()
    bad_price = client.post(
        f"/api/catalog/products/{product.pk}/skus",
        {"code": "X-1", "price": "-5", "currency": "UAH"},
        content_type="application/json",
        **auth,
    )
    assert bad_price.status_code == 422 and bad_price.json()["field"] == "price"
    sku_create(product=product, code="X-2")
    taken = client.post(
        f"/api/catalog/products/{product.pk}/skus",
        {"code": "X-2", "price": "5", "currency": "UAH"},
        content_type="application/json",
        **auth,
    )
    assert taken.status_code == 409 and taken.json()["field"] == "code"
    missing = client.get("/api/catalog/products/999999", **auth)
    assert missing.status_code == 404

    viewer = bearer(make_user(Role.VIEWER))
    assert client.get("/api/catalog/products", **viewer).status_code == 200
    forbidden = client.post(
        "/api/catalog/products", {"name": "x"}, content_type="application/json", **viewer
    )
    assert forbidden.status_code == 403 and "catalog.change" in forbidden.json()["detail"]
    assert Product.objects.count() == 1
