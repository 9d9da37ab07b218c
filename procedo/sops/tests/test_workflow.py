"""The revision workflow: review by another lead, one published revision, immutable once live."""

from __future__ import annotations

import pytest

from procedo.accounts.roles import Role
from procedo.accounts.services import team_create
from procedo.automation.tests.helpers import event_trigger, person, sop_live, task_step
from procedo.core.errors import Conflict, DomainError, PermissionDenied
from procedo.events.models import Event
from procedo.sops.models import Revision, RevisionState, RevisionTransition
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services

pytestmark = pytest.mark.django_db

DEFINITION = {"triggers": [event_trigger()], "steps": [task_step()]}


def test_an_sop_starts_with_a_draft_and_its_fields_are_checked() -> None:
    owner = person(Role.OWNER)
    sop = sop_services.sop_create(
        name="  Confirm   new orders ",
        subject_type="order",
        owner_id=owner.pk,
        kpi="order_confirmation_time",
        kpi_target="15",
        goal="Fast confirmation",
        why="Customers cancel orders nobody confirms",
        actor=owner,
    )
    assert sop.name == "Confirm new orders"
    assert [(r.number, r.state) for r in sop.revisions.all()] == [(1, RevisionState.DRAFT)]
    assert Event.objects.filter(event_type="sop.created", subject_id=sop.pk).exists()
    with pytest.raises(DomainError) as bad_kpi:
        sop_services.sop_update(sop_id=sop.pk, actor=owner, kpi="happiness")
    assert bad_kpi.value.field == "kpi"
    with pytest.raises(DomainError) as window:
        sop_services.sop_update(sop_id=sop.pk, actor=owner, kpi="repeat_purchase_rate")
    assert window.value.field == "kpi_window_days"
    with pytest.raises(DomainError) as holdout:
        sop_services.sop_update(sop_id=sop.pk, actor=owner, holdout_percent=70)
    assert holdout.value.field == "holdout_percent"


def test_review_needs_another_manager_or_owner_and_every_move_is_recorded() -> None:
    author = person(Role.MANAGER)
    operator = person(Role.OPERATOR)
    reviewer = person(Role.OWNER)
    sop = sop_services.sop_create(
        name="Call VIPs",
        subject_type="order",
        owner_id=author.pk,
        kpi="delivery_rate",
        actor=author,
    )
    draft = sop.revisions.get()
    with pytest.raises(DomainError) as empty:
        revision_services.revision_transition(revision_id=draft.pk, to_state="review", actor=author)
    assert empty.value.field == "definition"
    revision_services.revision_update(revision_id=draft.pk, definition=DEFINITION, actor=author)
    revision_services.revision_transition(
        revision_id=draft.pk, to_state="review", actor=author, comment="v1"
    )

    with pytest.raises(PermissionDenied) as own:
        revision_services.revision_transition(
            revision_id=draft.pk, to_state="approved", actor=author
        )
    assert "author" in own.value.message
    with pytest.raises(PermissionDenied):
        revision_services.revision_transition(
            revision_id=draft.pk, to_state="approved", actor=operator
        )
    with pytest.raises(DomainError) as no_reason:
        revision_services.revision_transition(
            revision_id=draft.pk, to_state="draft", actor=reviewer
        )
    assert no_reason.value.field == "comment"

    revision_services.revision_transition(
        revision_id=draft.pk, to_state="approved", actor=reviewer, comment="Looks right"
    )
    with pytest.raises(Conflict):
        revision_services.revision_transition(
            revision_id=draft.pk, to_state="review", actor=reviewer
        )
    revision_services.revision_transition(
        revision_id=draft.pk, to_state="published", actor=reviewer
    )

    moves = list(
        RevisionTransition.objects.filter(revision=draft).values_list(
            "from_state", "to_state", "actor_id", "comment"
        )
    )
    assert moves == [
        ("draft", "review", author.pk, "v1"),
        ("review", "approved", reviewer.pk, "Looks right"),
        ("approved", "published", reviewer.pk, ""),
    ]
    assert Event.objects.filter(event_type="sop_revision.state_changed").count() == 3


def test_one_published_revision_and_live_revisions_never_change() -> None:
    owner = person(Role.OWNER)
    reviewer = person(Role.MANAGER)
    sop, first = sop_live(definition=DEFINITION, owner=owner, reviewer=reviewer)

    changed = {"triggers": [event_trigger()], "steps": [task_step(title="Call within 5 min")]}
    edited = revision_services.revision_update(
        revision_id=first.pk, definition=changed, actor=owner
    )
    assert edited.pk != first.pk and edited.state == RevisionState.DRAFT
    assert edited.number == 2 and edited.based_on_id == first.pk
    first.refresh_from_db()
    assert first.definition["steps"][0]["title"] == "Call the customer"

    revision_services.revision_transition(revision_id=edited.pk, to_state="review", actor=owner)
    revision_services.revision_transition(
        revision_id=edited.pk, to_state="approved", actor=reviewer
    )
    revision_services.revision_transition(
        revision_id=edited.pk, to_state="published", actor=reviewer
    )
    states = dict(Revision.objects.filter(sop=sop).values_list("number", "state"))
    assert states == {1: RevisionState.RETIRED, 2: RevisionState.PUBLISHED}
    retired = RevisionTransition.objects.get(revision=first, to_state="retired")
    assert retired.comment == "Replaced by revision 2."


def test_a_pilot_runs_for_a_team_or_a_percentage_not_both() -> None:
    owner = person(Role.OWNER)
    reviewer = person(Role.MANAGER)
    team = team_create(name="Night shift", lead_id=None, actor=owner)
    sop, _published = sop_live(definition=DEFINITION, owner=owner, reviewer=reviewer)
    draft = revision_services.revision_draft_create(sop_id=sop.pk, actor=owner)
    revision_services.revision_transition(revision_id=draft.pk, to_state="review", actor=owner)
    revision_services.revision_transition(revision_id=draft.pk, to_state="approved", actor=reviewer)
    with pytest.raises(DomainError) as neither:
        revision_services.revision_transition(
            revision_id=draft.pk, to_state="pilot", actor=reviewer
        )
    assert neither.value.field == "pilot_team_id"
    with pytest.raises(DomainError):
        revision_services.revision_transition(
            revision_id=draft.pk,
            to_state="pilot",
            actor=reviewer,
            pilot_team_id=team.pk,
            pilot_percent=10,
        )
    piloted = revision_services.revision_transition(
        revision_id=draft.pk, to_state="pilot", actor=reviewer, pilot_team_id=team.pk
    )
    assert piloted.state == RevisionState.PILOT and piloted.pilot_team_id == team.pk
    assert Revision.objects.filter(sop=sop, state=RevisionState.PUBLISHED).count() == 1
    # Piloted revisions are immutable too.
    again = revision_services.revision_update(
        revision_id=piloted.pk, definition=DEFINITION, actor=owner
    )
    assert again.pk != piloted.pk


def test_the_database_refuses_a_second_published_revision() -> None:
    from django.db import IntegrityError, transaction

    sop, published = sop_live(definition=DEFINITION)
    other = Revision.objects.create(sop=sop, number=9, definition=DEFINITION)
    with pytest.raises(IntegrityError), transaction.atomic():
        Revision.objects.filter(pk=other.pk).update(state=RevisionState.PUBLISHED)
    assert published.state == RevisionState.PUBLISHED
