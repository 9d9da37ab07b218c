"""The support desk in a real browser: an email and a Telegram message arrive in the inbox,
the Telegram one is answered, the email becomes a ticket that is solved, and the customer's
survey link (no login, on a phone) records a rating."""

from __future__ import annotations

import json
import re
import smtplib
import urllib.request
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings

from procedo.accounts.roles import Role
from procedo.events.models import Event
from procedo.knowledge.services import article_create
from procedo.messaging.models import Message
from procedo.support.models import Conversation, Ticket
from procedo.support.smtp import InboxHandler
from procedo.support.tests.helpers import BOT_TOKEN, SECRET, bot_api, update
from procedo.testing import browser_log_in, free_port
from tests.browser.conftest import htmx_settled, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
BROKEN_HANDLE = "Надішлемо нову ручку завтра, безкоштовно; стару можна не повертати."


def test_inbox_ticket_and_survey(
    page: Any, browser: Any, live_server: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(Role.SUPPORT, username="iryna", first_name="Ірина", last_name="Бондар")
    port = free_port()
    controller = Controller(InboxHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with bot_api() as (api, url):
            monkeypatch.setattr(
                settings,
                "PROCEDO_TELEGRAM",
                {"token": BOT_TOKEN, "webhook_secret": SECRET, "api_url": url},
            )
            mail = EmailMessage()
            mail["From"], mail["To"] = "Олена <olena@example.com>", "support@shop.test"
            mail["Subject"] = "Зламана ручка чайника"
            mail.set_content("Доброго дня! Чайник прийшов зі зламаною ручкою.")
            with smtplib.SMTP("127.0.0.1", port) as client:
                client.send_message(mail)
            request = urllib.request.Request(
                f"{live_server.url}/support/hooks/telegram/",
                data=json.dumps(update(7001, 4242, "Коли відправите замовлення 1042?")).encode(),
                headers={
                    "Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": SECRET,
                },
                method="POST",
            )
            with urllib.request.urlopen(request) as answered:
                assert answered.status == 204
            email_c = Conversation.objects.get(channel="email")
            telegram_c = Conversation.objects.get(channel="telegram")
            article_create(
                kind="solution",
                language="uk",
                title="Зламана ручка чайника",
                body=BROKEN_HANDLE,
                status="published",
                actor=None,
            )

            browser_log_in(page, live_server, "iryna")
            page.click(".sidenav a:has-text('Inbox')")
            page.select_option("#id_view", "all")
            page.click("form.filter-bar button")
            page.wait_for_selector(f"#conversation-{telegram_c.pk}")
            assert page.locator(f"#conversation-{email_c.pk}").count() == 1
            screenshot(page, "support-inbox")

            page.click(f"#conversation-{telegram_c.pk} a")
            page.fill("#id_body", "Сьогодні ввечері, ось номер ТТН: 20450000000000.")
            page.click("button:has-text('Send by Telegram')")
            page.wait_for_selector(".msg.success")
            assert api.sent() == [
                {"chat_id": 4242, "text": "Сьогодні ввечері, ось номер ТТН: 20450000000000."}
            ]
            screenshot(page, "support-telegram-reply")

            page.goto(f"{live_server.url}/support/{email_c.pk}/")
            page.select_option("#id_priority", "high")
            page.click("button:has-text('Open ticket')")
            page.wait_for_selector("#ticket")
            # The answer comes from the knowledge base: found, put into the reply, edited.
            page.fill("#id_body", "Олено, вибачте нам.")
            page.fill(f"#kb-conversation-{email_c.pk}-q", "ручка")
            page.click(f"#kb-conversation-{email_c.pk}-results .kb-use")
            htmx_settled(page)
            assert page.input_value("#id_body") == f"Олено, вибачте нам.\n\n{BROKEN_HANDLE}"
            screenshot(page, "support-quick-reply")
            page.click("button:has-text('Send by Email')")
            page.wait_for_selector(".msg.success")
            page.select_option("#id_status", "solved")
            page.click("#id_status ~ button")
            page.wait_for_selector("#conversation-status:has-text('Solved')")
            screenshot(page, "support-ticket-solved")
            page.set_viewport_size(PHONE)
            screenshot(page, "support-ticket-phone")

        survey_mail = Message.objects.filter(recipient="olena@example.com").latest("id")
        found = re.search(r"https?://\S+?(/support/survey/\S+/)", survey_mail.body)
        assert found is not None
        customer = browser.new_context(viewport=PHONE, locale="uk-UA")
        phone = customer.new_page()
        phone.goto(f"{live_server.url}{found[1]}")
        phone.wait_for_selector("h1:has-text('Як ми впоралися?')")
        phone.check("input[name='rating'][value='5']")
        phone.fill("#id_comment", "Дуже швидко, дякую!")
        screenshot(phone, "support-survey-phone")
        phone.click("button[type=submit]")
        phone.wait_for_selector("#survey-thanks")
        phone.goto(f"{live_server.url}{found[1]}")
        phone.wait_for_selector("#survey-done")  # once only
        customer.close()
        ticket = Ticket.objects.get(conversation=email_c)
        assert (ticket.csat_rating, ticket.csat_comment) == (5, "Дуже швидко, дякую!")
        assert email_c.entries.filter(kind="reply", body__endswith=BROKEN_HANDLE).exists()
        used = Event.objects.get(event_type="article.used_in_reply")
        assert used.payload["from"] == "conversation" and used.payload["from_id"] == email_c.pk

        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(f"{live_server.url}/support/standards/")
        page.wait_for_selector("#csat-summary:has-text('5.0')")
        screenshot(page, "support-standards")
        page.set_viewport_size(PHONE)
        page.goto(f"{live_server.url}/support/?view=all&status=solved")
        screenshot(page, "support-inbox-phone")
    finally:
        controller.stop()
