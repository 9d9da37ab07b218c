"""A template's render is bounded: loops, growth and output are refused past a stated limit.

Refused when the template is saved (naming the part and the limit), and when a
stored template is rendered for a message; never a render that runs for minutes
or takes gigabytes. The figures are the ones rendering.py states.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from procedo.core.errors import DomainError
from procedo.customers.services.customers import customer_create
from procedo.messaging import rendering
from procedo.messaging.models import Message, Template
from procedo.messaging.services.queueing import message_queue
from procedo.messaging.services.templates import template_save

pytestmark = pytest.mark.django_db

LOOPS = "the template repeats too much: more than 10,000 loop turns, calls and filters"
LONG = "the template makes a text longer than 200,000 characters"
WRITTEN = "the template writes more than 800,000 characters in all"
NUMBER = "the template makes a number longer than 1,000 digits"


def _save(**parts: str) -> Template:
    values: dict[str, Any] = {
        "key": "promo",
        "name": "Promo",
        "channel": "email",
        "kind": "marketing",
        "subject": "Hello",
        "body_text": "Hi {{ customer.first_name }}",
        "body_html": "",
        **parts,
    }
    return template_save(template_id=None, **values)


@pytest.mark.parametrize(
    ("part", "source", "message"),
    [
        (
            "body_text",
            "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}",
            LOOPS,
        ),
        ("subject", "{{ 'x' * 10**9 }}", LONG),
        ("body_html", '<p>{{ "x"|center(10**9) }}</p>', LONG),
    ],
)
def test_a_costly_template_is_refused_on_save_naming_the_part_and_the_limit(
    part: str, source: str, message: str
) -> None:
    with pytest.raises(DomainError) as caught:
        _save(**{part: source})
    assert caught.value.field == part
    assert caught.value.message == f"line 1: {message}"
    assert not Template.objects.exists()


BOMBS = {
    # Each of these ran for seconds to minutes, or took gigabytes, before.
    "loop in a macro": (
        "{% macro row() %}{% for b in range(1000) %}x{% endfor %}{% endmacro %}"
        "{% for a in range(1000) %}{{ row() }}{% endfor %}",
        LOOPS,
    ),
    "calls that branch": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}",
        LOOPS,
    ),
    "a lazy filter": ("{{ range(100000)|map('string')|list|length }}", LOOPS),
    "a text doubled": (
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        LONG,
    ),
    "a list of long texts": ("{{ ['x' * 100000] * 1000 }}", LONG),
    "printf width": ("{{ '%999999999s' % 'x' }}", LONG),
    "format width": ("{{ '{:{}}'.format('x', 999999999) }}", LONG),
    "a method's width": ("{{ 'x'.ljust(999999999) }}", LONG),
    "a long separator": ("{{ range(100000)|join('x' * 100000) }}", LONG),
    "replace between characters": ("{{ ('x' * 100000)|replace('', 'yy') }}", LONG),
    "fill to a size": ("{{ [1]|batch(10**9, 'x')|list }}", LONG),
    "output": ("{% for i in range(5000) %}{{ 'x' * 100 }}{% endfor %}", LONG),
    "a block kept in memory": (
        "{% set s %}{% for i in range(9000) %}{{ 'x' * 100000 }}{% endfor %}{% endset %}",
        WRITTEN,
    ),
    "a power": ("{{ 10 ** (10 ** 10) }}", NUMBER),
    "a number squared again": (
        "{% set ns = namespace(n=7) %}{% for i in range(40) %}"
        "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n > 1 }}",
        NUMBER,
    ),
}


@pytest.mark.parametrize(("source", "message"), BOMBS.values(), ids=BOMBS.keys())
def test_a_render_stops_at_its_budget_holding_little_memory(source: str, message: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(DomainError) as caught:
            rendering.render(
                subject="s", body_text=source, body_html="", context=rendering.sample_context()
            )
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.field == "body_text"
    assert caught.value.message.endswith(message)
    assert peak < 20 * 1024 * 1024  # a few texts of the 200,000-character bound


def test_lipsum_is_not_offered() -> None:
    with pytest.raises(DomainError) as caught:
        rendering.render(subject="s", body_text="{{ lipsum(10**6) }}", body_html="", context={})
    assert "'lipsum' is undefined" in caught.value.message


def test_an_order_of_200_lines_with_filters_renders_whole() -> None:
    context = rendering.sample_context()
    item = context["order"]["items"][0]
    context["order"]["items"] = [{**item, "name": f"Чашка {n}"} for n in range(200)]
    source = (
        "{% for item in order.items %}{{ loop.index }}. {{ item.name|upper|center(30) }}"
        " × {{ item.quantity }} = {{ item.total }}\n{% endfor %}"
        "{{ order.items|map(attribute='name')|join(', ')|truncate(500) }}"
        "{{ '%s, %s' % (customer.first_name, order.number) }} {{ '{:>10}'.format(order.total) }}"
    )
    rendered = rendering.render(subject="s", body_text=source, body_html="", context=context)
    assert "200. " in rendered.body_text and "Чашка 199".upper() in rendered.body_text


def test_a_stored_template_past_its_budget_fails_its_message_with_the_reason() -> None:
    # Saved before limits existed (or by hand): the message is refused, not rendered for minutes.
    Template.objects.create(
        key="old-promo",
        name="Old promo",
        channel="email",
        subject="Hi",
        body_text="{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}",
    )
    customer = customer_create(first_name="Оля", emails=["olia@example.com"])
    with pytest.raises(DomainError) as caught:
        message_queue(
            channel="email",
            recipient="olia@example.com",
            body="",
            template_key="old-promo",
            customer_id=customer.pk,
            idempotency_key="promo:1",
        )
    assert caught.value.field == "body_text" and caught.value.message == f"line 1: {LOOPS}"
    assert not Message.objects.exists()


def test_wrapping_a_long_text_is_allowed_and_a_long_wrap_string_is_not() -> None:
    words = "слово " * 25_000  # 150,000 characters
    rendered = rendering.render(
        subject="s", body_text="{{ words|wordwrap(60) }}", body_html="", context={"words": words}
    )
    assert max(len(line) for line in rendered.body_text.splitlines()) <= 60
    with pytest.raises(DomainError) as caught:
        rendering.render(
            subject="s",
            body_text="{{ words|wordwrap(5, true, 'x' * 1000) }}",
            body_html="",
            context={"words": words},
        )
    assert caught.value.message.endswith(LONG)
