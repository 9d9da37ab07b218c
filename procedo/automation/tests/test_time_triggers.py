"""Time-based triggers (R4): swept twice, clock shifts, DST, downtime: each due subject once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from procedo.automation.models import Run, RunState
from procedo.automation.services import steps as executor
from procedo.automation.services.sweeps import epoch, sweeps_run
from procedo.automation.tests.helpers import (
    customer,
    delivered,
    sop_live,
    task_step,
)
from procedo.business.services import business_update
from procedo.orders.services.statuses import order_change_status
from procedo.sops import live
from procedo.sops.matching import date_window
from procedo.sops.models import Revision
from procedo.work.models import Task

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

KYIV = ZoneInfo("Europe/Kyiv")


def after_delivery(days: int, *, catch_up: int = 7, **extra: Any) -> dict[str, Any]:
    return {
        "triggers": [
            {
                "kind": "date",
                "key": "after",
                "field": "delivered_at",
                "offset_days": days,
                "catch_up_days": catch_up,
                "conditions": {
                    "rules": [{"field": "status_category", "op": "eq", "value": "delivered"}]
                },
            }
        ],
        "steps": [task_step("thank", title="Thank the customer")],
        **extra,
    }


def started() -> dict[int, str]:
    return dict(Run.objects.values_list("subject_id", "occurrence_key"))


def test_a_date_trigger_starts_each_due_subject_once_in_one_statement(
    django_assert_max_num_queries: Any,
) -> None:
    now = timezone.now()
    sop_live(definition=after_delivery(3))
    not_yet = delivered(now - timedelta(days=2))
    due = delivered(now - timedelta(days=3, hours=1))
    due_earlier = delivered(now - timedelta(days=5))
    too_old = delivered(now - timedelta(days=20))
    returned = delivered(now - timedelta(days=4))
    order_change_status(order_id=returned, to_status="returned", actor=None, idempotency_key=None)

    with django_assert_max_num_queries(10):
        assert sweeps_run(now=now) == 2
    runs = started()
    assert set(runs) == {due, due_earlier}
    from procedo.orders.models import Order

    moment = Order.objects.get(pk=due).delivered_at
    assert moment is not None and runs[due] == f"after@{epoch(moment)}"
    assert not_yet not in runs and too_old not in runs

    assert sweeps_run(now=now) == 0
    assert sweeps_run(now=now + timedelta(seconds=30)) == 0
    executor.runs_advance(now=now)
    assert Task.objects.filter(title="Thank the customer").count() == 2


def test_clock_shifts_reach_each_due_subject_exactly_once() -> None:
    now = timezone.now()
    sop_live(definition=after_delivery(3))
    ids = [delivered(now - timedelta(days=3, hours=h)) for h in (-20, -5, 1, 10)]
    assert sweeps_run(now=now) == 2
    assert sweeps_run(now=now + timedelta(days=1)) == 2  # the clock jumps a day ahead
    assert sweeps_run(now=now - timedelta(days=1)) == 0  # and a day back
    assert sweeps_run(now=now) == 0
    assert sorted(started()) == sorted(ids)
    assert Run.objects.count() == 4


def test_three_days_of_downtime_are_caught_up_once() -> None:
    start = timezone.now()
    sop_live(definition=after_delivery(2, catch_up=7))
    # Delivered every 6 hours from 2 days before the outage to 1¾ days into it.
    ids = [delivered(start - timedelta(days=2) + timedelta(hours=6 * i)) for i in range(16)]
    sweeps_run(now=start)
    assert set(started()) == {ids[0]}
    # Down for three days: no sweep at all, then one.
    sweeps_run(now=start + timedelta(days=3))
    after = started()
    # Due = delivered + 2 days <= start + 3 days: the first 13.
    assert set(after) == {ids[i] for i in range(13)}
    # A sweep every hour instead would have started exactly the same runs.
    Run.objects.all().delete()
    for hour in range(0, 73):
        sweeps_run(now=start + timedelta(hours=hour))
    assert started() == after


def test_due_dates_follow_the_business_wall_clock_across_dst() -> None:
    business_update(name="Крамниця", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)
    _sop, revision = sop_live(definition=after_delivery(1))
    Revision.objects.filter(pk=revision.pk).update(
        state_changed_at=datetime(2025, 1, 1, tzinfo=UTC)
    )
    # Saturday 10:00 in Kyiv (EET, UTC+2); the clocks go forward that night.
    saturday = datetime(2025, 3, 29, 10, 0, tzinfo=KYIV)
    made = delivered(saturday.astimezone(UTC))
    # "1 day after" is Sunday 10:00 on the wall clock: 07:00 UTC, 23 hours later.
    after, until = date_window(
        now=datetime(2025, 3, 30, 7, 0, tzinfo=UTC), zone=KYIV, offset_days=1, catch_up_days=7
    )
    assert until == saturday.astimezone(UTC)
    assert sweeps_run(now=datetime(2025, 3, 30, 6, 59, tzinfo=UTC)) == 0
    assert sweeps_run(now=datetime(2025, 3, 30, 7, 0, tzinfo=UTC)) == 1
    assert list(started()) == [made]
    assert after < until


def test_a_daily_schedule_runs_once_per_day_at_local_nine_across_dst() -> None:
    business_update(name="Крамниця", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)
    definition = {
        "triggers": [{"kind": "schedule", "key": "daily", "every": "day", "time": "09:00"}],
        "steps": [task_step("review", title="Review yesterday's orders")],
    }
    _sop, revision = sop_live(definition=definition, subject_type="business", name="Daily review")
    Revision.objects.filter(pk=revision.pk).update(
        state_changed_at=datetime(2025, 3, 28, 12, 0, tzinfo=UTC)  # live after that day's slot
    )
    moment = datetime(2025, 3, 29, 0, 0, tzinfo=UTC)
    while moment < datetime(2025, 4, 1, 0, 0, tzinfo=UTC):
        sweeps_run(now=moment)
        sweeps_run(now=moment)  # two workers on one tick
        moment += timedelta(minutes=30)
    slots = sorted(
        key.split("@")[1] for key in Run.objects.values_list("occurrence_key", flat=True)
    )
    assert [
        datetime.fromtimestamp(int(s), UTC).astimezone(KYIV).strftime("%d %H:%M") for s in slots
    ] == [
        "29 09:00",
        "30 09:00",
        "31 09:00",
    ]
    assert [datetime.fromtimestamp(int(s), UTC).hour for s in slots] == [7, 6, 6]


def test_a_weekly_schedule_catches_up_only_its_latest_slot() -> None:
    definition = {
        "triggers": [
            {
                "kind": "schedule",
                "key": "monday",
                "every": "week",
                "weekdays": [0],
                "time": "09:00",
                "catch_up_days": 10,
            }
        ],
        "steps": [task_step("plan", title="Plan the week")],
    }
    _sop, revision = sop_live(definition=definition, subject_type="business", name="Weekly plan")
    Revision.objects.filter(pk=revision.pk).update(
        state_changed_at=datetime(2025, 1, 1, tzinfo=UTC)
    )
    # Wednesday 2025-06-11: Monday the 9th is the latest slot; the 2nd is older.
    assert sweeps_run(now=datetime(2025, 6, 11, 12, 0, tzinfo=UTC)) == 1
    assert sweeps_run(now=datetime(2025, 6, 12, 12, 0, tzinfo=UTC)) == 0
    key = Run.objects.get().occurrence_key
    assert key == f"monday@{epoch(datetime(2025, 6, 9, 9, 0, tzinfo=KYIV))}"


def test_no_order_for_365_days_reaches_each_lapsed_customer_once() -> None:
    from procedo.customers.models import Customer

    now = timezone.now()
    definition = {
        "triggers": [
            {
                "kind": "date",
                "key": "lapsed",
                "field": "last_order_at",
                "offset_days": 365,
                "conditions": {"rules": [{"field": "orders_count", "op": "gte", "value": 1}]},
            }
        ],
        "steps": [{"kind": "add_tag", "key": "tag", "title": "Mark lapsed", "tag": "lapsed"}],
    }
    sop_live(definition=definition, subject_type="customer", name="Win back")
    lapsed = customer()
    recent = customer()
    Customer.objects.filter(pk=lapsed.pk).update(
        last_order_at=now - timedelta(days=366), orders_count=2
    )
    Customer.objects.filter(pk=recent.pk).update(
        last_order_at=now - timedelta(days=30), orders_count=1
    )
    assert sweeps_run(now=now) == 1
    assert sweeps_run(now=now) == 0
    # They order again and lapse again a year later: a new occurrence.
    Customer.objects.filter(pk=lapsed.pk).update(last_order_at=now - timedelta(days=10))
    assert sweeps_run(now=now + timedelta(days=356)) == 1
    assert Run.objects.filter(subject_id=lapsed.pk).count() == 2
    executor.runs_advance_all(now=now + timedelta(days=356))
    assert set(Run.objects.values_list("state", flat=True)) == {RunState.COMPLETED}
    assert lapsed.tags.filter(name="lapsed").exists()


def test_a_sweep_keeps_the_holdout_and_pilot_groups_of_the_stable_hash() -> None:
    now = timezone.now()
    sop, published = sop_live(definition=after_delivery(1), holdout_percent=20)
    _sop, pilot = sop_live(
        definition=after_delivery(1), sop=sop, owner=sop.owner, state="pilot", pilot_percent=50
    )
    ids = [delivered(now - timedelta(days=1, hours=2)) for _ in range(40)]
    assert sweeps_run(now=now) == 40
    runs = {r.subject_id: r for r in Run.objects.all()}
    holdout, pilot_salt = live.salt(sop.pk, "holdout"), live.salt(sop.pk, "pilot")
    for pk in ids:
        assert (runs[pk].state == RunState.HELD_OUT) == (live.bucket(pk, holdout) < 20)
        expected = pilot.pk if live.bucket(pk, pilot_salt) < 50 else published.pk
        assert runs[pk].revision_id == expected
