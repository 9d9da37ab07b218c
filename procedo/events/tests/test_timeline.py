"""Every event reads as a sentence with links, in the reader's language; none is left raw."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from procedo.accounts.models import User
from procedo.events.models import Event
from procedo.events.timeline import sentences_registered, timeline_lines
from procedo.orders.services.lines import OrderLineIn
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.orders.services.statuses import order_change_status
from procedo.orders.services.taking import order_create

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
EVENT_TYPE = re.compile(r"^[a-z_]+\.[a-z_]+$")


def _event_types_in_code() -> set[str]:
    """Every event type a service records by name (event_type=…, or a helper's first argument)."""
    found: set[str] = set()
    for path in ROOT.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts or "demo" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                value = keyword.value
                if (
                    keyword.arg == "event_type"
                    and isinstance(value, ast.Constant)
                    and EVENT_TYPE.match(str(value.value))
                ):
                    found.add(str(value.value))
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            first = node.args[0] if node.args else None
            if (
                name.endswith(("_record", "_event"))
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and EVENT_TYPE.match(first.value)
            ):
                found.add(first.value)
    # A task's end is recorded as f"task.{state}".
    return found | {"task.done", "task.skipped"}


def test_every_event_type_the_code_records_reads_as_a_sentence() -> None:
    missing = _event_types_in_code() - sentences_registered()
    assert missing == set()


def _order(owner: User) -> Any:
    order_pipeline_defaults_install()
    order = order_create(
        lines=[OrderLineIn(sku_code="CUP", description="Cup", unit_price="250", quantity=2)],
        actor=owner,
        idempotency_key=None,
    )
    order_change_status(order_id=order.pk, to_status="confirmed", actor=owner, idempotency_key=None)
    return order


def test_a_status_change_reads_as_a_sentence_with_links_in_both_languages(owner: User) -> None:
    order = _order(owner)
    events = list(Event.objects.filter(subject_type="order").order_by("-id"))
    with translation.override("en"):
        lines = {line.event.event_type: line for line in timeline_lines(events)}
    moved = lines["order.status_changed"]
    assert moved.plain == f"Оксана Литвиненко moved order {order.number} from New to Confirmed"
    assert f'<a href="/orders/{order.pk}/">{order.number}</a>' in moved.text
    assert lines["order.created"].plain.endswith("500.00\u00a0₴")
    with translation.override("uk"):
        moved_uk = timeline_lines(events)[0]
    assert moved_uk.plain == (
        f"Замовлення {order.number} переведено з «Нове» в «Підтверджено» (Оксана Литвиненко)"
    )


def test_pages_and_api_show_sentences_not_keys(owner: User, owner_client: Client) -> None:
    order = _order(owner)
    for url in ("/", "/activity/", f"/orders/{order.pk}/"):
        page = owner_client.get(url).content.decode()
        assert "order.status_changed" not in page and "{'" not in page, url
        assert f'moved order <a href="/orders/{order.pk}/">{order.number}</a>' in page, url
    items = owner_client.get(f"/api/events/subject/order/{order.pk}").json()["items"]
    assert items[0]["summary"].startswith("Оксана Литвиненко moved order")


def test_a_page_of_events_names_its_subjects_in_one_query_per_kind(
    owner: User, django_assert_max_num_queries: Any
) -> None:
    for _ in range(5):
        _order(owner) if not Event.objects.exists() else order_create(
            lines=[OrderLineIn(sku_code="CUP", description="Cup", unit_price="1", quantity=1)],
            actor=owner,
            idempotency_key=None,
        )
    events = list(Event.objects.select_related("actor").order_by("-id")[:50])
    with django_assert_max_num_queries(8):
        lines = timeline_lines(events)
    assert len(lines) == len(events) and all("%(" not in line.text for line in lines)


def test_the_activity_log_filters_by_who_what_and_when(
    owner: User, owner_client: Client, make_user: Any
) -> None:
    order = _order(owner)
    other = make_user(username="olena", first_name="Олена")
    order_change_status(order_id=order.pk, to_status="packed", actor=other, idempotency_key=None)
    by_olena = owner_client.get("/activity/", {"person": other.pk}).content.decode()
    assert "Олена" in by_olena and "Оксана Литвиненко" not in by_olena.split("<table")[-1]
    orders_only = owner_client.get("/activity/", {"kind": "orders"}).content.decode()
    assert "stock" not in orders_only.split("<table")[-1].lower()
    none_yet = owner_client.get("/activity/", {"since": "2099-01-01"}).content.decode()
    assert "Nothing has happened yet." in none_yet
    bad = owner_client.get("/activity/", {"since": "2026-12-06", "until": "2026-01-01"})
    assert bad.status_code == 422 and "The end is before the start." in bad.content.decode()
