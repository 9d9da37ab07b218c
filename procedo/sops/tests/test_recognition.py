"""The recognition board: SOP work done on time per person, and proposals that were published."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.automation.tests.helpers import event_trigger, person, sop_live, task_step
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.sops.selectors import feedback as feedback_selectors
from procedo.sops.services import feedback as feedback_services
from procedo.sops.services import revisions as revision_services
from procedo.work.models import Task, TaskState

pytestmark = pytest.mark.django_db


def _task(who: User | None, *, done_at: datetime, due_at: datetime | None, **extra: Any) -> Task:
    """An SOP task as the engine leaves it once done (run ids need no row here)."""
    fields: dict[str, Any] = {
        "title": "Call the customer",
        "run_id": 1,
        "run_step_id": 1,
        "state": TaskState.DONE,
        "completed_by": who,
        "completed_at": done_at,
        "due_at": due_at,
        **extra,
    }
    return Task.objects.create(**fields)


def test_period_bounds_are_in_the_business_time_zone() -> None:
    zone = business_get().zone  # Europe/Kyiv until the owner saves another
    now = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)  # a Saturday
    since, until = feedback_selectors.period_bounds("last_month", now=now, zone=zone)
    assert (since, until) == (
        datetime(2025, 11, 30, 22, 0, tzinfo=UTC),
        datetime(2025, 12, 31, 22, 0, tzinfo=UTC),
    )
    since, until = feedback_selectors.period_bounds("quarter", now=now, zone=zone)
    assert (
        since.astimezone(zone).date().isoformat(),
        until.astimezone(zone).date().isoformat(),
    ) == (
        "2026-01-01",
        "2026-04-01",
    )
    since, until = feedback_selectors.period_bounds("week", now=now, zone=zone)
    assert since.astimezone(zone).isoformat() == "2026-01-05T00:00:00+02:00"
    assert until - since == timedelta(days=7)
    # 23:30 UTC on the 31st is already the 1st in Kyiv: "this month" is February there.
    since, _until = feedback_selectors.period_bounds(
        "month", now=datetime(2026, 1, 31, 23, 30, tzinfo=UTC), zone=zone
    )
    assert since.astimezone(zone).date().isoformat() == "2026-02-01"
    with pytest.raises(DomainError) as caught:
        feedback_selectors.period_bounds("year", now=now, zone=zone)
    assert caught.value.field == "period"


def test_work_done_on_time_and_published_proposals_per_person(
    quiet: None, django_assert_num_queries: Any
) -> None:
    now = timezone.now()
    since, _until = feedback_selectors.period_bounds("week", now=now, zone=business_get().zone)
    alice = person(Role.OPERATOR, first_name="Alice", last_name="A")
    bob = person(Role.OPERATOR, first_name="Bob", last_name="B")
    carol = person(Role.SUPPORT, first_name="Carol", last_name="C")
    start = since + timedelta(minutes=30)
    # Alice: two on time, one late, one with no due time (never late): 3 of 4.
    _task(alice, done_at=start, due_at=start + timedelta(minutes=5))
    _task(alice, done_at=start, due_at=start)  # on the minute is on time
    _task(alice, done_at=start + timedelta(minutes=20), due_at=start)
    _task(alice, done_at=start, due_at=None)
    # Bob: one on time; the rest is not SOP work done in the week.
    _task(bob, done_at=start, due_at=start + timedelta(hours=1))
    _task(bob, done_at=start, due_at=start, run_id=None, run_step_id=None)  # made by hand
    _task(bob, done_at=start, due_at=start, state=TaskState.SKIPPED)
    _task(bob, done_at=since - timedelta(minutes=1), due_at=since)  # the week before
    _task(None, done_at=start, due_at=start)  # nobody to credit

    # Carol's proposal became a revision that was published: credited. Another
    # accepted one whose draft is still a draft is not (yet).
    owner, reviewer = person(Role.OWNER), person(Role.MANAGER)
    definition = {"triggers": [event_trigger()], "steps": [task_step()]}
    sop, _published = sop_live(definition=definition, owner=owner, reviewer=reviewer)
    proposal = feedback_services.proposal_make(sop_id=sop.pk, text="Call before noon", actor=carol)
    draft = feedback_services.proposal_accept(proposal_id=proposal.pk, actor=owner)
    revision_services.revision_transition(revision_id=draft.pk, to_state="review", actor=owner)
    revision_services.revision_transition(
        revision_id=draft.pk, to_state="approved", actor=reviewer, comment="ok"
    )
    revision_services.revision_transition(
        revision_id=draft.pk, to_state="published", actor=reviewer
    )
    other, _rev = sop_live(definition=definition, owner=owner, reviewer=reviewer, name="Other")
    waiting = feedback_services.proposal_make(sop_id=other.pk, text="Shorter script", actor=bob)
    feedback_services.proposal_accept(proposal_id=waiting.pk, actor=owner)

    # Aggregated in SQL: the business, the tasks, the proposals, the people.
    with django_assert_num_queries(4):
        board = feedback_selectors.recognition(period="week", now=now)
    rows = [
        (str(r.user), r.done, r.on_time, r.late, r.on_time_rate, r.credited) for r in board.rows
    ]
    assert rows == [
        ("Alice A", 4, 3, 1, 75, 0),
        ("Bob B", 1, 1, 0, 100, 0),
        ("Carol C", 0, 0, 0, None, 1),
    ]
    # The week before knows only the task done a minute before this week began.
    before = feedback_selectors.recognition(period="week", now=now - timedelta(days=7))
    assert [(str(r.user), r.done, r.on_time, r.credited) for r in before.rows] == [
        ("Bob B", 1, 1, 0)
    ]
