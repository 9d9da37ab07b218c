"""A manager makes a webhook, copies its secret, sends a test event that a real server on
loopback receives, pauses the webhook; the same page on a phone, in Ukrainian."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from procedo.accounts.roles import Role
from procedo.outbound.models import Delivery
from procedo.outbound.signing import signature_header
from procedo.outbound.tests.receiver import Receiver, receiver_start
from procedo.testing import PASSWORD, browser_log_in
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How far the page scrolls sideways (0: it fits the screen).
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setattr(settings, "PROCEDO_WEBHOOKS_ALLOW_PRIVATE", True, raising=False)
    found, stop = receiver_start()
    yield found
    stop()


def test_a_manager_makes_a_webhook_tests_it_and_pauses_it(
    page: Any, browser: Any, live_server: Any, make_user: Any, receiver: Receiver
) -> None:
    make_user(Role.MANAGER, username="taras", first_name="Тарас")
    browser_log_in(page, live_server, "taras")
    page.locator(".sidenav a:has-text('Webhooks')").click()
    page.wait_for_selector("h1:has-text('Webhooks')")
    page.click("text=New webhook")
    page.fill("#id_name", "Warehouse")
    page.fill("#id_url", "gopher://nowhere")
    page.check("label:has-text('Order placed') input")
    page.check("label:has-text('Order paid in full') input")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=The address must start with https:// or http://.")
    page.fill("#id_url", receiver.url)
    page.click("button:has-text('Save')")
    secret = page.locator("#webhook-secret").inner_text()
    assert secret.startswith("whsec_")
    screenshot(page, "webhook-created")

    page.click("text=I have copied it")
    page.wait_for_selector("h1:has-text('Warehouse')")
    assert secret not in page.content()
    page.click("button:has-text('Send a test event')")
    page.wait_for_selector("tbody tr .tag:has-text('delivered')")
    row = page.locator("tbody tr").first.inner_text()
    assert "Test event" in row and "200" in row
    [request] = receiver.received
    body = json.loads(request.body)
    assert body["type"] == "webhook.test"
    timestamp = request.headers["Procedo-Signature"].split(",")[0].removeprefix("t=")
    expected = signature_header(request.body, timestamp=int(timestamp), secret=secret)
    assert request.headers["Procedo-Signature"] == expected
    assert request.headers["Procedo-Delivery-Id"] == str(Delivery.objects.get().uid)

    page.fill("#id_reason", "Moving the warehouse server")
    page.click("button:has-text('Pause')")
    page.wait_for_selector(".tag:has-text('paused')")
    assert page.locator("text=Moving the warehouse server").count() == 1
    assert page.locator("button:has-text('Resume')").count() == 1
    screenshot(page, "webhook-detail")

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, locale="uk-UA"
    )
    try:
        mobile = phone.new_page()
        phone.add_cookies([{"name": "django_language", "value": "uk", "url": live_server.url}])
        mobile.goto(f"{live_server.url}/accounts/login/")
        mobile.fill("#id_username", "taras")
        mobile.fill("#id_password", PASSWORD)
        mobile.click("button[type=submit]")
        mobile.wait_for_selector(".topbar")  # on a phone the navigation folds away
        mobile.goto(page.url)
        mobile.wait_for_selector("h1:has-text('Warehouse')")
        assert mobile.locator("button:has-text('Відновити')").count() == 1
        assert mobile.locator("text=Доставки").count() >= 1
        assert mobile.evaluate(OVERFLOW) <= 0
        screenshot(mobile, "webhook-detail-phone-uk")
        mobile.goto(f"{live_server.url}/webhooks/new/")
        assert mobile.evaluate(OVERFLOW) <= 0
        screenshot(mobile, "webhook-new-phone-uk")
    finally:
        phone.close()
