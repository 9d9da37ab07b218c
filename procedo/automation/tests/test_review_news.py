"""Review that people get through: submitting asks the people who may approve, the SOP list
and their queue show what waits for them, and the author hears the answer."""

from __future__ import annotations

import pytest

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.automation.tests.helpers import event_trigger, task_step
from procedo.collab.models import Notification
from procedo.messaging.models import Message
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services
from procedo.testing import logged_in, person

pytestmark = pytest.mark.django_db

DEFINITION = {"triggers": [event_trigger()], "steps": [task_step("confirm", title="Call")]}


def _titles(user: User) -> list[str]:
    return list(Notification.objects.filter(recipient=user).values_list("title", flat=True))


def test_review_asks_the_approvers_and_answers_the_author() -> None:
    author = person(Role.MANAGER, email="author@example.com", first_name="Ірина")
    reviewer = person(Role.MANAGER, email="reviewer@example.com", first_name="Олег")
    owner = person(Role.OWNER, email="owner@example.com")
    operator = person(Role.OPERATOR, email="operator@example.com")
    sop = sop_services.sop_create(
        name="Confirm orders",
        subject_type="order",
        owner_id=author.pk,
        kpi="order_confirmation_time",
        kpi_target=None,
        holdout_percent=0,
        goal="",
        why="",
        actor=author,
    )
    draft = sop.revisions.get()
    revision_services.revision_update(revision_id=draft.pk, definition=DEFINITION, actor=author)
    revision_services.revision_transition(revision_id=draft.pk, to_state="review", actor=author)

    asked = "Ірина asks you to review revision 1 of “Confirm orders”"
    assert _titles(reviewer) == [asked] and _titles(owner) == [asked]
    assert _titles(author) == [] and _titles(operator) == []
    assert Message.objects.filter(recipient="reviewer@example.com", subject=asked).count() == 1

    # The list marks it, and the reviewer's queue (not the author's) holds it.
    page = logged_in(reviewer).get("/sops/").content.decode()
    assert "Waiting for your review" in page and "waiting for review" in page
    assert f'href="/sops/revisions/{draft.pk}/"' in page
    assert "Waiting for your review" not in logged_in(author).get("/sops/").content.decode()

    revision_services.revision_transition(
        revision_id=draft.pk, to_state="draft", actor=reviewer, comment="Add a deadline"
    )
    assert _titles(author) == ["Олег sent revision 1 of “Confirm orders” back: Add a deadline"]
    # Submitted again: asked again (a new move, a new notification), then approved.
    revision_services.revision_transition(revision_id=draft.pk, to_state="review", actor=author)
    assert _titles(reviewer).count(asked) == 2
    revision_services.revision_transition(
        revision_id=draft.pk, to_state="approved", actor=reviewer, comment="ok"
    )
    assert "Олег approved revision 1 of “Confirm orders”" in _titles(author)
    assert "Waiting for your review" not in logged_in(reviewer).get("/sops/").content.decode()
