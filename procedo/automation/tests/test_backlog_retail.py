"""A win-back SOP published over the real retail history reaches the backlog by choice, paced.

A tenth of the file is imported (as test_impact does); each customer's last order is their
history, and the clock is set after the file's end, past the year and the catch-up window:
every customer is silent, and all of them are backlog.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Max

from procedo.accounts.roles import Role
from procedo.analytics.tests.test_retail import RETAIL, _subset
from procedo.automation.models import QueuedStart, Run, RunState
from procedo.automation.services.sweeps import sweeps_run
from procedo.automation.tests.helpers import sop_live, task_step
from procedo.business.services import business_update
from procedo.customers.models import Customer
from procedo.sops import live
from procedo.sops.services import sops as sop_services
from procedo.testing import person

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.skipif(
        not RETAIL.exists(), reason="../shared/data/retail is not beside the project"
    ),
]

PACE = 150
HOLDOUT = 20


def win_back() -> dict[str, object]:
    return {
        "triggers": [
            {"kind": "date", "key": "silent", "field": "last_order_at", "offset_days": 365}
        ],
        "steps": [task_step("call", title="Call to win them back")],
    }


def test_a_win_back_over_the_retail_history_reaches_the_backlog_once_at_its_pace(
    tmp_path: Path,
) -> None:
    business_update(name="Gift shop", time_zone="Europe/London", currency="GBP", actor_id=None)
    path = tmp_path / "retail-tenth.csv"
    _subset(path)
    call_command(
        "import", "orders", str(path), "--source", "retail", "--currency", "GBP",
        "--timezone", "Europe/London",
    )  # fmt: skip
    silent = set(Customer.objects.filter(last_order_at__isnull=False).values_list("pk", flat=True))
    assert len(silent) > 2 * PACE  # the queue takes more than one hour to drain
    end = Customer.objects.aggregate(end=Max("last_order_at"))["end"]
    now = end + timedelta(days=365 + 8)  # past the year and the 7-day catch-up window

    owner = person(Role.OWNER)
    # Sweeps run only when driven here: the pace set after publishing holds from the first.
    start, first = sop_live(
        definition=win_back(),
        subject_type="customer",
        name="Win back: the backlog too",
        holdout_percent=HOLDOUT,
        owner=owner,
        backlog="start",
    )
    sop_services.sop_pace_set(sop_id=start.pk, actor=owner, limit=PACE, period="hour")
    skip, _skip = sop_live(
        definition=win_back(), subject_type="customer", name="Win back: from now on",
        backlog="skip", owner=owner,
    )  # fmt: skip
    assert first.transitions.get(to_state="published").backlog_count == len(silent)

    hours = 0
    while hours == 0 or QueuedStart.objects.exists():
        started_now = sweeps_run(now=now + timedelta(hours=hours, seconds=hours))
        assert started_now <= PACE
        hours += 1
        assert hours < 10
    assert hours == -(-len(silent) // PACE)  # every hour a whole pace, the rest the last

    runs = Run.objects.filter(sop=start)
    assert Counter(runs.values_list("subject_id", flat=True)) == Counter(silent)  # each once
    per_hour = Counter(run.created_at.replace(minute=0, second=0) for run in runs)
    assert max(per_hour.values()) <= PACE
    held = set(runs.filter(state=RunState.HELD_OUT).values_list("subject_id", flat=True))
    salt = live.salt(start.pk, "holdout")
    assert held == {pk for pk in silent if live.bucket(pk, salt) < HOLDOUT}
    assert 0 < len(held) < len(silent)
    assert not Run.objects.filter(sop=skip).exists()  # "from now on": none of them

    # A replay of the sweeps and a second publish with the same choice add nothing.
    for later in (1, 30, 400):
        assert sweeps_run(now=now + timedelta(hours=hours + later)) == 0
    sop_live(sop=start, definition=win_back(), subject_type="customer", backlog="start")
    for later in (500, 501):
        assert sweeps_run(now=now + timedelta(hours=hours + later)) == 0
    assert Run.objects.filter(sop=start).count() == len(silent)
    assert not QueuedStart.objects.exists()
