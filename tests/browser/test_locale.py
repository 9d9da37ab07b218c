"""An operator switches Procedo to Ukrainian from the user menu and works in it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from procedo.accounts.roles import Role
from procedo.automation.models import Run
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import engine_drain, order, sop_with_decisions
from procedo.testing import browser_log_in
from procedo.work.models import Priority, Task
from procedo.work.services.lifecycle import task_create
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Buttons, button-like links and table cells whose text is wider than the box drawn for it.
OVERFLOWING = """() => [...document.querySelectorAll(
    'button, a.button, .sidenav a, .usermenu summary, th, .tag, .badge, label'
  )].filter(e => e.offsetParent !== null && !e.closest('.visually-hidden')
               && e.scrollWidth > e.clientWidth + 1)
   .map(e => e.tagName + ': ' + e.innerText.trim())"""


def test_an_operator_works_in_ukrainian(page: Any, live_server: Any, make_user: Any) -> None:
    olena = make_user(Role.OPERATOR, username="olena", first_name="Олена", last_name="Коваль")
    sop_with_decisions()
    order()
    engine_drain()
    executor.runs_advance()
    queued = Task.objects.get(run_id=Run.objects.get().pk)
    mine = task_create(
        title="Перевірити оплату замовлення №1042 перед відправленням",
        instructions="Звірте суму у виписці банку з сумою замовлення.",
        checklist_kind="verification",
        checklist=[
            {"key": "paid", "text": "Оплата надійшла на рахунок", "required": True},
            {"key": "sum", "text": "Сума збігається із замовленням", "required": True},
        ],
        assignee_user_id=olena.pk,
        due_at=timezone.now() - timedelta(hours=2),
        priority=Priority.HIGH,
    )

    browser_log_in(page, live_server, "olena")
    page.wait_for_selector("html[lang='en']")
    page.click(".usermenu summary")
    page.click(".usermenu button[name='language'][value='uk']")
    page.wait_for_selector("html[lang='uk']")

    page.click(".sidenav a:has-text('Мої завдання')")
    page.wait_for_selector("h1:has-text('Мої завдання')")
    queue = page.locator("#section-queue")
    queue.locator(f"#task-{queued.pk} button:has-text('Взяти')").click()  # htmx swaps the row
    page.wait_for_selector(f"#task-{queued.pk} a.button:has-text('Відкрити')")
    assert page.locator(f"#task-{mine.pk}").count() == 1
    body = page.locator("main").inner_text()
    assert "Прострочено" in body
    assert "Open" not in body and "Take" not in body
    screenshot(page, "uk-my-work")
    assert page.evaluate(OVERFLOWING) == []

    page.click(f"#task-{mine.pk} a.button:has-text('Відкрити')")
    page.wait_for_selector("h2:has-text('Чекліст')")
    assert page.locator("label:has-text('Не пройдено')").count() == 2
    page.click(".usermenu summary")  # show the menu with its language switch too
    screenshot(page, "uk-task")
    assert page.evaluate(OVERFLOWING) == []

    page.goto(f"{live_server.url}/tasks/{queued.pk}/")
    page.wait_for_selector("h2:has-text('Чекліст')")
    assert page.locator("#task-sop").inner_text().count("Чому це завдання") == 1
    screenshot(page, "uk-task-decision")
    assert page.evaluate(OVERFLOWING) == []
