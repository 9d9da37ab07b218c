"""A reader opens an SOP with an email step, reads the email as a real customer would get it,
switches to another customer, and sends themselves a test that reaches the SMTP server; on a
laptop and a phone, in English and in Ukrainian."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.accounts.roles import Role
from procedo.automation.tests.helpers import customer, event_trigger, order, sop_live
from procedo.business.services import business_update
from procedo.messaging.services.sending import messages_send_due
from procedo.testing import SmtpServer, browser_log_in, person
from tests.browser.conftest import SCREENSHOTS, htmx_settled, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

THANKS = {
    "kind": "email",
    "key": "thanks",
    "title": "Thank the customer",
    "subject": "Замовлення {{ order.number }} прийнято",
    "body": (
        "Дякуємо, {{ customer.first_name }}!\n\n"
        "Ваше замовлення {{ order.number }} на {{ order.total }} вже пакуємо.\n"
        "{% for item in order.items %}— {{ item.name }} × {{ item.quantity }}\n{% endfor %}\n"
        "З повагою, {{ business.name }}"
    ),
}


def test_a_reader_sees_the_email_for_a_real_customer_and_sends_a_test(
    browser: Any, live_server: Any, smtp: SmtpServer, quiet: None
) -> None:
    business_update(
        name="Крамниця Олени", time_zone="Europe/Kyiv", currency="UAH", language="uk", actor_id=None
    )
    reader = person(Role.OPERATOR, username="iryna", first_name="Ірина", email="iryna@example.com")
    sop, revision = sop_live(
        name="Confirm new orders",
        definition={
            "triggers": [event_trigger(), {"kind": "manual", "key": "by_hand"}],
            "steps": [THANKS],
        },
    )
    olena = customer(first_name="Олена", last_name="Коваль", email="olena@example.com")
    taras = customer(first_name="Тарас", last_name="Шевчук", email="taras@example.com")
    older = order(customer_id=olena.pk, total="540.00")
    newest = order(customer_id=taras.pk, total="1250.00")

    tests_sent = 0
    for language, locale in (("en", "en-GB"), ("uk", "uk-UA")):
        for size, (width, height) in (("desktop", (1280, 900)), ("phone", (390, 844))):
            context = browser.new_context(
                viewport={"width": width, "height": height}, locale=locale
            )
            page = context.new_page()
            browser_log_in(page, live_server, reader.username)
            page.goto(f"{live_server.url}/sops/{sop.pk}/#messages")
            preview = page.locator("#messages")
            body = preview.locator(".mail-body").inner_text()
            assert body.startswith("Дякуємо, Тарас!")
            assert f"Ваше замовлення {newest.number}" in body
            assert "{{" not in preview.inner_text() and "thanks" not in preview.inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            screenshot(page, f"sop-messages-{size}-{language}")

            # Another customer, chosen from the list, without leaving the page.
            page.select_option("#messages select[name=sample]", str(older.pk))
            page.wait_for_function(
                "() => document.querySelector('#messages .mail-body')"
                ".innerText.startsWith('Дякуємо, Олена!')"
            )
            htmx_settled(page)
            page.locator("#messages button.send-test").first.click()
            page.locator("#messages [role=status]").wait_for()
            assert "iryna@example.com" in page.locator("#messages [role=status]").inner_text()
            tests_sent += 1
            screenshot(page, f"sop-messages-tested-{size}-{language}")
            preview.screenshot(path=str(SCREENSHOTS / f"sop-messages-card-{size}-{language}.png"))
            # The revision's own page shows the same messages under its steps.
            page.goto(f"{live_server.url}/sops/revisions/{revision.pk}/")
            assert page.locator("#messages .mail-body").inner_text().startswith("Дякуємо, Тарас!")
            screenshot(page, f"sop-revision-messages-{size}-{language}")
            context.close()

    assert messages_send_due().sent == tests_sent
    received = smtp.recorder.received
    assert len(received) == tests_sent
    mail = received[0]
    assert mail["To"] == "iryna@example.com"
    assert mail["Subject"].strip() == f"[Test] Замовлення {older.number} прийнято"
    assert str(mail.get_content()).startswith("Дякуємо, Олена!")
    # The page's chrome follows the reader; the marker follows them too.
    assert received[-1]["Subject"].strip() == f"[Тест] Замовлення {older.number} прийнято"
