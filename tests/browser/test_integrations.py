"""A manager connects a Shopify store, pastes its address, and follows its deliveries: one
applied, one waiting for its payment (replayed by hand, then applied by itself), one forged
and rejected, after a test Procedo sent itself; at desktop size in English and at phone
size in Ukrainian."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest

from procedo.accounts.roles import Role
from procedo.integrations.models import Connection
from procedo.integrations.signatures import shopify_sign
from procedo.integrations.tests.helpers import body_of, resource
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.testing import PASSWORD
from tests.browser.conftest import htmx_settled, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "shpss_browser_secret_7788"
SIZES = [
    ("desktop", {"width": 1280, "height": 800}, "en"),
    ("phone", {"width": 390, "height": 844}, "uk"),
]
OVERFLOWING = """() => [...document.querySelectorAll(
    'main button, main a.button, main th, main .tag, main label, main code')]
   .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
   .map(e => e.tagName + ': ' + e.innerText.trim())"""


def _post(url: str, topic: str, body: bytes, webhook_id: str, secret: str = SECRET) -> int:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": shopify_sign(secret, body),
            "X-Shopify-Webhook-Id": webhook_id,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def _shot(page: Any, name: str) -> None:
    assert page.evaluate(OVERFLOWING) == [], name
    screenshot(page, f"integrations-{name}")


def test_a_manager_connects_a_store_and_follows_its_deliveries(
    browser: Any, live_server: Any, make_user: Any
) -> None:
    order_pipeline_defaults_install()  # a transactional test starts from nothing
    make_user(Role.MANAGER, username="iryna", first_name="Ірина")
    order = resource("shopify/order.json", "order")
    for run, (size, viewport, language) in enumerate(SIZES):
        context = browser.new_context(viewport=viewport, locale="en-GB")
        if language == "uk":
            context.add_cookies(
                [{"name": "django_language", "value": "uk", "url": live_server.url}]
            )
        page = context.new_page()
        try:
            page.goto(f"{live_server.url}/")
            page.fill("#id_username", "iryna")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector(f"html[lang='{language}']")
            page.goto(f"{live_server.url}/integrations/")
            page.select_option("#id_platform", "shopify")
            page.fill("#id_name", f"Gadget shop {run + 1}")
            page.fill("#id_account", "gadgets.myshopify.com")
            page.fill("#id_secret", SECRET)
            _shot(page, f"new-{size}-{language}")
            page.click("main form button[type=submit]")
            page.wait_for_selector("#hook-url")
            address = page.input_value("#hook-url")
            connection = Connection.objects.get(name=f"Gadget shop {run + 1}")
            assert address == f"{live_server.url}/hooks/shopify/{connection.key}/"
            assert SECRET[:-4] not in page.content()
            # Send a test: Procedo posts a signed sample to this very address, over HTTP.
            page.click("#test-card button")
            page.wait_for_selector("#test-result")
            htmx_settled(page)
            verified = {"en": "Received and verified", "uk": "Отримано й перевірено"}[language]
            assert verified in page.inner_text("#test-result")
            _shot(page, f"tested-{size}-{language}")

            refund = body_of(resource("shopify/refund.json", "refund"))
            assert _post(address, "orders/create", body_of(order), f"{run}-a") == 202
            assert _post(address, "refunds/create", refund, f"{run}-b") == 202
            assert _post(address, "orders/create", body_of(order), f"{run}-c", "forged") == 401
            page.reload()
            failed = page.locator("#deliveries tr", has=page.locator(".tag.bad"))
            assert failed.count() == 1
            _shot(page, f"deliveries-{size}-{language}")

            failed.locator("button").click()  # its payment has not come: it fails again
            page.wait_for_selector("#deliveries")
            assert page.locator("#deliveries .tag.bad").count() == 1
            paid = body_of({**order, "financial_status": "paid"})
            assert _post(address, "orders/paid", paid, f"{run}-d") == 202
            page.reload()
            assert page.locator("#deliveries .tag.bad").count() == 0
            assert page.locator("#deliveries .tag.ok").count() == 3
            _shot(page, f"applied-{size}-{language}")
            page.goto(f"{live_server.url}/integrations/")
            _shot(page, f"list-{size}-{language}")
        finally:
            context.close()
