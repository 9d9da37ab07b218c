"""Loyalty in a browser, in Ukrainian: a manager sets the tiers, counts a referral a customer
named (their own code is refused beside the field), reads the referral numbers and a
customer's card with tier and progress toward two referrals a year; desktop and phone."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.accounts.models import User
from procedo.business.services import business_update
from procedo.catalog.tests.factories import sku_create
from procedo.loyalty.services.membership import membership_enter
from procedo.loyalty.services.programme import program_update
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.orders.tests.factories import customer_create, order_create
from procedo.testing import PASSWORD
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page: Any, live_server: Any) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1")


def test_tiers_a_referral_and_the_customer_card_on_desktop_and_phone(
    browser: Any, live_server: Any, owner: User
) -> None:
    order_pipeline_defaults_install()
    business_update(name="Чайна лавка", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)
    program_update(
        actor=None,
        friend_reward_kind="percent",
        friend_reward_value="10",
        referrer_reward_kind="credit",
        referrer_reward_value="200",
        link_base="https://chaina-lavka.example/",
        membership_name="Клуб чаю",
        membership_benefits="Подарунок до дня народження",
    )
    anna, bohdan = customer_create("Анна", last_name="Коваленко"), customer_create("Богдан")
    order_create((sku_create(price="3200.00", on_hand=10), 1), customer=anna, status="delivered")
    membership_enter(customer_id=anna.pk)
    code = anna.referral_codes.get().code
    own = order_create(customer=anna)
    friends = order_create(customer=bohdan)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="uk-UA")
    page = context.new_page()
    _login(page, live_server)
    page.goto(f"{live_server.url}/loyalty/")
    page.fill("#id_tiers-0-code", "silver")
    page.fill("#id_tiers-0-name", "Срібний")
    page.fill("#id_tiers-0-min_spend", "1000")
    page.fill("#id_tiers-0-benefits", "Безкоштовна доставка")
    page.fill("#id_tiers-1-code", "gold")
    page.fill("#id_tiers-1-name", "Золотий")
    page.fill("#id_tiers-1-min_spend", "1000")
    page.click("#tiers-edit button[type=submit]")
    # Two tiers from the same spend: refused beside the second one's threshold, nothing saved.
    page.wait_for_selector("text=починається з тієї ж суми покупок")
    page.fill("#id_tiers-1-min_spend", "20000")
    page.click("#tiers-edit button[type=submit]")
    page.wait_for_selector("text=Рівні збережено")
    assert page.locator("table tbody tr").count() == 2
    screenshot(page, "loyalty-program-desktop-uk")

    page.goto(f"{live_server.url}/loyalty/referrals/")
    page.fill("#id_order", own.number)
    page.fill("#id_code", code.lower())
    page.click("#attribute button[type=submit]")
    page.wait_for_selector("text=Це власний код рекомендації клієнта")
    page.fill("#id_order", friends.number)
    page.fill("#id_code", code.lower())
    page.click("#attribute button[type=submit]")
    page.wait_for_selector("text=Замовлення зараховано як рекомендацію")
    assert page.locator("#referred .value").inner_text() == "1"
    assert page.locator("#again-share .value").inner_text() == "0,0%"  # the reader's decimal mark
    screenshot(page, "loyalty-referrals-desktop-uk")

    page.goto(f"{live_server.url}/customers/{anna.pk}/")
    section = page.locator(".loyalty-card")
    assert "Срібний" in section.inner_text()
    assert "1 із 2 рекомендацій цього року" in section.inner_text()
    assert code in section.inner_text()
    screenshot(page, "loyalty-customer-desktop-uk")
    context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="uk-UA")
    page = phone.new_page()
    _login(page, live_server)
    for name, path in (
        ("referrals", "/loyalty/referrals/"),
        ("customer", f"/customers/{anna.pk}/"),
        ("program", "/loyalty/"),
    ):
        page.goto(f"{live_server.url}{path}")
        screenshot(page, f"loyalty-{name}-phone-uk")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
    phone.close()
