"""Screenshots: the publish dialog with the backlog choice, and the queue a pace leaves behind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from procedo.accounts.roles import Role
from procedo.automation.models import QueuedStart, Run
from procedo.automation.services.sweeps import sweeps_run
from procedo.automation.tests.helpers import person, task_step
from procedo.automation.tests.test_backlog_and_pace import approved, delivered_quietly
from procedo.sops.models import Revision
from procedo.sops.services import sops as sop_services
from procedo.testing import PASSWORD, browser_log_in
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def thank_after(days: int) -> dict[str, Any]:
    return {
        "triggers": [
            {"kind": "date", "key": "after", "field": "delivered_at", "offset_days": days}
        ],
        "steps": [task_step("thank", title="Thank the customer")],
    }


def test_publishing_with_the_backlog_and_the_queue_on_desktop_and_phone(
    page: Any, browser: Any, live_server: Any, quiet: None
) -> None:
    now = timezone.now()
    for days in (45, 40, 33, 30, 21, 4):
        delivered_quietly(now - timedelta(days=days))
    owner = person(Role.OWNER, username="oksana", first_name="Оксана", last_name="Литвиненко")
    person(Role.MANAGER, username="petro", first_name="Петро", last_name="Коваль")
    sop, revision = approved(thank_after(2), owner=owner)
    sop_services.sop_pace_set(sop_id=sop.pk, actor=owner, limit=2, period="hour")

    browser_log_in(page, live_server, "petro")
    page.goto(f"{live_server.url}/sops/revisions/{revision.pk}/")
    dialog = page.locator("form:has(input[name=to_state][value=published])")
    assert "5" in dialog.locator("fieldset.backlog").inner_text()  # 5 past the window, 1 in it
    screenshot(page, "sop-publish-backlog-desktop")
    dialog.get_by_label("Start for them too").check()
    dialog.locator("button", has_text="Publish").click()
    page.wait_for_selector("text=backlog: start for them too (5)")

    assert sweeps_run(now=now) == 2  # the pace: two now, four wait, oldest first
    assert QueuedStart.objects.count() == 4 and Run.objects.count() == 2
    page.goto(f"{live_server.url}/sops/{sop.pk}/")
    queue = page.locator("#queue")
    assert "4 subjects wait to start" in queue.inner_text()
    screenshot(page, "sop-queue-desktop")

    # On a phone, in Ukrainian: the next revision's dialog, and the queue.
    _sop, second = approved(thank_after(3), sop=sop, owner=owner)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="uk-UA")
    phone.add_cookies([{"name": "django_language", "value": "uk", "url": live_server.url}])
    small = phone.new_page()
    small.goto(f"{live_server.url}/")
    small.fill("#id_username", "petro")
    small.fill("#id_password", PASSWORD)
    small.click("button[type=submit]")
    small.wait_for_selector("#sidenav", state="attached")
    for path, name in (
        (f"/sops/revisions/{second.pk}/", "sop-publish-backlog-phone"),
        (f"/sops/{sop.pk}/", "sop-queue-phone"),
    ):
        small.goto(f"{live_server.url}{path}")
        assert small.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(small, name)
    assert "Чекають на темп" in small.locator("#queue").inner_text()
    phone.close()
    assert Revision.objects.get(pk=second.pk).state == "approved"
