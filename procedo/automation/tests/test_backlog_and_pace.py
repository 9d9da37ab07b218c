"""The backlog as a choice, pacing by a queue of rows, dates written late, runs moved at publish.

Sweeps are driven directly with their clock (`sweeps_run(now=…)`): no sleeps, no timings.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.automation.models import QueuedStart, Run, RunState
from procedo.automation.services import pacing
from procedo.automation.services.steps import runs_advance_all
from procedo.automation.services.sweeps import sweeps_run
from procedo.automation.tests.helpers import deliver, event_trigger, order, sop_live, task_step
from procedo.core.errors import DomainError
from procedo.events.models import Event
from procedo.orders.models import Order
from procedo.sops.models import Revision, RevisionState, Sop
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services
from procedo.testing import person

pytestmark = pytest.mark.django_db


def after_delivery(days: int = 2, *, steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "triggers": [
            {"kind": "date", "key": "after", "field": "delivered_at", "offset_days": days}
        ],
        "steps": steps or [task_step("thank", title="Thank the customer")],
    }


def delivered_quietly(at: datetime, total: str = "150.00") -> int:
    """An order delivered `at`, written as an import of history would (no status events)."""
    made = order(total=total).pk
    Order.objects.filter(pk=made).update(delivered_at=at)
    return made


def approved(
    definition: dict[str, Any], *, sop: Sop | None = None, owner: User | None = None
) -> tuple[Sop, Revision]:
    """An SOP (or a new revision of `sop`) reviewed and approved, not live yet."""
    owner = owner or person(Role.OWNER)
    if sop is None:
        sop = sop_services.sop_create(
            name="Paced",
            subject_type="order",
            owner_id=owner.pk,
            kpi="order_confirmation_time",
            actor=owner,
        )
        draft = sop.revisions.get()
    else:
        draft = revision_services.revision_draft_create(sop_id=sop.pk, actor=owner)
    draft = revision_services.revision_update(
        revision_id=draft.pk, definition=definition, actor=owner
    )
    revision_services.revision_transition(revision_id=draft.pk, to_state="review", actor=owner)
    revision = revision_services.revision_transition(
        revision_id=draft.pk, to_state="approved", actor=person(Role.MANAGER), comment="ok"
    )
    return sop, revision


def runs_of(sop_id: int) -> list[int]:
    return sorted(Run.objects.filter(sop_id=sop_id).values_list("subject_id", flat=True))


def test_the_backlog_is_started_once_when_chosen_and_never_when_not() -> None:
    now = timezone.now()
    old = [delivered_quietly(now - timedelta(days=d)) for d in (40, 30, 20)]
    recent = delivered_quietly(now - timedelta(days=4))  # within 2 days + the 7-day catch-up

    started, revision = sop_live(definition=after_delivery(), backlog="start", name="Start")
    skipped, _skip = sop_live(definition=after_delivery(), backlog="skip", name="Skip")

    # The choice is on the revision and in its history, with how many it was about.
    assert (revision.backlog, revision.backlog_at is not None) == ("start", True)
    move = revision.transitions.get(to_state=RevisionState.PUBLISHED)
    assert (move.backlog, move.backlog_count) == ("start", 3)
    event = Event.objects.filter(event_type="sop_revision.state_changed").latest("id")
    assert event.payload["backlog"] == "skip" and event.payload["backlog_count"] == 3

    sweeps_run(now=now)
    assert runs_of(started.pk) == sorted([*old, recent])
    assert runs_of(skipped.pk) == [recent]
    # The next minute, the hourly sweep and an hour later add nothing: once per choice.
    for later in (timedelta(minutes=1), timedelta(hours=1), timedelta(hours=2)):
        assert sweeps_run(now=now + later) == 0
    assert Run.objects.count() == 5


def test_a_backlog_choice_needs_a_date_and_a_pace_a_positive_number() -> None:
    owner = person(Role.OWNER)
    sop, draft = approved({"triggers": [event_trigger()], "steps": [task_step()]}, owner=owner)
    with pytest.raises(DomainError) as caught:
        revision_services.revision_transition(
            revision_id=draft.pk, to_state="published", actor=person(Role.MANAGER), backlog="start"
        )
    assert caught.value.field == "backlog"
    assert Revision.objects.get(pk=draft.pk).state == RevisionState.APPROVED
    for bad in (0, -3):
        with pytest.raises(DomainError) as caught:
            sop_services.sop_pace_set(sop_id=sop.pk, actor=owner, limit=bad)
        assert caught.value.field == "pace_limit"
    sop.refresh_from_db()
    assert sop.pace_limit is None

    client = Client()
    client.force_login(owner)
    answer = client.put(
        f"/api/sops/{sop.pk}/pace", {"pace_limit": 0}, content_type="application/json"
    )
    assert (answer.status_code, answer.json()["field"]) == (422, "pace_limit")
    answer = client.post(
        f"/api/sops/revisions/{draft.pk}/transition",
        {"to_state": "published", "backlog": "start"},
        content_type="application/json",
    )
    assert (answer.status_code, answer.json()["field"]) == (422, "backlog")


def test_a_paced_sop_queues_the_rest_oldest_first_and_starts_them_as_the_pace_allows() -> None:
    now = timezone.now()
    # Marks in a shuffled order of ids: the queue follows the dates, not the ids.
    days = (6, 40, 12, 30, 3)
    made = {d: delivered_quietly(now - timedelta(days=d)) for d in days}
    owner = person(Role.OWNER)
    sop, draft = approved(after_delivery(), owner=owner)
    sop_services.sop_pace_set(sop_id=sop.pk, actor=owner, limit=2, period="hour")
    revision_services.revision_transition(
        revision_id=draft.pk, to_state="published", actor=person(Role.MANAGER), backlog="start"
    )

    assert sweeps_run(now=now) == 2
    oldest_first = [made[d] for d in sorted(days, reverse=True)]
    assert runs_of(sop.pk) == sorted(oldest_first[:2])
    queued = list(
        QueuedStart.objects.order_by("mark_at", "id").values_list("subject_id", flat=True)
    )
    assert queued == oldest_first[2:]
    live_sop = pacing.live_sop(sop.pk)
    state = pacing.queue_state(live_sop, sop_id=sop.pk, now=now)
    assert (state.waiting, state.pace, state.free_now) == (3, 2, 0)
    assert state.drained_by == now + timedelta(hours=2)
    client = Client()
    client.force_login(owner)
    answer = client.get(f"/api/sops/{sop.pk}/queue").json()
    assert (answer["waiting"], [row["subject_id"] for row in answer["first"]]) == (3, queued)

    # Within the hour nothing more starts; then two, then the last one, each once.
    assert sweeps_run(now=now + timedelta(minutes=59)) == 0
    assert live_sop is not None
    with CaptureQueriesContext(connection) as queries:
        assert pacing.queue_drain(live_sop, now=now + timedelta(hours=1, seconds=1)) == 2
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1 and "LIMIT" in inserts[0]  # one INSERT … SELECT for the batch
    # The pace lifted: the last one starts at the next minute, not at the next hour.
    sop_services.sop_pace_set(sop_id=sop.pk, actor=owner, limit=None)
    assert sweeps_run(now=now + timedelta(hours=1, minutes=1)) == 1
    assert runs_of(sop.pk) == sorted(oldest_first)
    assert not QueuedStart.objects.exists()
    assert sweeps_run(now=now + timedelta(hours=3)) == 0

    # Per assignee: the pace holds for each person the first task may go to.
    person(Role.OPERATOR), person(Role.OPERATOR)
    sop_services.sop_pace_set(sop_id=sop.pk, actor=owner, limit=3, per_assignee=True)
    live_sop = pacing.live_sop(sop.pk)
    assert live_sop is not None and pacing.pace_of(live_sop) == 6


def test_a_back_dated_delivery_starts_its_run_within_two_sweeps_of_a_minute() -> None:
    now = timezone.now()
    sop, _revision = sop_live(definition=after_delivery(2))
    assert sweeps_run(now=now) == 0
    assert sweeps_run(now=now + timedelta(minutes=1)) == 0
    # Delivered three days ago, recorded only now: far behind the minute's mark.
    late = order().pk
    deliver(late, at=now - timedelta(days=3))
    found = 0
    for minute in (2, 3):
        found += sweeps_run(now=now + timedelta(minutes=minute))
        if found:
            break
    assert runs_of(sop.pk) == [late]
    assert sweeps_run(now=now + timedelta(hours=1, minutes=5)) == 0  # the hourly net: no twin


def _routed(*, call: str = "call", wait: str = "pause") -> dict[str, Any]:
    """A big order goes to a person at once; a small one waits a day first."""
    return after_delivery(
        steps=[
            {
                "kind": "branch",
                "key": "route",
                "title": "Big order?",
                "conditions": {"rules": [{"field": "total", "op": "gt", "value": "100"}]},
                "then_step": call,
                "else_step": wait,
            },
            {"kind": "wait", "key": wait, "title": "Wait a day", "minutes": 1440},
            task_step(call, title="Call the customer"),
        ]
    )


def test_runs_between_steps_move_onto_the_new_revision_and_the_rest_stay() -> None:
    now = timezone.now()
    small = delivered_quietly(now - timedelta(days=3), total="50.00")
    big = delivered_quietly(now - timedelta(days=3), total="500.00")
    sop, first = sop_live(definition=_routed())
    sweeps_run(now=now)
    runs_advance_all(now=now)
    waiting = Run.objects.get(sop=sop, subject_id=small)
    working = Run.objects.get(sop=sop, subject_id=big)
    assert (waiting.current_step, working.current_step) == ("pause", "call")

    # A revision without the step the waiting run is in: moving it is refused, nothing moves.
    _sop, lacking = approved(_routed(wait="linger"), sop=sop)
    with pytest.raises(DomainError) as caught:
        revision_services.revision_transition(
            revision_id=lacking.pk,
            to_state="published",
            actor=person(Role.MANAGER),
            move_run_ids=[waiting.pk],
        )
    assert caught.value.field == "move_run_ids"
    assert Revision.objects.get(pk=lacking.pk).state == RevisionState.APPROVED
    assert set(Run.objects.values_list("revision_id", flat=True)) == {first.pk}

    _sop, second = sop_live(sop=sop, definition=_routed(call="call_back"), move_runs=True)
    assert (second.runs_moved.moved, second.runs_moved.stayed) == ([waiting.pk], [working.pk])
    waiting.refresh_from_db()
    working.refresh_from_db()
    assert (waiting.revision_id, working.revision_id) == (second.pk, first.pk)
    # The moved run goes on by the new revision once its wait ends.
    runs_advance_all(now=now + timedelta(days=1, minutes=1))
    waiting.refresh_from_db()
    assert (waiting.current_step, waiting.state) == ("call_back", RunState.WAITING)
