"""Templates: sandboxed Jinja2, refused at save when they cannot render, previewed for real."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.core.errors import DomainError
from procedo.customers.services.customers import customer_create
from procedo.messaging.models import Message, MessageKind
from procedo.messaging.services.queueing import message_queue
from procedo.messaging.services.templates import template_preview, template_save
from procedo.orders.tests.factories import order_create

pytestmark = pytest.mark.django_db


def save(**overrides: str) -> object:
    values: dict[str, Any] = {
        "key": "thanks",
        "name": "Дякуємо",
        "channel": "email",
        "kind": "transactional",
        "subject": "Замовлення №{{ order.number }}",
        "body_text": "Дякуємо, {{ customer.first_name }}!\nРазом: {{ order.total }}\n"
        "{% for item in order.items %}{{ item.name }} × {{ item.quantity }}\n{% endfor %}",
        "body_html": "",
    }
    values.update(overrides)
    return template_save(template_id=None, **values)


def test_a_syntax_error_is_refused_naming_the_line() -> None:
    with pytest.raises(DomainError) as caught:
        save(body_text="Привіт\n\nРазом: {{ order.total }")
    assert caught.value.field == "body_text"
    assert caught.value.message.startswith("line 3:")


def test_an_unknown_variable_is_refused_naming_the_line() -> None:
    with pytest.raises(DomainError) as caught:
        save(body_text="Привіт\n\n{{ customer.nickname }}")
    assert caught.value.field == "body_text"
    assert caught.value.message.startswith("line 3:") and "nickname" in caught.value.message
    with pytest.raises(DomainError) as caught:
        save(subject="{{ coupon }}")
    assert caught.value.field == "subject" and "coupon" in caught.value.message


def test_the_sandbox_refuses_python_internals() -> None:
    with pytest.raises(DomainError):
        save(body_text="{{ customer.__class__.__mro__ }}")


def test_html_is_escaped_text_is_not() -> None:
    customer = customer_create(first_name="<b>Ім'я</b>", emails=["a@example.com"])
    rendered = template_preview(
        channel="email",
        subject="Hi",
        body_text="{{ customer.first_name }}",
        body_html="<p>{{ customer.first_name }}</p>",
        customer_id=customer.pk,
    )
    assert rendered.body_text == "<b>Ім'я</b>"
    assert rendered.body_html == "<p>&lt;b&gt;Ім&#39;я&lt;/b&gt;</p>"


def test_preview_and_queue_with_a_real_customer_and_order() -> None:
    customer = customer_create(
        first_name="Тарас", last_name="Шевченко", emails=["Taras@Example.com"]
    )
    order = order_create(customer=customer)
    template = save()
    preview = template_preview(
        channel="email",
        subject=template.subject,  # type: ignore[attr-defined]
        body_text=template.body_text,  # type: ignore[attr-defined]
        customer_id=customer.pk,
        order_id=order.pk,
    )
    assert preview.subject == f"Замовлення №{order.number}"
    assert preview.body_text.startswith("Дякуємо, Тарас!\nРазом: ")
    assert "₴" in preview.body_text or order.currency in preview.body_text
    message = message_queue(
        channel="email",
        recipient="taras@example.com",
        body="",
        template_key="thanks",
        customer_id=customer.pk,
        order_id=order.pk,
        idempotency_key="test:1",
    )
    assert (message.subject, message.body) == (preview.subject, preview.body_text)
    assert message.kind == MessageKind.TRANSACTIONAL and message.template_key == "thanks"


def test_a_marketing_template_gets_its_kind_and_discount_code() -> None:
    customer = customer_create(first_name="Олена", emails=["o@example.com"])
    save(key="promo", kind="marketing", subject="Знижка", body_text="Код: {{ discount_code }}")
    message = message_queue(
        channel="email",
        recipient="o@example.com",
        body="",
        template_key="promo",
        customer_id=customer.pk,
        context={"discount_code": "ВЕСНА10"},
        idempotency_key="campaign:1:customer:1",
    )
    assert message.kind == MessageKind.MARKETING
    # The template did not place the unsubscribe link: the email ends with it.
    text, footer = message.body.split("\n\n-- \n")
    assert text == "Код: ВЕСНА10"
    assert footer.startswith("Unsubscribe: http") and "/messages/unsubscribe/" in footer
    assert Message.objects.count() == 1


def test_a_marketing_template_that_places_the_link_itself_gets_no_second_one() -> None:
    save(
        key="news",
        kind="marketing",
        subject="Новини",
        body_text="Новинки тижня. Відписатися: {{ unsubscribe_url }}",
    )
    message = message_queue(
        channel="email",
        recipient="o@example.com",
        body="",
        template_key="news",
        idempotency_key="campaign:2:customer:1",
    )
    assert message.body.count("/messages/unsubscribe/") == 1


def test_a_key_is_unique_and_editing_keeps_it() -> None:
    template = save()
    with pytest.raises(DomainError) as caught:
        save(name="Другий")
    assert caught.value.field == "key"
    changed = template_save(
        template_id=template.pk,  # type: ignore[attr-defined]
        key="thanks",
        name="Нова назва",
        channel="sms",
        kind="transactional",
        subject="ignored for SMS",
        body_text="Дякуємо, {{ customer.first_name }}",
    )
    assert (changed.name, changed.subject) == ("Нова назва", "")
