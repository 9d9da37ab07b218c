"""B3b: a win-back SOP's backfill over 1,000,000 customers vs a bare INSERT … SELECT.

"No order in 12 months" published with "start for the backlog too" and no pace:
the first sweep starts a run for every customer whose last order is more than a
year ago, however long ago (last orders spread over 3,000 days, so about 88 %
of them). Baseline: a plain INSERT … SELECT of the same run rows, no conflict
check, no holdout hash (goal: ratio >= 0.5). A second sweep must insert 0 rows.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from bench.b3_sweeps import _ago, _insert_series, _sop
from bench.timing import measure, report
from procedo.automation.models import SweepMark
from procedo.automation.services.runs import RUN_COLUMNS
from procedo.automation.services.sweeps import sweeps_run
from procedo.customers.models import Customer
from procedo.sops.models import Revision, RevisionState

DAYS = 3000


def _fill(n: int) -> None:
    moment = _ago(f"((CAST(i AS BIGINT) * 7919) %% {DAYS * 86_400})")
    with transaction.atomic():
        _insert_series(
            Customer,
            n,
            {
                "first_name": "'B3b'",
                "last_name": "'Customer ' || i",
                "country": "'UA'",
                "created_at": moment,
                "last_order_at": moment,
                "orders_count": "1 + i %% 5",
                "lifetime_value": "100",
            },
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _clear_runs() -> None:
    """No runs left, by plain SQL: Django's collector would send 900,000 ids in one IN list
    (more variables than SQLite takes). TRUNCATE on PostgreSQL, as B3 explains."""
    SweepMark.objects.all().delete()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE automation_run, automation_runstep")
        else:
            cursor.execute("DELETE FROM automation_runstep")
            cursor.execute("DELETE FROM automation_run")


def run(*, scale: float) -> None:
    n = max(10_000, int(1_000_000 * scale))
    _fill(n)
    trigger = {
        "kind": "date",
        "key": "lapsed",
        "field": "last_order_at",
        "offset_days": 365,
        "catch_up_days": 7,
    }
    published = _sop("B3b win-back with its backlog", "customer", trigger)
    # Published by _sop without a choice: choose now, as a publisher does on the page.
    Revision.objects.filter(pk=published.pk).update(backlog="start", backlog_at=timezone.now())
    now = timezone.now() + timedelta(seconds=1)
    until = now - timedelta(days=365)
    at = connection.ops.adapt_datetimefield_value(now)
    from_where = "FROM customers_customer WHERE merged_into_id IS NULL AND last_order_at <= %s"
    params = [connection.ops.adapt_datetimefield_value(until)]

    def backfill() -> int:
        return sweeps_run(now=now)

    def raw_insert() -> int:
        values = {
            "sop_id": "%s",
            "revision_id": "%s",
            "subject_type": "'customer'",
            "subject_id": "customers_customer.id",
            "occurrence_key": "'raw@' || customers_customer.id",
            "trigger_key": "'lapsed'",
            "trigger_kind": "'date'",
            "event_id": "NULL",
            "state": "'running'",
            "pilot": "%s",
            "current_step": "'tag'",
            "wake_at": "%s",
            "started_by_id": "NULL",
            "parent_run_id": "NULL",
            "depth": "0",
            "created_at": "%s",
            "finished_at": "NULL",
        }
        select = ", ".join(constant or values[column] for column, constant in RUN_COLUMNS)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO automation_run ({', '.join(c for c, _k in RUN_COLUMNS)})"
                f" SELECT {select} {from_where}",
                [published.sop_id, published.pk, False, at, at, *params],
            )
            return int(cursor.rowcount)

    swept = measure(backfill, reset=_clear_runs)
    floor = measure(raw_insert, reset=_clear_runs)
    started = backfill()
    again = sweeps_run(now=now + timedelta(minutes=1))
    report(
        "B3b",
        f"backfill, no pace (N={n:,}, {started:,} started)",
        swept,
        floor,
        ">= 0.5",
        "rows/s",
    )
    print(f"  B3b  the next sweep inserted {again}")
    _clear_runs()
    Revision.objects.filter(pk=published.pk).update(state=RevisionState.RETIRED)
