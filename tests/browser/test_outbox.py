"""Out of the box email lands in the demo outbox, and the Messages pages say so, at both sizes."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.accounts.roles import Role
from procedo.messaging.services.queueing import message_queue
from procedo.messaging.services.sending import messages_send_due
from procedo.testing import PASSWORD
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORDERS = [
    ("olena.koval@example.com", "Замовлення 10137 прийнято", "Дякуємо! Ми вже пакуємо."),
    ("taras.shevchuk@example.com", "Замовлення 10138 відправлено", "ТТН 20450000012345."),
    ("iryna@example.com", "Як вам покупка?", "Оцініть замовлення 10121 одним кліком."),
]


def _log_in(page: Any, url: str) -> None:
    page.goto(f"{url}/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_the_messages_page_shows_mail_delivered_to_the_demo_outbox(
    browser: Any, page: Any, live_server: Any, make_user: Any
) -> None:
    make_user(Role.OWNER, username="owner", first_name="Оксана", last_name="Литвиненко")
    for n, (to, subject, body) in enumerate(ORDERS):
        message_queue(
            channel="email",
            recipient=to,
            subject=subject,
            body=body,
            body_html=f"<p>{body}</p>",
            idempotency_key=f"browser:{n}",
        )
    assert messages_send_due().sent == len(ORDERS)

    _log_in(page, live_server.url)
    page.click(".sidenav a:has-text('Messages')")
    page.wait_for_selector("h1:has-text('Messages')")
    assert "Email goes to the demo outbox." in page.locator("#outbox-note").inner_text()
    assert page.locator("#rows .tag:has-text('Delivered to the demo outbox')").count() == 3
    screenshot(page, "messages-outbox")

    page.click("#rows tbody tr:first-child a")
    page.wait_for_selector("#outbox-copy")
    copy = page.locator("#outbox-copy").inner_text()
    assert "Як вам покупка?" in copy and "iryna@example.com" in copy
    screenshot(page, "message-outbox")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    try:
        small = phone.new_page()
        _log_in(small, live_server.url)
        small.goto(f"{live_server.url}/messages/")
        small.wait_for_selector("#outbox-note")
        screenshot(small, "messages-outbox-phone")
        small.click("#rows tbody tr:first-child a")
        small.wait_for_selector("#outbox-copy")
        screenshot(small, "message-outbox-phone")
    finally:
        phone.close()
