"""The analytics page in a browser: a store owner picks a period and reads the numbers, on a
desktop and on a phone, in English and in Ukrainian."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from procedo.accounts.models import User
from procedo.business.services import business_update
from procedo.catalog.tests.factories import sku_create
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.orders.tests.factories import customer_create, order_create
from procedo.testing import PASSWORD
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _store() -> None:
    order_pipeline_defaults_install()
    business_update(name="Чайна лавка", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)
    sku = sku_create(price="420.00", on_hand=1000)
    now = timezone.now()
    # Thirty customers over half a year, a third of them back a month after their first order.
    for n in range(30):
        customer = customer_create(f"Клієнт {n}")
        first = now - timedelta(days=20 + 6 * n)
        order_create((sku, 1 + n % 3), customer=customer, placed_at=first, status="delivered")
        if n % 3 == 0:
            order_create(
                (sku, 1),
                customer=customer,
                placed_at=first + timedelta(days=30),
                status="delivered",
            )


def _login(page: Any, live_server: Any) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1")


@pytest.mark.parametrize(("width", "height", "size"), [(1280, 800, "desktop"), (390, 844, "phone")])
def test_the_owner_reads_a_years_numbers_and_cohorts(
    browser: Any, live_server: Any, owner: User, width: int, height: int, size: str
) -> None:
    _store()
    for language in ("en-GB", "uk-UA"):
        context = browser.new_context(viewport={"width": width, "height": height}, locale=language)
        page = context.new_page()
        _login(page, live_server)
        page.goto(f"{live_server.url}/analytics/")
        page.select_option("#id_days", "365")
        page.click("form.filter-bar button[type=submit]")
        page.wait_for_selector("table.cohorts")
        revenue = page.locator(
            ".kpi", has=page.locator("h2", has_text="Revenue" if language == "en-GB" else "Виручка")
        )
        assert "₴" in revenue.locator(".value").inner_text()
        assert page.locator("table.cohorts tbody tr").count() >= 6
        screenshot(page, f"analytics-{size}-{language[:2]}")
        # Nothing wider than the screen: the cohort table scrolls inside its box.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        context.close()


@pytest.mark.parametrize(("width", "height", "size"), [(1280, 800, "desktop"), (390, 844, "phone")])
def test_the_morning_page_shows_sales_a_chart_and_what_waits(
    browser: Any, live_server: Any, owner: User, width: int, height: int, size: str
) -> None:
    _store()
    order_create((sku_create(price="99.00", on_hand=5), 1))  # placed now: waits as "New"
    context = browser.new_context(viewport={"width": width, "height": height}, locale="uk-UA")
    page = context.new_page()
    _login(page, live_server)
    page.wait_for_selector("svg.chart")
    assert page.locator("table.sales thead th").nth(1).text_content() == "Сьогодні"
    assert "₴" in page.locator("table.sales tbody td").first.inner_text()
    assert page.locator("svg.chart rect.bar").count() == 30
    screenshot(page, f"morning-{size}-uk")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # Every figure in sight, none behind a scroll: on a phone each under its period's name.
    box = page.locator("table.sales").locator("xpath=..")
    assert box.evaluate("box => box.scrollWidth <= box.clientWidth")
    period = page.locator("table.sales tbody td").first.evaluate(
        "cell => getComputedStyle(cell, '::before').content"
    )
    assert ("Сьогодні" in period) == (size == "phone"), period
    # The value axis's labels are drawn inside the chart, none cut at its left edge.
    assert page.locator("svg.chart text.axis").evaluate_all(
        "labels => labels.every(label => label.getBBox().x >= 0)"
    )
    context.close()


@pytest.mark.parametrize(("width", "height", "size"), [(1280, 800, "desktop"), (390, 844, "phone")])
def test_the_owner_sets_a_goal_and_reads_it_month_by_month(
    browser: Any, live_server: Any, owner: User, width: int, height: int, size: str
) -> None:
    _store()
    context = browser.new_context(viewport={"width": width, "height": height}, locale="uk-UA")
    page = context.new_page()
    _login(page, live_server)
    page.goto(f"{live_server.url}/analytics/goals/")
    page.fill("#id_name", "Більше клієнтів повертаються")
    page.select_option("#id_kpi", "repeat_purchase_rate")
    page.fill("#id_kpi_window_days", "60")
    page.fill("#id_target", "150")
    page.fill("#id_deadline", str(timezone.localdate() + timedelta(days=120)))
    page.click("form.stacked button[type=submit]")
    # A rate above 100 % is refused next to its field, and nothing is set.
    page.wait_for_selector("text=це відсоток")
    screenshot(page, f"goal-refused-{size}-uk")
    page.fill("#id_target", "35")
    page.click("form.stacked button[type=submit]")
    page.wait_for_selector("svg.chart line.reference", state="attached")
    assert "Більше клієнтів повертаються" in page.locator("h1").inner_text()
    screenshot(page, f"goal-{size}-uk")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.goto(f"{live_server.url}/analytics/goals/")
    screenshot(page, f"goals-{size}-uk")
    context.close()


@pytest.mark.parametrize(("width", "height", "size"), [(1280, 800, "desktop"), (390, 844, "phone")])
def test_the_owner_reads_a_kpi_over_days_they_pick_and_downloads_it(
    browser: Any, live_server: Any, owner: User, width: int, height: int, size: str
) -> None:
    _store()
    today = timezone.localdate()
    first, last = today - timedelta(days=59), today - timedelta(days=10)
    for language in ("en-GB", "uk-UA"):
        context = browser.new_context(viewport={"width": width, "height": height}, locale=language)
        page = context.new_page()
        _login(page, live_server)
        # From the morning page's figure to the KPI's own page.
        page.click("table.sales tbody tr:first-child td:nth-child(4) a")
        page.wait_for_selector("svg.chart")
        page.select_option("#id_days", "custom")
        page.fill("#id_first", str(first))
        page.fill("#id_last", str(last))
        page.select_option("#id_compare", "year")
        page.click("form.filter-bar button[type=submit]")
        page.wait_for_selector("svg.chart polyline.compare", state="attached")
        assert page.locator("svg.chart rect.bar").count() == 50
        assert "₴" in page.locator(".headline .value").first.inner_text()
        screenshot(page, f"kpi-revenue-{size}-{language[:2]}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        with page.expect_download() as caught:
            page.click("a[download]")
        lines = Path(caught.value.path()).read_text(encoding="utf-8-sig").splitlines()
        assert len(lines) == 51 and lines[1].startswith(str(first))
        # Days that end before they start: refused on the field, nothing drawn.
        page.fill("#id_first", str(last))
        page.fill("#id_last", str(first))
        page.click("form.filter-bar button[type=submit]")
        page.wait_for_selector(".errorlist")
        assert page.locator("svg.chart").count() == 0
        context.close()
