"""An operator takes an order by phone for a new customer, edits it and moves orders in bulk,
at desktop and phone size, in English and Ukrainian; and sees bad input refused in place."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.accounts.roles import Role
from procedo.catalog.models import Sku
from procedo.catalog.tests.factories import product_create, sku_create
from procedo.customers.models import Identity
from procedo.orders.models import Order
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.orders.tests.factories import customer_create, order_create
from procedo.testing import PASSWORD
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# Text wider than the box drawn for it (a label cut off, a button overflowing). Asked only
# when the page's main column is at least 300 px wide: until the shell's phone layout folds
# the side navigation away, a 390 px screen leaves the page about 130 px.
OVERFLOWING = """() => document.querySelector('main').clientWidth < 300 ? [] :
  [...document.querySelectorAll(
    'main button, main a.button, main th, main .tag, main label, main .order-tabs a'
  )].filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
   .map(e => e.tagName + ': ' + e.innerText.trim())"""


def _catalog() -> tuple[Sku, Sku]:
    cup = sku_create(
        product=product_create("Чашка керамічна"), code="CUP-BLUE", name="синя", on_hand=12
    )
    vase = sku_create(
        product=product_create("Ваза скляна"), code="VASE-S", price="640.00", on_hand=3
    )
    return cup, vase


def _login(page: Any, live_server: Any, language: str) -> None:
    if language == "uk":
        page.context.add_cookies(
            [{"name": "django_language", "value": "uk", "url": live_server.url}]
        )
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", "olena")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(f"html[lang='{language}']")


def _shot(page: Any, name: str, size: str, language: str) -> None:
    assert page.evaluate(OVERFLOWING) == [], name
    screenshot(page, f"orders-{name}-{size}-{language}")


def _total_is(page: Any, digits: str) -> None:
    page.wait_for_function(
        "digits => (document.querySelector('#order-summary .total dd') || {textContent: ''})"
        ".textContent.replace(/\\D/g, '') === digits",
        arg=digits,
    )


def _add_line(page: Any, query: str, code: str) -> None:
    page.fill("#sku-q", query)
    pick = page.locator(".sku-pick", has_text=code)
    pick.wait_for()
    rows = page.locator("#line-rows tr.line").count()
    pick.click()
    page.wait_for_function(
        "rows => document.querySelectorAll('#line-rows tr.line').length > rows", arg=rows
    )
    # The search box comes back empty with the new line; htmx wires it up as it settles.
    page.wait_for_function(
        "() => document.querySelector('#sku-q').value === ''"
        " && !document.querySelector('.htmx-added, .htmx-settling, .htmx-request')"
    )


@pytest.mark.parametrize("language", ["en", "uk"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_operator_takes_edits_and_moves_orders(
    browser: Any, live_server: Any, make_user: Any, size: str, language: str
) -> None:
    order_pipeline_defaults_install()  # a transactional test starts from nothing
    make_user(Role.OPERATOR, username="olena", first_name="Олена", last_name="Коваль")
    cup, vase = _catalog()
    earlier = order_create((cup, 1), customer=customer_create("Ганна", last_name="Мельник"))
    context = browser.new_context(viewport=SIZES[size], locale="en-GB")
    page = context.new_page()
    try:
        _login(page, live_server, language)
        page.goto(f"{live_server.url}/orders/")
        _shot(page, "list", size, language)
        page.click("a.button[href='/orders/new/']")
        page.wait_for_selector("#order-form")

        # A new customer, the phone typed the way people say it.
        page.fill("#id_phone", "067 123 45 67")
        page.wait_for_selector("#customer-found .found:not(.muted)")
        page.fill("#id_first_name", "Марина")
        page.fill("#id_last_name", "Ткаченко")
        # Two lines found by name, each with its stock shown.
        page.fill("#sku-q", "чашка")
        page.locator(".sku-pick", has_text="CUP-BLUE").wait_for()
        stock = page.locator(".sku-pick", has_text="CUP-BLUE").locator(".tag").inner_text()
        assert stock.startswith("11 ")  # 12 on hand, 1 held for the earlier order
        _shot(page, "sku-search", size, language)
        _add_line(page, "чашка", "CUP-BLUE")
        _add_line(page, "ваза", "VASE-S")
        page.locator("#line-rows tr.line").nth(1).locator("input[name=line_qty]").fill("2")
        page.locator("#line-rows tr.line").nth(1).locator("input[name=line_qty]").dispatch_event(
            "change"
        )
        _total_is(page, "153000")  # 250 + 2 × 640
        # Nova Poshta, to a branch; cash on delivery.
        page.select_option("#id_carrier", "nova_poshta")
        page.check("input[name=point][value=branch]")
        assert not page.locator("#id_address").is_visible()
        page.fill("#id_city", "Київ")
        page.fill("#id_branch", "Відділення №12")
        page.select_option("#id_payment_method", "cod")
        _shot(page, "form", size, language)
        page.click("#order-form button[type=submit]")
        page.wait_for_selector(".flash .msg")

        order = Order.objects.exclude(pk=earlier.pk).get()
        assert page.url.endswith(f"/orders/{order.pk}/")
        assert order.customer is not None and str(order.customer) == "Марина Ткаченко"
        assert Identity.objects.get(customer=order.customer).value == "+380671234567"
        assert (order.delivery_carrier, order.delivery_branch, order.payment_method) == (
            "nova_poshta",
            "Відділення №12",
            "cod",
        )
        assert [(line.sku_code, line.quantity) for line in order.lines.all()] == [
            ("CUP-BLUE", 1),
            ("VASE-S", 2),
        ]
        vase.refresh_from_db()
        assert vase.reserved == 2
        link = page.locator(f"#order-card a[href='/customers/{order.customer_id}/']").first
        assert link.inner_text() == "Марина Ткаченко"
        _shot(page, "card", size, language)

        # It is in the New tab, counted.
        page.goto(f"{live_server.url}/orders/")
        new_tab = page.locator(".order-tabs a[href*='status=new']")
        assert new_tab.locator(".count").inner_text() == "2"
        new_tab.click()
        page.wait_for_selector(f".order-table a:has-text('#{order.number}')")

        # A line's quantity changes; the stock follows.
        page.goto(f"{live_server.url}/orders/{order.pk}/edit/")
        quantity = page.locator("#line-rows tr.line", has_text="VASE-S").locator(
            "input[name=line_qty]"
        )
        quantity.fill("3")
        _total_is(page, "217000")  # 250 + 3 × 640: the totals follow before anything is saved
        _shot(page, "edit", size, language)
        page.click("#order-form button[type=submit]")
        page.wait_for_selector(".flash .msg")
        assert order.lines.get(sku_code="VASE-S").quantity == 3
        vase.refresh_from_db()
        assert vase.reserved == 3

        # Both new orders move to Confirmed at once.
        page.goto(f"{live_server.url}/orders/?status=new")
        for box in page.locator(".order-table tbody input[name=order]").all():
            box.check()
        page.select_option("#bulk_status", "confirmed")
        _shot(page, "bulk", size, language)
        page.click("#bulk-form .bulk-bar button[type=submit]")
        page.wait_for_selector(".flash .msg")
        assert set(Order.objects.values_list("status", flat=True)) == {"confirmed"}
        assert page.locator(".order-tabs a[href*='status=confirmed'] .count").inner_text() == "2"
        assert page.locator(".order-tabs a[href*='status=new'] .count").inner_text() == "0"
        _shot(page, "moved", size, language)
    finally:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_saved(
    browser: Any, live_server: Any, make_user: Any, size: str
) -> None:
    order_pipeline_defaults_install()
    make_user(Role.OPERATOR, username="olena", first_name="Олена")
    _cup, vase = _catalog()
    context = browser.new_context(viewport=SIZES[size], locale="en-GB")
    page = context.new_page()
    try:
        _login(page, live_server, "en")
        page.goto(f"{live_server.url}/orders/new/")
        page.fill("#id_phone", "12345")
        page.click("#order-form button[type=submit]")
        page.wait_for_selector("#customer .errorlist")
        assert "not a valid phone number" in page.locator("#customer .errorlist").inner_text()
        assert "Add at least one line" in page.locator("#lines .errorlist").inner_text()
        _shot(page, "refused-phone-and-lines", size, "en")

        page.fill("#id_phone", "067 123 45 67")
        _add_line(page, "ваза", "VASE-S")
        page.locator("#line-rows tr.line input[name=line_qty]").fill("5")
        page.wait_for_selector("#order-summary .tag.bad")  # only 3 in stock, said at once
        page.click("#order-form button[type=submit]")
        row_error = page.locator("#line-rows tr.line", has_text="VASE-S").locator(".errorlist")
        row_error.wait_for()
        assert "Not enough stock of VASE-S: 3 available, 5 asked" in row_error.inner_text()
        assert page.input_value("#id_phone") == "067 123 45 67"  # what was typed stays
        _shot(page, "refused-stock", size, "en")
        assert not Order.objects.exists() and not Identity.objects.exists()
        vase.refresh_from_db()
        assert vase.reserved == 0
    finally:
        context.close()
