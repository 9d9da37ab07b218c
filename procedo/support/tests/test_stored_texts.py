"""A Telegram message without text (a photo, a sticker) is put in the inbox as the system's
words, kept as their English original and read in each reader's language; an entry written
before, and a customer's own text, read as written."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.utils import translation

from procedo.support import telegram
from procedo.support.models import Entry
from procedo.support.tests.helpers import update

pytestmark = pytest.mark.django_db


def test_a_message_without_text_reads_in_ukrainian_and_an_old_one_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "PROCEDO_TELEGRAM", {"webhook_secret": "s"})
    photo = update(21, 777, "")
    del photo["message"]["text"]
    photo["message"]["photo"] = [{"file_id": "x", "width": 90, "height": 90}]
    without = telegram.update_receive(secret="s", body=json.dumps(photo).encode())
    words = telegram.update_receive(secret="s", body=json.dumps(update(22, 777, "Ось")).encode())
    assert without is not None and words is not None
    assert without.body == "(a message without text)"
    with translation.override("uk"):
        assert without.body_display == "(повідомлення без тексту)"
        assert words.body_display == "Ось"
    Entry.objects.filter(pk=without.pk).update(body_text=None)  # an entry from before
    without.refresh_from_db()
    with translation.override("uk"):
        assert without.body_display == "(a message without text)"
