"""An operator's day in a real browser: take a task, answer a decision, see the run's branch."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.accounts.roles import Role
from procedo.automation.models import Run
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import engine_drain, order, sop_with_decisions
from procedo.testing import browser_log_in
from procedo.work.models import Task
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_completes_a_decision_that_routes_the_run(
    page: Any, live_server: Any, make_user: Any
) -> None:

    make_user(Role.OPERATOR, username="olena", first_name="Олена", last_name="Коваль")
    sop_with_decisions()
    order()
    engine_drain()
    executor.runs_advance()
    run = Run.objects.get()
    task = Task.objects.get(run_id=run.pk)

    browser_log_in(page, live_server, "olena")
    page.click(".sidenav a:has-text('My work')")
    page.wait_for_selector("h1:has-text('My work')")
    queue = page.locator("#section-queue")
    assert queue.locator(f"#task-{task.pk}").count() == 1
    queue.locator(f"#task-{task.pk} button:has-text('Take')").click()  # htmx swaps the row
    page.wait_for_selector(f"#task-{task.pk} a.button:has-text('Open')")
    screenshot(page, "my-work")

    page.click(f"#task-{task.pk} a.button:has-text('Open')")
    page.wait_for_selector("h2:has-text('Checklist')")
    assert page.locator("#task-sop").inner_text().count("Every order confirmed fast") == 1
    page.check("input[name='item-answer'][value='change']")
    page.wait_for_selector("#item-answer .saved")  # saved by htmx before completing
    page.fill("#note", "Клієнт хоче інший колір")
    screenshot(page, "task-decision")
    page.click("button:has-text('Done')")
    page.wait_for_selector("h1:has-text('My work')")
    assert page.locator(f"#task-{task.pk}").count() == 0

    page.goto(f"{live_server.url}/sops/runs/{run.pk}/")
    confirm_row = page.locator("tr", has_text="Підтвердити замовлення")
    assert "Що сказав клієнт? Хоче змінити → Змінити замовлення" in confirm_row.inner_text()
    change_row = page.locator("tr", has_text="Змінити замовлення change")
    assert "Waiting" in change_row.inner_text()
    screenshot(page, "run-branch")
    run.refresh_from_db()
    assert run.current_step == "change"
