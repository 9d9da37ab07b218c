"""A comment with an @mention on an order card lights the mentioned person's bell, no reload."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.customers.models import Customer
from procedo.orders.tests.factories import order_create
from procedo.testing import browser_log_in
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_mention_on_an_order_reaches_the_bell_of_the_mentioned(
    browser: Any, page: Any, live_server: Any, owner: User, make_user: Any
) -> None:
    make_user(Role.OPERATOR, username="Олена", first_name="Олена", last_name="Бойко")
    customer = Customer.objects.create(first_name="Марія", last_name="Коваль")
    order = order_create(customer=customer)

    # Олена is already at work: her page is open before the comment exists.
    other = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    olena_page = other.new_page()
    browser_log_in(olena_page, live_server, "Олена")
    assert olena_page.locator("#notification-bell .count").count() == 0
    olena_page.evaluate("window.notReloaded = true")

    browser_log_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    panel = page.locator(f"#comments-order-{order.pk}")
    # Urgent without a reason: the form says why, and nothing is posted.
    panel.locator("textarea[name=body]").fill("Терміново!")
    panel.locator("input[name=urgent]").check()
    panel.locator("button[type=submit]").click()
    page.wait_for_selector("text=An urgent comment needs its reason")
    panel = page.locator(f"#comments-order-{order.pk}")
    panel.locator("textarea[name=body]").fill(
        "@Олена, клієнтка просить відправити сьогодні.\nПеревір, будь ласка, адресу."
    )
    panel.locator("input[name=urgent_reason]").fill("кур'єр забирає о 15:00")
    panel.locator("button[type=submit]").click()
    mention = page.locator(f"#comments-order-{order.pk} .comment .mention")
    mention.wait_for()
    assert mention.inner_text() == "@Олена"
    assert page.locator(".comment .tag.bad", has_text="urgent").count() == 1
    assert page.url.endswith(f"/orders/{order.pk}/")
    page.locator(f"#comments-order-{order.pk}").scroll_into_view_if_needed()
    screenshot(page, "collab-order-comments")

    # Her bell asks the server (htmx, the same request the 30 s poll makes).
    olena_page.evaluate("htmx.trigger(document.body, 'notifications-changed')")
    olena_page.wait_for_selector("#notification-bell .count:has-text('1')")
    assert olena_page.evaluate("window.notReloaded") is True
    olena_page.click("#notification-bell")
    olena_page.wait_for_selector("h1:has-text('Notifications')")
    item = olena_page.locator(".notification.unread.urgent")
    assert "mentioned you on order #" in item.inner_text()
    screenshot(olena_page, "collab-notifications")
    item.locator("a").first.click()
    olena_page.wait_for_url(f"**/orders/{order.pk}/#comment-*")
    assert olena_page.locator("#notification-bell .count").count() == 0
    other.close()

    # The customer card carries its own thread; the order's comment is on her timeline.
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    panel = page.locator(f"#comments-customer-{customer.pk}")
    panel.locator("textarea[name=body]").fill("Постійна клієнтка, любить кераміку.")
    panel.locator("button[type=submit]").click()
    page.wait_for_selector(".comment-body:has-text('любить кераміку')")
    assert page.locator("table.timeline td", has_text="commented on").count() >= 1
    panel.scroll_into_view_if_needed()
    screenshot(page, "collab-customer-comments")
