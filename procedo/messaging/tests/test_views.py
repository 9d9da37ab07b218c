"""The message log, the template editor with its preview, the customer card section."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.customers import services as customer_services
from procedo.messaging.models import Message, Template
from procedo.messaging.services import message_queue
from procedo.testing import logged_in

pytestmark = pytest.mark.django_db


def test_the_log_filters_and_shows_the_whole_message(owner_client: Client) -> None:
    customer = customer_services.customer_create(first_name="Олена", emails=["o@example.com"])
    message_queue(
        channel="email",
        recipient="o@example.com",
        subject="Ваше замовлення відправлено",
        body="Посилка вже їде до вас.",
        idempotency_key="t:1",
        customer_id=customer.pk,
        source="sop_run:7",
    )
    message_queue(
        channel="sms",
        recipient="+380671234567",
        body="Код 1234",
        idempotency_key="t:2",
        source="manual",
    )
    page = owner_client.get("/messages/", {"channel": "email", "source": "sop_run"})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Ваше замовлення відправлено" in text and "+380671234567" not in text
    assert "Код 1234" not in owner_client.get("/messages/", {"state": "sent"}).content.decode()
    rows = owner_client.get("/messages/", {"customer": customer.pk}, headers={"HX-Request": "true"})
    assert 'id="rows"' in rows.content.decode() and "<html" not in rows.content.decode()
    message = Message.objects.get(idempotency_key="t:1")
    detail = owner_client.get(f"/messages/{message.pk}/").content.decode()
    assert "Посилка вже їде до вас." in detail and message.message_id.strip("<>") in detail
    card = owner_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "Ваше замовлення відправлено" in card


def test_the_editor_refuses_a_bad_template_and_previews_a_real_customer(
    owner_client: Client,
) -> None:
    customer = customer_services.customer_create(first_name="Тарас", emails=["t@example.com"])
    form = {
        "key": "welcome",
        "name": "Вітання",
        "channel": "email",
        "kind": "marketing",
        "subject": "Вітаємо, {{ customer.first_name }}",
        "body_text": "Привіт!\n{{ customer.frist_name }}",
        "body_html": "",
    }
    refused = owner_client.post("/messages/templates/new/", form)
    assert refused.status_code == 422 and "line 2" in refused.content.decode()
    assert not Template.objects.exists()

    form["body_text"] = "Привіт, {{ customer.first_name }}! Код: {{ discount_code }}"
    preview = owner_client.post(
        "/messages/templates/preview/",
        {**form, "preview_customer": customer.pk},
        headers={"HX-Request": "true"},
    )
    assert preview.status_code == 200
    assert "Привіт, Тарас! Код: WELCOME10" in preview.content.decode()
    assert not Template.objects.exists()  # a preview saves nothing

    saved = owner_client.post("/messages/templates/new/", form)
    assert saved.status_code == 302
    template = Template.objects.get()
    assert owner_client.get("/messages/templates/").content.decode().count("Вітання") >= 1
    assert owner_client.get(f"/messages/templates/{template.pk}/").status_code == 200


def test_who_may_do_what(make_user: Callable[..., User]) -> None:
    viewer = logged_in(make_user(Role.VIEWER))
    assert viewer.get("/messages/").status_code == 200
    assert viewer.get("/messages/templates/new/").status_code == 403
    marketer = logged_in(make_user(Role.MARKETER))
    assert marketer.get("/messages/templates/new/").status_code == 200
    assert Client().get("/messages/").status_code == 302


def test_the_api_lists_messages_and_refuses_a_bad_template(owner_client: Client) -> None:
    message_queue(
        channel="email",
        recipient="o@example.com",
        subject="Привіт",
        body="Текст",
        idempotency_key="t:1",
    )
    listed = owner_client.get("/api/messages", {"state": "queued"}).json()
    assert [m["subject"] for m in listed["items"]] == ["Привіт"]
    one = owner_client.get(f"/api/messages/{listed['items'][0]['id']}").json()
    assert one["body"] == "Текст" and one["message_id"].startswith("<")
    bad = owner_client.post(
        "/api/messages/templates",
        {"key": "x", "name": "X", "subject": "S", "body_text": "a\n{{ nope }}"},
        content_type="application/json",
    )
    assert bad.status_code == 422 and bad.json()["field"] == "body_text"
    assert bad.json()["detail"].startswith("line 2:")
    good = owner_client.post(
        "/api/messages/templates",
        {"key": "x", "name": "X", "subject": "S", "body_text": "{{ customer.first_name }}"},
        content_type="application/json",
    )
    assert good.status_code == 201 and good.json()["key"] == "x"


def test_the_log_filters_by_sop_and_campaign(owner_client: Client) -> None:
    from procedo.automation.models import Run
    from procedo.automation.tests.helpers import event_trigger, sop_live, task_step

    sop, revision = sop_live(
        definition={"triggers": [event_trigger()], "steps": [task_step()]}, name="Після покупки"
    )
    run = Run.objects.create(
        sop=sop,
        revision=revision,
        subject_type="order",
        subject_id=1,
        occurrence_key="e1",
        trigger_kind="event",
        state="running",
    )
    for key, source, subject in (
        ("a", f"sop_run:{run.pk}", "Дякуємо за покупку"),
        ("b", f"sop_run:{run.pk + 1}", "Інший SOP"),
        ("c", "campaign:42", "Весняний розпродаж"),
        ("d", "campaign:420", "Інша кампанія"),
    ):
        message_queue(
            channel="email",
            recipient="o@example.com",
            subject=subject,
            body="…",
            idempotency_key=key,
            source=source,
        )
    by_sop = owner_client.get("/messages/", {"sop": sop.pk}).content.decode()
    assert "Дякуємо за покупку" in by_sop and "Інший SOP" not in by_sop
    assert "Весняний розпродаж" not in by_sop and "Після покупки" in by_sop  # the select
    by_campaign = owner_client.get("/messages/", {"campaign": "42"}).content.decode()
    assert "Весняний розпродаж" in by_campaign and "Інша кампанія" not in by_campaign
