"""An SOP's messages written for a real customer, as the engine writes them, and "Send me a test"
(the page, the API, the ledger)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.test import Client

from procedo.accounts.roles import Role
from procedo.automation.models import Run
from procedo.automation.services import steps as executor
from procedo.automation.services.engine import run_start_manual
from procedo.automation.tests.helpers import customer, event_trigger, order, sop_live
from procedo.business.services import business_update
from procedo.events.models import Event
from procedo.messaging.models import Message
from procedo.messaging.services.templates import template_save
from procedo.sops.selectors.messages import message_previews
from procedo.sops.services.messages import message_test_send
from procedo.testing import api_caller, logged_in, person

pytestmark = pytest.mark.django_db

EMAIL = {
    "kind": "email",
    "key": "thanks_step",
    "title": "Thank the customer",
    "subject": "Замовлення {{ order.number }}: {{ order.status }}",
    "body": "Дякуємо, {{ customer.first_name }}! Разом {{ order.total }}.\n{{ sop.name }}",
}
SMS = {
    "kind": "sms",
    "key": "sms_step",
    "title": "Text them",
    "body": "{{ customer.first_name }}, ok",
}


@pytest.fixture
def sop(quiet: None) -> Any:
    made, _revision = sop_live(
        definition={
            "triggers": [event_trigger(), {"kind": "manual", "key": "by_hand"}],
            "steps": [EMAIL, SMS],
        }
    )
    return made


@pytest.fixture
def buyers(sop: Any) -> list[Any]:
    """Two customers with an order each; Тарас's is the newest."""
    olena = customer(first_name="Олена", last_name="Коваль", email="olena@example.com")
    taras = customer(first_name="Тарас", last_name="Шевчук", email="taras@example.com")
    return [order(customer_id=olena.pk, total="90.00"), order(customer_id=taras.pk, total="120.00")]


def _visible(html: str) -> str:
    """What a person reads: the page without its markup (ids and links carry step keys)."""
    return re.sub(r"<[^>]*>", " ", re.sub(r"(?s)<(script|style)\b.*?</\1>", "", html))


def _tester(role: str = Role.OPERATOR, **extra: Any) -> tuple[Any, Client]:
    user = person(role, **extra)
    return user, logged_in(user)


def test_the_newest_order_is_written_as_the_engine_writes_it(sop: Any, buyers: list[Any]) -> None:
    revision = sop.revisions.get(state="published")
    previews = message_previews(revision=revision)
    assert previews.sample is not None and previews.sample.id == buyers[1].pk
    assert [s.id for s in previews.samples] == [buyers[1].pk, buyers[0].pk]
    email, sms = previews.messages
    assert email.subject == f"Замовлення {buyers[1].number}: New"
    assert email.body.startswith("Дякуємо, Тарас! Разом") and "{{" not in email.body
    assert (email.to, email.problem) == ("taras@example.com", "")
    assert sms.problem == "Тарас Шевчук has no phone number: the step is skipped for them."

    # The engine's message for that order is the preview, word for word.
    run_start_manual(
        sop_id=sop.pk,
        subject_type="order",
        subject_id=buyers[1].pk,
        actor=sop.owner,
        idempotency_key="start",
    )
    executor.runs_advance_all()
    sent = Message.objects.get(source=f"sop_run:{Run.objects.get().pk}")
    assert (sent.subject, sent.body) == (email.subject, email.body)


def test_the_reader_switches_to_another_sample(sop: Any, buyers: list[Any]) -> None:
    _user, client = _tester(Role.VIEWER)
    revision = sop.revisions.get(state="published")
    answer = client.get(f"/sops/revisions/{revision.pk}/messages/", {"sample": buyers[0].pk})
    page = _visible(answer.content.decode())
    assert answer.status_code == 200
    assert "Дякуємо, Олена!" in page and f"Замовлення {buyers[0].number}" in page
    assert "{{" not in page and "thanks_step" not in page
    # A viewer reads the messages but sends no test.
    assert "Send me a test" not in page


def test_the_sop_page_shows_messages_and_never_template_code(sop: Any, buyers: list[Any]) -> None:
    _user, client = _tester()
    page = _visible(client.get(f"/sops/{sop.pk}/").content.decode())
    assert "Messages to customers" in page and "Дякуємо, Тарас!" in page
    assert "{{" not in page and "{%" not in page and "thanks_step" not in page
    assert "Send me a test" in page
    revision = sop.revisions.get(state="published")
    page = _visible(client.get(f"/sops/revisions/{revision.pk}/").content.decode())
    assert "Email to the customer" in page and "Дякуємо, Тарас!" in page
    assert "{{" not in page and "thanks_step" not in page


def test_a_message_that_cannot_be_written_says_what_is_missing(quiet: None) -> None:
    # A stored template is checked when it is saved, not against each SOP's subject.
    template_save(
        template_id=None,
        key="order-news",
        name="Order news",
        channel="email",
        kind="transactional",
        subject="Your order",
        body_text="Order {{ order.number }} is on its way",
    )
    _sop, revision = sop_live(
        subject_type="customer",
        definition={
            "triggers": [{"kind": "manual", "key": "by_hand"}],
            "steps": [
                {"kind": "email", "key": "news", "title": "News", "template_key": "order-news"}
            ],
        },
    )
    customer(first_name="Ірина", last_name="Бондар", email="iryna@example.com")
    (message,) = message_previews(revision=revision).messages
    assert message.problem == (
        "It cannot be written for Ірина Бондар: the text uses “order”, and there is none here."
    )
    assert message.body == ""


