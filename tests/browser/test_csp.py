"""The Content-Security-Policy in a real browser: every main page loads without one violation.

Chromium reports each refused inline script, style or event handler on the console
("… violates the following Content Security Policy directive …"); the test collects the
console of every page the owner of a small store opens, and fails on any such line.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.automation.models import Run
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import customer, engine_drain, order, sop_with_decisions
from procedo.customers.services.details import note_add
from procedo.messaging.services.queueing import message_queue
from procedo.sops.models import Revision, RevisionState
from procedo.testing import browser_log_in
from procedo.work.models import Task
from procedo.work.services import lifecycle as work_services
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def store(owner: User, make_user: Any) -> dict[str, Any]:
    """A small store: a customer with an order, a live SOP that made a task, a sent email."""

    make_user(Role.OPERATOR, username="olena", first_name="Олена", last_name="Коваль")
    buyer = customer(email="maria@example.com", tags=("vip",))
    note_add(customer_id=buyer.pk, body="Любить зелений чай", actor=owner)
    sop, _revision = sop_with_decisions()
    placed = order(customer_id=buyer.pk)
    engine_drain()
    executor.runs_advance()
    for title in ("Оновити банер", "Відповісти на відгук"):  # for a role nobody has
        work_services.task_create(title=title, assignee_role=Role.MARKETER, actor=owner)
    # An email whose HTML has its own inline style, as most email HTML does.
    message = message_queue(
        channel="email",
        recipient="maria@example.com",
        subject="Ваше замовлення",
        body="Дякуємо!",
        body_html='<p style="color: #2f5bea">Дякуємо за замовлення!</p>',
        customer_id=buyer.pk,
        idempotency_key="test:csp-email",
    )
    return {
        "customer": buyer,
        "order": placed,
        "sop": sop,
        "revision": Revision.objects.get(sop=sop, state=RevisionState.PUBLISHED),
        "task": Task.objects.get(run_id=Run.objects.get().pk),
        "message": message,
    }


def _pages(store: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("dashboard", reverse("home:dashboard")),
        ("customers", reverse("customers:list")),
        ("customer card", reverse("customers:card", args=[store["customer"].pk])),
        ("orders", reverse("orders:list")),
        ("order card", reverse("orders:detail", args=[store["order"].pk])),
        ("SOPs", reverse("sops:list")),
        ("SOP", reverse("sops:detail", args=[store["sop"].pk])),
        ("SOP step form", reverse("sops:item", args=[store["revision"].pk, "steps", 0])),
        ("my work", reverse("work:mine")),
        ("task", reverse("work:detail", args=[store["task"].pk])),
        ("team work", reverse("work:team")),
        ("forgotten tasks", reverse("work:unattended")),
        ("messages", reverse("messaging:list")),
        ("message", reverse("messaging:detail", args=[store["message"].pk])),
        ("settings", reverse("home:business")),
        ("profile", reverse("accounts:profile")),
        ("people", reverse("accounts:users")),
        ("activity", reverse("home:activity")),
        ("API docs", "/api/docs"),
    ]


def _watch_console(page: Any) -> list[str]:
    violations: list[str] = []

    def seen(message: Any) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", seen)
    return violations


def test_every_main_page_loads_without_a_csp_violation(
    page: Any, live_server: Any, store: dict[str, Any]
) -> None:
    violations = _watch_console(page)
    browser_log_in(page, live_server, "owner")

    for name, path in _pages(store):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, name
        assert "default-src 'self'" in response.headers["content-security-policy"], name
        page.wait_for_load_state("load")
    # Chromium reports a violation as the page is parsed and as the iframe renders;
    # one more round trip lets the last page's messages arrive before the check.
    page.goto(f"{live_server.url}/")
    assert violations == [], "\n".join(violations)
    # htmx runs under the policy: its config took effect and it made no <style> of its own.
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    assert page.locator("head style").count() == 0


def test_page_behaviours_work_from_the_static_script(
    page: Any, live_server: Any, store: dict[str, Any]
) -> None:
    violations = _watch_console(page)
    browser_log_in(page, live_server, "owner")

    # The SOP step form shows one empty row; "add" shows the next.
    page.goto(f"{live_server.url}{reverse('sops:item', args=[store['revision'].pk, 'steps', 0])}")
    visible_rows = page.locator(".item-row:visible")
    before = visible_rows.count()
    page.click("#add-item")
    assert visible_rows.count() == before + 1
    page.select_option("#id_checklist_kind", "simple")
    assert page.get_attribute("#item-form", "data-kind") == "simple"
    screenshot(page, "csp-step-form")

    # "Choose all" on the forgotten tasks ticks every row (an inline onclick before).
    page.goto(f"{live_server.url}{reverse('work:unattended')}")
    rows = page.locator("tbody input[type=checkbox]")
    assert rows.count() == 2
    page.check("input[data-check-all]")
    assert [rows.nth(i).is_checked() for i in range(2)] == [True, True]
    page.uncheck("input[data-check-all]")
    assert [rows.nth(i).is_checked() for i in range(2)] == [False, False]
    page.goto(f"{live_server.url}/")
    assert violations == [], "\n".join(violations)
