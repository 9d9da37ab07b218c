"""The message log, the template editor with its preview, the customer card section."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.customers.services.customers import customer_create
from procedo.events.models import Event
from procedo.messaging.models import Message, Template
from procedo.messaging.services.queueing import message_queue
from procedo.testing import logged_in

pytestmark = pytest.mark.django_db


def test_the_log_filters_and_shows_the_whole_message(owner_client: Client) -> None:
    customer = customer_create(first_name="Олена", emails=["o@example.com"])
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
    customer = customer_create(first_name="Тарас", emails=["t@example.com"])
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


def _unknown(key: str, channel: str = "sms") -> Message:
    """A message whose outcome was lost: what the sender leaves for a person."""
    recipient = "+380671234567" if channel == "sms" else "o@example.com"
    message = message_queue(
        channel=channel,
        recipient=recipient,
        body="Ваше замовлення вже в дорозі",
        idempotency_key=key,
        kind="marketing" if channel == "email" else "transactional",
    )
    Message.objects.filter(pk=message.pk).update(
        state="unknown", attempts=1, answer="timeout: timed out"
    )
    return message


def test_the_page_of_an_unknown_sms_offers_a_decision_and_records_it(
    make_user: Callable[..., User],
) -> None:
    checked, again = _unknown("u:1"), _unknown("u:2")
    _unknown("u:3", channel="email")
    message_queue(channel="sms", recipient="+380671234568", body="…", idempotency_key="q")
    viewer, marketer = make_user(Role.VIEWER), make_user(Role.MARKETER)

    listed = logged_in(viewer).get("/messages/").content.decode()
    assert 'id="needs-decision"' in listed and "3 need a decision" in listed
    only = logged_in(viewer).get("/messages/", {"decision": "on"}).content.decode()
    assert "+380671234567" in only and "+380671234568" not in only
    page = logged_in(viewer).get(f"/messages/{checked.pk}/").content.decode()
    assert "never sends it again by itself" in page and "/mark-sent/" not in page
    assert logged_in(viewer).post(f"/messages/{checked.pk}/mark-sent/").status_code == 403

    client = logged_in(marketer)
    page = client.get(f"/messages/{checked.pk}/").content.decode()
    assert (
        f"/messages/{checked.pk}/mark-sent/" in page and f"/messages/{checked.pk}/resend/" in page
    )
    token = {"form_token": "7f1c7c53-7d7e-4a44-9f55-1d0f2d6a0b11"}
    for _ in range(2):  # a double click: one decision
        done = client.post(f"/messages/{checked.pk}/mark-sent/", token)
        assert done.status_code == 302 and done["Location"] == f"/messages/{checked.pk}/"
    resent = client.post(
        f"/messages/{again.pk}/resend/", {"form_token": "1f1c7c53-7d7e-4a44-9f55-1d0f2d6a0b11"}
    )
    assert resent.status_code == 302
    checked.refresh_from_db()
    again.refresh_from_db()
    assert (checked.state, again.state) == ("sent", "queued")
    events = Event.objects.filter(
        subject_type="message", subject_id__in=[checked.pk, again.pk]
    ).exclude(event_type="message.queued")
    assert sorted(events.values_list("event_type", "actor_id")) == [
        ("message.marked_sent", marketer.pk),
        ("message.resend_requested", marketer.pk),
    ]
    # Decided already: the page says so and changes nothing.
    late = client.post(
        f"/messages/{again.pk}/mark-sent/", {"form_token": "2f1c7c53-7d7e-4a44-9f55-1d0f2d6a0b11"}
    )
    assert late.status_code == 409 and "it is queued" in late.content.decode()
    assert client.post(f"/messages/{again.pk}/resend/", {}).status_code == 422
    assert "1 needs a decision" in client.get("/messages/").content.decode()


def test_the_api_decides_an_unknown_message_once_per_key(
    make_user: Callable[..., User], owner_client: Client
) -> None:
    checked, again = _unknown("u:1"), _unknown("u:2", channel="email")
    listed = owner_client.get("/api/messages", {"needs_decision": "true"}).json()
    assert {m["id"] for m in listed["items"]} == {checked.pk, again.pk}
    operator = logged_in(make_user(Role.OPERATOR))
    refused = operator.post(f"/api/messages/{checked.pk}/mark-sent")
    assert refused.status_code == 403 and refused.json()["field"] == "permission"

    for _ in range(2):
        done = owner_client.post(
            f"/api/messages/{checked.pk}/mark-sent", headers={"Idempotency-Key": "a-1"}
        )
        assert done.status_code == 200 and done.json()["state"] == "sent"
        resent = owner_client.post(
            f"/api/messages/{again.pk}/resend", headers={"Idempotency-Key": "a-2"}
        )
        assert resent.status_code == 200 and resent.json()["state"] == "queued"
    assert Event.objects.filter(event_type="message.resend_requested").count() == 1
    assert Event.objects.filter(event_type="message.marked_sent").count() == 1
    conflict = owner_client.post(f"/api/messages/{again.pk}/resend")
    assert conflict.status_code == 409 and conflict.json()["field"] == "state"
    reused = owner_client.post(
        f"/api/messages/{again.pk}/mark-sent", headers={"Idempotency-Key": "a-1"}
    )
    assert reused.status_code == 422 and reused.json()["field"] == "Idempotency-Key"
    missing = owner_client.post("/api/messages/999999/resend")
    assert missing.status_code == 404 and missing.json()["field"] == "message_id"
    too_long = owner_client.post(
        f"/api/messages/{again.pk}/resend", headers={"Idempotency-Key": "k" * 300}
    )
    assert too_long.status_code == 422
    assert owner_client.get("/api/messages", {"needs_decision": "true"}).json()["items"] == []


def test_staff_notifications_are_apart_from_customers_messages(owner_client: Client) -> None:
    message_queue(
        channel="email",
        recipient="buyer@example.com",
        subject="Your order is on its way",
        body="Hi",
        idempotency_key="to-customer",
    )
    message_queue(
        channel="email",
        recipient="olena@shop.example",
        subject="Task escalated to you",
        body="Call the customer",
        source="notification:task.escalated",
        idempotency_key="to-staff",
    )

    to_customers = owner_client.get("/messages/").content.decode()
    to_staff = owner_client.get("/messages/?direction=staff").content.decode()

    assert "Your order is on its way" in to_customers
    assert "Task escalated to you" not in to_customers
    assert "Task escalated to you" in to_staff
    assert "Your order is on its way" not in to_staff
    assert 'href="/messages/?direction=staff" class="active"' in to_staff
