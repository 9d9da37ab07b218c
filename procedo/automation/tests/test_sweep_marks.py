"""Sweep marks: the minute's sweep reads only dates near its mark, the hourly one the whole window.

The mark is a shortcut: whatever it says, each due subject gets exactly one run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from procedo.automation.models import Run, SweepMark
from procedo.automation.services.sweeps import FULL_EVERY, MARK_OVERLAP, sweeps_run
from procedo.automation.tests.helpers import delivered, order, sop_live, task_step
from procedo.orders.models import Order

pytestmark = pytest.mark.django_db


def after_delivery(days: int, *, catch_up: int = 7) -> dict[str, Any]:
    return {
        "triggers": [
            {
                "kind": "date",
                "key": "after",
                "field": "delivered_at",
                "offset_days": days,
                "catch_up_days": catch_up,
            }
        ],
        "steps": [task_step("thank", title="Thank the customer")],
    }


def quietly_delivered(at: datetime) -> int:
    """An order whose delivery date is written by no event the sweeps watch."""
    made = order().pk
    Order.objects.filter(pk=made).update(delivered_at=at)
    return made


def started() -> list[int]:
    return sorted(Run.objects.values_list("subject_id", flat=True))


def test_the_minute_sweep_reads_near_its_mark_and_the_hourly_one_the_whole_window() -> None:
    now = timezone.now()
    _sop, revision = sop_live(definition=after_delivery(3))
    first = delivered(now - timedelta(days=4))
    assert sweeps_run(now=now) == 1
    mark = SweepMark.objects.get(revision_id=revision.pk, trigger_key="after")
    assert mark.full_at == now

    # Written late, by nothing the sweep watches (a plain UPDATE): due two days ago, far
    # behind the mark, so only the hourly sweep reaches it.
    late = quietly_delivered(now - timedelta(days=5))
    # Falls due between two minute sweeps: the band after the mark reaches it.
    fresh = quietly_delivered(now - timedelta(days=3) + timedelta(seconds=30))
    assert sweeps_run(now=now + timedelta(minutes=1)) == 1
    assert started() == sorted([first, fresh])

    # The hourly sweep reads the whole catch-up window again: the late one, once.
    assert sweeps_run(now=now + FULL_EVERY - timedelta(minutes=1)) == 0
    assert sweeps_run(now=now + FULL_EVERY) == 1
    assert sweeps_run(now=now + FULL_EVERY + timedelta(minutes=1)) == 0
    assert started() == sorted([first, fresh, late])
    assert Run.objects.count() == 3


def test_a_date_written_within_the_overlap_is_reached_by_the_next_minute() -> None:
    now = timezone.now()
    sop_live(definition=after_delivery(3))
    assert sweeps_run(now=now) == 0
    # A transaction that wrote its date before the last sweep but committed after it.
    slow = delivered(now - timedelta(days=3) - MARK_OVERLAP / 2)
    assert sweeps_run(now=now + timedelta(minutes=1)) == 1
    assert started() == [slow]


def test_the_clock_set_back_sweeps_the_whole_window() -> None:
    now = timezone.now()
    sop_live(definition=after_delivery(3))
    assert sweeps_run(now=now) == 0
    late = delivered(now - timedelta(days=5))
    assert sweeps_run(now=now - timedelta(days=1)) == 1
    assert started() == [late]


def test_sweeping_every_ten_minutes_starts_what_one_sweep_at_the_end_does() -> None:
    start = timezone.now()
    sop_live(definition=after_delivery(1, catch_up=2))
    # Delivered every 17 minutes across a day and a half, some written "late" meanwhile.
    ids = [
        delivered(start - timedelta(days=1, hours=12) + timedelta(minutes=17 * i))
        for i in range(120)
    ]
    moment = start
    while moment <= start + timedelta(hours=30):
        sweeps_run(now=moment)
        sweeps_run(now=moment)  # two workers on one tick
        moment += timedelta(minutes=10)
    last = moment - timedelta(minutes=10)
    swept = started()
    assert len(swept) == len(set(swept))

    Run.objects.all().delete()
    SweepMark.objects.all().delete()
    sweeps_run(now=last)
    once = started()
    # Due = delivered + 1 day <= the last sweep, and within its two-day catch-up window.
    assert once == sorted(ids) == swept