def test_a_ukrainian_store_writes_its_words_in_ukrainian(sop: Any, buyers: list[Any]) -> None:
    business_update(
        name="Крамниця", time_zone="Europe/Kyiv", currency="UAH", language="uk", actor_id=None
    )
    email, _sms = message_previews(revision=sop.revisions.get(state="published")).messages
    assert email.subject == f"Замовлення {buyers[1].number}: Нове"


def _post_test(client: Client, sop: Any, sample_id: int, token: str) -> Any:
    revision = sop.revisions.get(state="published")
    return client.post(
        f"/sops/revisions/{revision.pk}/messages/thanks_step/test/",
        {"form_token": token, "sample_id": sample_id},
        headers={"HX-Request": "true"},
    )


def test_send_me_a_test_queues_one_marked_message_to_my_address(
    sop: Any, buyers: list[Any]
) -> None:
    user, client = _tester(email="picker@example.com")
    token = str(uuid.uuid4())
    for _click in range(2):  # a double click
        answer = _post_test(client, sop, buyers[0].pk, token)
        assert answer.status_code == 200
        assert "Sent to picker@example.com" in answer.content.decode()
    test = Message.objects.get(recipient="picker@example.com")
    assert test.subject == f"[Test] Замовлення {buyers[0].number}: New"
    assert test.body.startswith("Дякуємо, Олена!") and test.state == "queued"
    assert test.source == f"notification:sop_test:{sop.pk}" and test.customer_id is None
    event = Event.objects.get(event_type="sop.message_tested")
    assert (event.actor_id, event.payload["step_title"], event.payload["sample_id"]) == (
        user.pk,
        "Thank the customer",
        buyers[0].pk,
    )


def test_without_an_email_address_the_form_says_so_and_nothing_is_sent(
    sop: Any, buyers: list[Any]
) -> None:
    _user, client = _tester(email="")
    answer = _post_test(client, sop, buyers[0].pk, str(uuid.uuid4()))
    assert answer.status_code == 422
    assert "Your profile has no email address" in answer.content.decode()
    assert not Message.objects.exists()
    assert not Event.objects.filter(event_type="sop.message_tested").exists()


def test_a_viewer_may_not_send_a_test(sop: Any, buyers: list[Any]) -> None:
    _user, client = _tester(Role.VIEWER, email="viewer@example.com")
    assert _post_test(client, sop, buyers[0].pk, str(uuid.uuid4())).status_code == 403
    assert not Message.objects.exists()


def test_the_api_writes_the_messages_and_sends_a_test_once_per_key(
    sop: Any, buyers: list[Any]
) -> None:
    user = person(Role.MANAGER, email="manager@example.com")
    call = api_caller(user)
    revision = sop.revisions.get(state="published")
    body = call("get", f"/sops/revisions/{revision.pk}/messages").json()
    assert body["sample"]["id"] == buyers[1].pk
    assert body["messages"][0]["step_key"] == "thanks_step"
    assert body["messages"][0]["body"].startswith("Дякуємо, Тарас!")

    path = f"/sops/revisions/{revision.pk}/messages/thanks_step/test"
    first = call("post", path, {"sample_id": buyers[0].pk}, **{"Idempotency-Key": "k1"})
    again = call("post", path, {"sample_id": buyers[0].pk}, **{"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["to"] == "manager@example.com"
    assert Message.objects.count() == 1

    other = call("post", path, {"sample_id": buyers[1].pk}, **{"Idempotency-Key": "k1"})
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    missing = call(
        "post", f"/sops/revisions/{revision.pk}/messages/nope/test", {}, **{"Idempotency-Key": "k2"}
    )
    assert missing.status_code == 422 and missing.json()["field"] == "step_key"
    assert Message.objects.count() == 1


def test_without_script_the_test_is_sent_and_the_sop_page_says_so(
    sop: Any, buyers: list[Any]
) -> None:
    _user, client = _tester(email="picker@example.com")
    revision = sop.revisions.get(state="published")
    answer = client.post(
        f"/sops/revisions/{revision.pk}/messages/thanks_step/test/",
        {"form_token": str(uuid.uuid4()), "sample_id": buyers[0].pk},
        follow=True,
    )
    assert answer.redirect_chain[-1][0] == f"/sops/{sop.pk}/#messages"
    assert "Sent to picker@example.com" in answer.content.decode()
    assert Message.objects.filter(recipient="picker@example.com").count() == 1


def test_a_stored_templates_html_goes_into_the_test_too(quiet: None) -> None:
    template_save(
        template_id=None,
        key="hello",
        name="Hello",
        channel="email",
        kind="transactional",
        subject="Привіт, {{ customer.first_name }}",
        body_text="Привіт, {{ customer.first_name }}!",
        body_html="<p>Привіт, <b>{{ customer.first_name }}</b>!</p>",
    )
    _sop, revision = sop_live(
        subject_type="customer",
        definition={
            "triggers": [{"kind": "manual", "key": "by_hand"}],
            "steps": [{"kind": "email", "key": "hello", "title": "Hello", "template_key": "hello"}],
        },
    )
    customer(first_name="Ірина", email="iryna@example.com")
    user = person(Role.MANAGER, email="manager@example.com")
    test = message_test_send(
        revision_id=revision.pk, step_key="hello", sample_id=None, actor=user, idempotency_key="k"
    )
    assert test.subject == "[Test] Привіт, Ірина"
    assert test.body_html == "<p>Привіт, <b>Ірина</b>!</p>"
