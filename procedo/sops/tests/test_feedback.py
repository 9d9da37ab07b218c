"""Feedback on steps, proposals that become drafts, reading and confirming revisions."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.accounts.services import team_create
from procedo.automation.models import Run
from procedo.automation.services import steps as executor
from procedo.automation.services.engine import run_start_manual
from procedo.automation.tests.helpers import event_trigger, order, person, sop_live, task_step
from procedo.collab.models import Notification
from procedo.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from procedo.events.models import Event
from procedo.sops.models import (
    Acknowledgement,
    FeedbackState,
    Proposal,
    ProposalState,
    Revision,
    RevisionState,
    Sop,
    StepFeedback,
)
from procedo.sops.selectors import audience as audience_selectors
from procedo.sops.services import acknowledgement as acknowledgement_services
from procedo.sops.services import feedback as feedback_services
from procedo.sops.services import revisions as revision_services
from procedo.work.models import Task

pytestmark = pytest.mark.django_db


def _definition(*steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "triggers": [event_trigger(), {"kind": "manual", "key": "hand"}],
        "steps": list(steps) or [task_step("confirm")],
    }


def _publish(owner: User, reviewer: User, sop: Sop, definition: dict[str, Any]) -> Revision:
    """A new revision of `sop` with `definition`, taken to published."""
    _sop, revision = sop_live(definition=definition, owner=owner, reviewer=reviewer, sop=sop)
    return revision


@pytest.fixture
def live(quiet: None) -> tuple[Sop, Revision, User, User]:
    owner, reviewer = person(Role.OWNER), person(Role.MANAGER)
    sop, revision = sop_live(
        definition=_definition(task_step("confirm"), task_step("pack", title="Pack it")),
        owner=owner,
        reviewer=reviewer,
    )
    return sop, revision, owner, reviewer


# ---------------------------------------------------------------- feedback


def test_feedback_on_a_step_not_in_the_revision_names_the_step_and_changes_nothing(
    live: tuple[Sop, Revision, User, User],
) -> None:
    sop, revision, _owner, _reviewer = live
    operator = person(Role.OPERATOR)
    with pytest.raises(DomainError) as caught:
        feedback_services.feedback_leave(
            sop_id=sop.pk, step_key="ship", kind="slow", text="", actor=operator
        )
    assert caught.value.field == "step_key" and "ship" in caught.value.message
    assert f"Revision {revision.number}" in caught.value.message
    with pytest.raises(DomainError) as kind:
        feedback_services.feedback_leave(
            sop_id=sop.pk, step_key="confirm", kind="annoying", text="", actor=operator
        )
    assert kind.value.field == "kind"
    with pytest.raises(DomainError) as words:  # "a faster way" says nothing without words
        feedback_services.feedback_leave(
            sop_id=sop.pk, step_key="confirm", kind="faster_way", text="  ", actor=operator
        )
    assert words.value.field == "text"
    with pytest.raises(PermissionDenied):
        feedback_services.feedback_leave(
            sop_id=sop.pk, step_key="confirm", kind="slow", text="", actor=person(Role.VIEWER)
        )
    assert not StepFeedback.objects.exists()
    assert not Event.objects.filter(event_type__startswith="sop_feedback").exists()


def test_feedback_from_a_task_lands_on_the_revision_the_run_used(
    live: tuple[Sop, Revision, User, User],
) -> None:
    sop, first, owner, reviewer = live
    operator = person(Role.OPERATOR)
    subject = order()
    run_start_manual(
        sop_id=sop.pk, subject_type="order", subject_id=subject.pk, actor=owner, idempotency_key="k"
    )
    executor.runs_advance()
    task = Task.objects.get()
    # A newer revision is published meanwhile: the feedback is about what the person ran.
    second = _publish(owner, reviewer, sop, _definition(task_step("confirm", title="Call now")))
    assert second.number > first.number
    feedback = feedback_services.feedback_leave(
        sop_id=sop.pk,
        step_key="confirm",
        kind="trap",
        text="The phone number is often missing",
        actor=operator,
        task_id=task.pk,
        idempotency_key="ui:1",
    )
    assert (feedback.revision_id, feedback.task_id) == (first.pk, task.pk)
    assert feedback.run_id is None  # as given; the run is known through the task
    again = feedback_services.feedback_leave(
        sop_id=sop.pk,
        step_key="confirm",
        kind="trap",
        text="The phone number is often missing",
        actor=operator,
        task_id=task.pk,
        idempotency_key="ui:1",
    )
    assert again.pk == feedback.pk and StepFeedback.objects.count() == 1
    with pytest.raises(DomainError) as wrong_step:
        feedback_services.feedback_leave(
            sop_id=sop.pk, step_key="pack", kind="slow", text="", actor=operator, task_id=task.pk
        )
    assert wrong_step.value.field == "step_key"
    other, _rev = sop_live(definition=_definition(), owner=owner, reviewer=reviewer, name="Other")
    with pytest.raises(DomainError) as other_sop:
        feedback_services.feedback_leave(
            sop_id=other.pk,
            step_key="confirm",
            kind="slow",
            text="",
            actor=operator,
            run_id=Run.objects.get().pk,
        )
    assert other_sop.value.field == "run_id"
    with pytest.raises(NotFound) as no_task:
        feedback_services.feedback_leave(
            sop_id=sop.pk, step_key="confirm", kind="slow", text="", actor=operator, task_id=999999
        )
    assert no_task.value.field == "task_id"


def test_the_owner_resolves_feedback_once_and_others_may_not(
    live: tuple[Sop, Revision, User, User],
) -> None:
    sop, _revision, owner, _reviewer = live
    operator = person(Role.OPERATOR)
    feedback = feedback_services.feedback_leave(
        sop_id=sop.pk, step_key="pack", kind="slow", text="", actor=operator
    )
    with pytest.raises(PermissionDenied):
        feedback_services.feedback_resolve(
            feedback_id=feedback.pk, state="dismissed", actor=operator
        )
    with pytest.raises(DomainError) as bad:
        feedback_services.feedback_resolve(feedback_id=feedback.pk, state="open", actor=owner)
    assert bad.value.field == "state"
    done = feedback_services.feedback_resolve(
        feedback_id=feedback.pk, state="addressed", actor=owner, note="Two packers now"
    )
    assert (done.state, done.resolved_by_id, done.resolution) == (
        FeedbackState.ADDRESSED,
        owner.pk,
        "Two packers now",
    )
    assert done.resolved_at is not None
    with pytest.raises(Conflict):
        feedback_services.feedback_resolve(feedback_id=feedback.pk, state="dismissed", actor=owner)
    assert StepFeedback.objects.get().state == FeedbackState.ADDRESSED


# ---------------------------------------------------------------- proposals


def test_an_accepted_proposal_becomes_a_draft_that_credits_its_author(
    live: tuple[Sop, Revision, User, User],
) -> None:
    sop, revision, owner, _reviewer = live
    operator = person(Role.OPERATOR, first_name="Іван", last_name="Пакувальник")
    proposal = feedback_services.proposal_make(
        sop_id=sop.pk, step_key="pack", text="Pack fragile items first", actor=operator
    )
    assert proposal.based_on_id == revision.pk
    # The owner hears of it in the app.
    assert Notification.objects.filter(recipient=owner, kind="proposal").count() == 1
    with pytest.raises(PermissionDenied):
        feedback_services.proposal_accept(proposal_id=proposal.pk, actor=operator)
    draft = feedback_services.proposal_accept(proposal_id=proposal.pk, actor=owner)
    assert draft.state == RevisionState.DRAFT and draft.based_on_id == revision.pk
    assert draft.definition == revision.definition
    assert "Іван Пакувальник" in draft.note and "Pack fragile items first" in draft.note
    proposal.refresh_from_db()
    assert (proposal.state, proposal.draft_id, proposal.decided_by_id) == (
        ProposalState.ACCEPTED,
        draft.pk,
        owner.pk,
    )
    assert Notification.objects.filter(recipient=operator, kind="proposal").count() == 1
    with pytest.raises(Conflict):
        feedback_services.proposal_accept(proposal_id=proposal.pk, actor=owner)

    # A second proposal while that draft is open: said clearly, nothing made...
    second = feedback_services.proposal_make(sop_id=sop.pk, text="Add a gift note", actor=operator)
    with pytest.raises(Conflict) as busy:
        feedback_services.proposal_accept(proposal_id=second.pk, actor=owner)
    assert busy.value.field == "draft" and f"Revision {draft.number}" in busy.value.message
    assert Revision.objects.filter(sop=sop, state=RevisionState.DRAFT).count() == 1
    # ...unless the owner adds it to that draft.
    same = feedback_services.proposal_accept(proposal_id=second.pk, actor=owner, into_draft=True)
    assert same.pk == draft.pk and "Add a gift note" in same.note
    assert set(same.proposals.values_list("pk", flat=True)) == {proposal.pk, second.pk}


def test_accepting_a_declined_proposal_is_a_conflict(
    live: tuple[Sop, Revision, User, User],
) -> None:
    sop, _revision, owner, _reviewer = live
    proposal = feedback_services.proposal_make(
        sop_id=sop.pk, text="Skip the call for repeat customers", actor=person(Role.OPERATOR)
    )
    with pytest.raises(DomainError) as no_reason:
        feedback_services.proposal_decline(proposal_id=proposal.pk, actor=owner, reason=" ")
    assert no_reason.value.field == "reason"
    feedback_services.proposal_decline(
        proposal_id=proposal.pk, actor=owner, reason="Repeat customers also change addresses"
    )
    with pytest.raises(Conflict) as caught:
        feedback_services.proposal_accept(proposal_id=proposal.pk, actor=owner)
    assert caught.value.field == "state"
    assert Revision.objects.filter(sop=sop, state=RevisionState.DRAFT).count() == 0
    assert Proposal.objects.get().decline_reason == "Repeat customers also change addresses"
    with pytest.raises(DomainError) as empty:
        feedback_services.proposal_make(sop_id=sop.pk, text="", actor=owner)
    assert empty.value.field == "text"


# ---------------------------------------------------------------- acknowledgement


def test_acknowledging_a_draft_is_refused_and_confirming_twice_is_once(
    live: tuple[Sop, Revision, User, User],
) -> None:
    sop, revision, owner, _reviewer = live
    operator = person(Role.OPERATOR)
    draft = revision_services.revision_draft_create(sop_id=sop.pk, actor=owner)
    with pytest.raises(DomainError) as caught:
        acknowledgement_services.acknowledgement_confirm(revision_id=draft.pk, actor=operator)
    assert caught.value.field == "revision_id" and "draft" in caught.value.message
    first = acknowledgement_services.acknowledgement_confirm(
        revision_id=revision.pk, actor=operator
    )
    second = acknowledgement_services.acknowledgement_confirm(
        revision_id=revision.pk, actor=operator
    )
    assert first.pk == second.pk and Acknowledgement.objects.count() == 1
    assert Event.objects.filter(event_type="sop_revision.acknowledged").count() == 1


def test_publishing_asks_the_people_who_run_it_and_the_page_shows_who_has_not(
    quiet: None,
) -> None:
    owner, reviewer = person(Role.OWNER), person(Role.MANAGER)
    operators = [person(Role.OPERATOR), person(Role.OPERATOR)]
    packer = person(Role.SUPPORT)
    team = team_create(name="Packing", lead_id=packer.pk, actor=owner)
    person(Role.VIEWER)  # runs nothing: never asked
    gone = person(Role.OPERATOR)
    User.objects.filter(pk=gone.pk).update(is_active=False)
    definition = _definition(
        task_step("confirm"),
        task_step("pack", assignee={"kind": "team", "team_id": team.pk}),
        {"kind": "email", "key": "mail", "title": "Mail", "subject": "Hi", "body": "Hello"},
    )
    sop, first = sop_live(definition=definition, owner=owner, reviewer=reviewer)
    asked = set(
        Notification.objects.filter(kind="acknowledgement_requested").values_list(
            "recipient_id", flat=True
        )
    )
    assert asked == {operators[0].pk, operators[1].pk, packer.pk}
    acknowledgement_services.acknowledgement_confirm(revision_id=first.pk, actor=operators[0])
    board = audience_selectors.acknowledgement_board(sop=sop)
    assert {row.user.pk for row in board.confirmed} == {operators[0].pk}
    assert {row.user.pk for row in board.pending} == {operators[1].pk, packer.pk}

    # A new revision: the one who read the old one is asked again and shown what changed.
    changed = _definition(
        task_step("confirm", title="Call within 15 minutes"),
        task_step("pack", assignee={"kind": "team", "team_id": team.pk}),
    )
    second = _publish(owner, reviewer, sop, changed)
    assert (
        Notification.objects.filter(
            kind="acknowledgement_requested", recipient=operators[0]
        ).count()
        == 2
    )
    board = audience_selectors.acknowledgement_board(sop=sop)
    assert board.revision is not None and board.revision.pk == second.pk
    pending = {row.user.pk: row.last_number for row in board.pending}
    assert pending == {operators[0].pk: first.number, operators[1].pk: None, packer.pk: None}

    items = audience_selectors.onboarding_list(user=operators[0])
    assert [(item.sop.pk, item.confirmed, item.confirmed_number) for item in items] == [
        (sop.pk, False, first.number)
    ]
    changes = [(line.op, line.text) for line in items[0].changes]
    assert any(op == "+" and "Call within 15 minutes" in text for op, text in changes)
    assert any(op == "-" and "Call the customer" in text for op, text in changes)
    assert all(op != " " for op, _text in changes)
    acknowledgement_services.acknowledgement_confirm(revision_id=second.pk, actor=operators[0])
    items = audience_selectors.onboarding_list(user=operators[0])
    assert items[0].confirmed and items[0].changes == []
    # The team member runs it through the team; a viewer has nothing to read.
    assert [item.sop.pk for item in audience_selectors.onboarding_list(user=packer)] == [sop.pk]
    assert audience_selectors.onboarding_list(user=person(Role.VIEWER)) == []
