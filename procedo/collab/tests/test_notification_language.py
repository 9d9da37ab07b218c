"""What the system writes for people is read in each reader's language, whoever caused it:
a sweep in the worker (English), a manager clicking in English, a picker reading in Ukrainian."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext_noop

from procedo.accounts.models import User
from procedo.collab import services
from procedo.collab.models import Notification
from procedo.core.texts import LaterText, later_plural, later_text_read
from procedo.messaging.models import Message
from procedo.testing import api_caller, logged_in

pytestmark = pytest.mark.django_db


def test_one_notification_reads_in_each_readers_language(olena: User, taras: User) -> None:
    olena.language = "uk"
    olena.save(update_fields=["language"])
    with translation.override("en"):  # written where English is active, as the worker is
        services.notify(
            recipient_ids=[olena.pk, taras.pk],
            kind="overdue",
            title=LaterText(gettext_noop("Overdue: %(title)s"), {"title": "Пакування 1042"}),
            key="overdue:test",
        )
    row = Notification.objects.get(recipient=olena)
    assert row.title == "Overdue: Пакування 1042"  # as written, for search and old readers
    with translation.override("uk"):
        assert row.title_display == "Прострочено: Пакування 1042"

    # The bell's page and the API follow the reader; each email its recipient's language.
    page = logged_in(olena).get("/notifications/").content.decode()
    assert "Прострочено: Пакування 1042" in page
    listed = api_caller(taras)("get", "/notifications", HTTP_ACCEPT_LANGUAGE="en")
    assert listed.json()["items"][0]["title"] == "Overdue: Пакування 1042"
    subjects = dict(Message.objects.values_list("recipient", "subject"))
    assert subjects == {
        "olena@example.com": "Прострочено: Пакування 1042",
        "taras@example.com": "Overdue: Пакування 1042",
    }


def test_a_counted_sentence_keeps_its_count_and_reads_in_every_plural_form() -> None:
    text = later_plural(
        "%(count)s task in your queue is overdue",
        "%(count)s tasks in your queue are overdue",
        params={"count": 5},
    )
    stored = later_text_read(text.stored())
    assert stored == text
    forms = {n: later_plural(text.msgid, text.plural, params={"count": n}) for n in (1, 3, 5)}
    assert {n: t.render_in("uk") for n, t in forms.items()} == {
        1: "1 завдання у вашій черзі прострочене",
        3: "3 завдання у вашій черзі прострочені",
        5: "5 завдань у вашій черзі прострочені",
    }
    assert forms[1].render_in("en") == "1 task in your queue is overdue"


def test_a_row_written_as_plain_text_reads_as_written(olena: User) -> None:
    services.notify(recipient_ids=[olena.pk], kind="mention", title="Привіт", key="plain")
    row = Notification.objects.get(recipient=olena)
    assert (row.title_text, row.title_display) == (None, "Привіт")
    page = Client()
    assert page.get("/notifications/").status_code == 302  # and nobody else reads it
