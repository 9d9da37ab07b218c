"""Screenshots: the recognition board, an SOP's feedback, My SOPs and the feedback form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from procedo.accounts.roles import Role
from procedo.automation.tests.helpers import event_trigger, person, sop_live, task_step
from procedo.sops.services import acknowledgement as acknowledgement_services
from procedo.sops.services import feedback as feedback_services
from procedo.sops.services import revisions as revision_services
from procedo.testing import browser_log_in
from procedo.work.models import Task, TaskState
from tests.browser.conftest import SCREENSHOTS, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_feedback_acknowledgement_and_recognition_pages(
    page: Any, live_server: Any, quiet: None
) -> None:
    owner = person(Role.OWNER, username="oksana", first_name="Оксана", last_name="Литвиненко")
    reviewer = person(Role.MANAGER, username="petro", first_name="Петро", last_name="Коваль")
    anna = person(Role.OPERATOR, username="anna", first_name="Анна", last_name="Шевченко")
    ivan = person(Role.OPERATOR, username="ivan", first_name="Іван", last_name="Мельник")
    definition = {
        "triggers": [event_trigger()],
        "steps": [
            task_step("confirm", title="Call the customer", instructions="Confirm the address."),
            task_step("pack", title="Pack the order"),
        ],
    }
    sop, first = sop_live(
        definition=definition, owner=owner, reviewer=reviewer, name="Confirm new orders"
    )
    acknowledgement_services.acknowledgement_confirm(revision_id=first.pk, actor=anna)
    feedback_services.feedback_leave(
        sop_id=sop.pk,
        step_key="confirm",
        kind="trap",
        text="Half the numbers have no country code",
        actor=anna,
    )
    feedback_services.feedback_leave(
        sop_id=sop.pk, step_key="pack", kind="slow", text="", actor=ivan
    )
    proposal = feedback_services.proposal_make(
        sop_id=sop.pk,
        step_key="confirm",
        text="Send an SMS first; call only if there is no answer in 10 minutes.",
        actor=anna,
    )
    feedback_services.proposal_make(
        sop_id=sop.pk, step_key="pack", text="Keep boxes by the packing desk", actor=ivan
    )
    # Anna's proposal becomes revision 2, published: she is credited and asked to read it.
    draft = feedback_services.proposal_accept(proposal_id=proposal.pk, actor=owner)
    changed = dict(definition)
    changed["steps"] = [
        task_step("confirm", title="SMS, then call", instructions="Call after 10 minutes."),
        task_step("pack", title="Pack the order"),
    ]
    revision_services.revision_update(revision_id=draft.pk, definition=changed, actor=owner)
    revision_services.revision_transition(revision_id=draft.pk, to_state="review", actor=owner)
    revision_services.revision_transition(
        revision_id=draft.pk, to_state="approved", actor=reviewer, comment="ok"
    )
    revision_services.revision_transition(
        revision_id=draft.pk, to_state="published", actor=reviewer
    )
    now = timezone.now()
    for who, late in ((anna, 0), (anna, 0), (anna, 1), (ivan, 0), (ivan, 1), (ivan, 1)):
        Task.objects.create(
            title="Call the customer",
            run_id=1,
            run_step_id=1,
            state=TaskState.DONE,
            completed_by=who,
            completed_at=now - timedelta(minutes=5),
            due_at=now - timedelta(minutes=10 if late else 1),
        )

    browser_log_in(page, live_server, "oksana")
    page.goto(f"{live_server.url}/sops/{sop.pk}/")
    page.wait_for_selector("#feedback")
    assert page.locator("#feedback .tag", has_text="This is a trap").count() >= 1
    screenshot(page, "sop-detail")
    page.locator("#feedback").screenshot(path=str(SCREENSHOTS / "sop-feedback.png"))
    page.locator("#acknowledged").screenshot(path=str(SCREENSHOTS / "sop-acknowledged.png"))

    page.goto(f"{live_server.url}/sops/recognition/?period=week")
    page.wait_for_selector("h1:has-text('Recognition')")
    rows = page.locator("main table tbody tr")
    assert rows.nth(0).locator("td").nth(1).inner_text() == "Анна Шевченко"
    screenshot(page, "sop-recognition")

    page.context.clear_cookies()
    browser_log_in(page, live_server, "anna")
    page.goto(f"{live_server.url}/sops/mine/")
    page.wait_for_selector("h1:has-text('My SOPs')")
    assert "SMS, then call" in page.locator("pre.diff").inner_text()
    screenshot(page, "sop-mine")
    page.click("button:has-text('I have read revision')")
    page.wait_for_selector(".tag.ok:has-text('Confirmed')")

    page.goto(f"{live_server.url}/sops/{sop.pk}/steps/pack/feedback/")
    page.check("input[value=faster_way]")
    page.fill("textarea[name=text]", "Pre-fold ten boxes every morning")
    page.click("button:has-text('Send feedback')")
    page.wait_for_selector("text=Thank you")
    assert "Pre-fold ten boxes" in page.locator("aside").inner_text()
    screenshot(page, "sop-step-feedback")
