"""B3: time-based sweeps over a million rows vs a bare SELECT COUNT(*) with the same WHERE.

"30 days after delivery" over 1,000,000 orders and "no order in 12 months"
over 1,000,000 customers (scale 1), each one INSERT … SELECT per trigger. The
baseline is a raw COUNT(*) of the rows the sweep selects, in the same run on
the same database; the ratio is its time over the sweep's (goal: the sweep at
most 2× the count, i.e. ratio >= 0.5). A second sweep must insert 0 rows, in
no more than 10 queries whatever N. Two "info" lines show the floors: a plain
INSERT … SELECT of the same rows (what writing them costs at least) and a
bare anti-join probing each due subject's run in the unique index (what
re-checking the whole window costs at least).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection, reset_queries, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.timing import measure, report
from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.automation.models import Run, SweepMark
from procedo.automation.services.runs import RUN_COLUMNS
from procedo.automation.services.sweeps import sweeps_run
from procedo.business.selectors import business_get
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.sops.matching import date_window
from procedo.sops.models import Revision, RevisionState
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services

DAYS = 400  # dates spread evenly over this many days back from now


def _series(n: int) -> str:
    """SQL producing rows i = 1..n (a recursive CTE on SQLite, generate_series on PostgreSQL)."""
    if connection.vendor == "postgresql":
        return f"SELECT i FROM generate_series(1, {int(n)}) AS s(i)"
    return (
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s"
        f" WHERE i < {int(n)}) SELECT i FROM s"
    )


def _ago(seconds_sql: str) -> str:
    """An SQL timestamp `seconds_sql` seconds before now, stored the way Django stores it."""
    if connection.vendor == "postgresql":
        return f"(now() - ({seconds_sql}) * interval '1 second')"
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '-' || ({seconds_sql}) || ' seconds')"


def _epoch(column: str) -> str:
    """Whole seconds since 1970 of a stored timestamp, as text (as the sweeps key a date)."""
    if connection.vendor == "postgresql":
        return f"(FLOOR(EXTRACT(EPOCH FROM {column}))::bigint)::text"
    return f"strftime('%%s', {column})"


def _insert_series(model: Any, n: int, exprs: dict[str, str]) -> None:
    """INSERT n rows of `model` in one statement: `exprs` for some columns (SQL over i),
    each field's default for the other NOT NULL ones, NULL for the rest."""
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        column = field.column
        if field.primary_key:
            continue
        if column in exprs:
            columns.append(column)
            values.append(exprs[column])
        elif not field.null and field.has_default():
            columns.append(column)
            values.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    missing = set(exprs) - set(columns)
    if missing:
        raise ValueError(f"no such columns: {missing}")
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)})"
            f" SELECT {', '.join(values)} FROM ({_series(n)}) AS series",
            params,  # `%%` in the expressions is the modulo operator
        )


def _fill(n: int) -> None:
    """n orders (9 in 10 delivered, dates over 400 days) and n customers, a statement each.

    Only integer constants are formatted into the SQL.
    """
    from procedo.customers.models import Customer
    from procedo.orders.models import Order

    order_pipeline_defaults_install()
    span = DAYS * 86_400
    moment = _ago(f"((CAST(i AS BIGINT) * 7919) %% {span})")
    with transaction.atomic():
        _insert_series(
            Order,
            n,
            {
                "number": "'B3-' || i",
                "status": "CASE WHEN i %% 10 = 0 THEN 'shipped' ELSE 'delivered' END",
                "currency": "'UAH'",
                "subtotal": "100",
                "discount_total": "0",
                "shipping_total": "0",
                "total": "100 + i %% 300",
                "placed_at": moment,
                "status_changed_at": moment,
                "delivered_at": f"CASE WHEN i %% 10 = 0 THEN NULL ELSE {moment} END",
                "created_at": moment,
            },
        )
        _insert_series(
            Customer,
            n,
            {
                "first_name": "'B3'",
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


def _sop(name: str, subject_type: str, trigger: dict[str, Any]) -> Revision:
    owner = User.objects.filter(username="b3-owner").first() or User.objects.create_user(
        username="b3-owner", password="x", role=Role.OWNER
    )
    reviewer = User.objects.filter(username="b3-reviewer").first() or User.objects.create_user(
        username="b3-reviewer", password="x", role=Role.MANAGER
    )
    sop = sop_services.sop_create(
        name=name,
        subject_type=subject_type,
        owner_id=owner.pk,
        kpi="reactivation_rate",
        actor=owner,
    )
    draft = sop.revisions.get()
    step = {"kind": "add_tag", "key": "tag", "title": "Tag", "tag": "swept"}
    revision_services.revision_update(
        revision_id=draft.pk, definition={"triggers": [trigger], "steps": [step]}, actor=owner
    )
    for state, actor in (("review", owner), ("approved", reviewer), ("published", reviewer)):
        revision_services.revision_transition(revision_id=draft.pk, to_state=state, actor=actor)
    return Revision.objects.get(pk=draft.pk)


def _clear_runs() -> None:
    """No runs left. On PostgreSQL a TRUNCATE, not a DELETE: deleted runs would stay in the
    unique index as dead entries (other sessions on a shared server hold VACUUM back), and
    every later sweep would probe the same keys' dead versions, which no real table has."""
    SweepMark.objects.all().delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE automation_run, automation_runstep")
    else:
        Run.objects.all().delete()


def _bench(
    label: str,
    *,
    revision: Revision,
    subject_type: str,
    id_column: str,
    occurrence: str,
    from_where: str,
    params: list[Any],
    n: int,
) -> None:
    """First sweep, the minute's sweep and the hourly one, each against COUNT(*) of the due set.

    `from_where` is the FROM … WHERE of the sweep's due set (the whole catch-up
    window, with the trigger's conditions); the COUNT and the raw INSERT use it as is.
    """
    now = timezone.now()
    minute = now + timedelta(minutes=1)

    reset = _clear_runs

    def sweep() -> int:
        return sweeps_run(now=now)

    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) {from_where}", params)
            return int(cursor.fetchone()[0])

    def raw_insert() -> int:
        """The floor: a plain INSERT … SELECT of the same rows, no conflict check, no hashes."""
        values = {
            "sop_id": "%s",
            "revision_id": "%s",
            "subject_type": "%s",
            "subject_id": id_column,
            "occurrence_key": f"'raw@' || {id_column}",
            "trigger_key": "'t'",
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
                [revision.sop_id, revision.pk, subject_type, False, at, at, *params],
            )
            return int(cursor.rowcount)

    def probe() -> int:
        """What any whole-window sweep must do at least: find the due subjects, look each
        one's run up in the unique index (a bare anti-join, nothing written)."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) {from_where} AND NOT EXISTS (SELECT 1 FROM automation_run r"
                f" WHERE r.subject_type = %s AND r.subject_id = {id_column}"
                f" AND r.sop_id = %s AND r.occurrence_key = {occurrence})",
                [*params, subject_type, revision.sop_id],
            )
            return matching

    at = connection.ops.adapt_datetimefield_value(now)
    matching = count()
    swept = measure(sweep, reset=reset)
    counted = measure(count)
    floor = measure(raw_insert, reset=reset)
    inserted = sweep()
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        again = sweep()

    def sweep_minute() -> int:
        sweeps_run(now=minute)  # the mark is a minute old: only dates near it are read
        return matching

    by_minute = measure(sweep_minute)
    new_in_minute = Run.objects.filter(revision=revision).count() - inserted

    def sweep_hourly() -> int:
        sweeps_run(now=minute)  # the whole window again: every due subject has its run
        return matching

    def forget_marks() -> None:
        SweepMark.objects.filter(revision_id=revision.pk).delete()

    forget_marks()
    hourly = measure(sweep_hourly, reset=forget_marks)
    probed = measure(probe)
    goal = ">= 0.5 (<= 2x)"
    report(
        "B3", f"{label}: first sweep (N={n:,}, {matching:,} due)", swept, counted, goal, "rows/s"
    )
    report("B3", f"{label}: first sweep vs raw INSERT…SELECT", swept, floor, "info", "rows/s")
    report("B3", f"{label}: the minute's sweep (by its mark)", by_minute, counted, goal, "rows/s")
    report("B3", f"{label}: the hourly sweep (whole window)", hourly, counted, goal, "rows/s")
    report("B3", f"{label}: the hourly sweep vs a bare probe", hourly, probed, "info", "rows/s")
    print(
        f"  B3   first sweep inserted {inserted:,} (due {matching:,}); the next inserted"
        f" {again}, in {len(queries)} queries; a minute later {new_in_minute} fell due"
    )
    reset()
    Revision.objects.filter(pk=revision.pk).update(state=RevisionState.RETIRED)


def run(*, scale: float) -> None:
    n = max(10_000, int(1_000_000 * scale))
    _fill(n)
    zone = business_get().zone
    adapt = connection.ops.adapt_datetimefield_value

    delivery = _sop(
        "B3 thank-you 30 days after delivery",
        "order",
        {
            "kind": "date",
            "key": "after30",
            "field": "delivered_at",
            "offset_days": 30,
            "catch_up_days": 7,
            "conditions": {
                "rules": [{"field": "status_category", "op": "eq", "value": "delivered"}]
            },
        },
    )
    after, until = date_window(now=timezone.now(), zone=zone, offset_days=30, catch_up_days=7)
    _bench(
        "30 days after delivery",
        revision=delivery,
        subject_type="order",
        id_column="orders_order.id",
        occurrence=f"'after30@' || {_epoch('orders_order.delivered_at')}",
        from_where=(
            "FROM orders_order INNER JOIN orders_orderstatus"
            " ON orders_order.status = orders_orderstatus.code"
            " WHERE orders_order.delivered_at > %s AND orders_order.delivered_at <= %s"
            " AND orders_orderstatus.category = 'delivered'"
        ),
        params=[adapt(after), adapt(until)],
        n=n,
    )

    lapsed = _sop(
        "B3 no order in 12 months",
        "customer",
        {
            "kind": "date",
            "key": "lapsed",
            "field": "last_order_at",
            "offset_days": 365,
            "catch_up_days": 7,
            "conditions": {"rules": [{"field": "orders_count", "op": "gte", "value": 1}]},
        },
    )
    after, until = date_window(now=timezone.now(), zone=zone, offset_days=365, catch_up_days=7)
    _bench(
        "no order in 12 months",
        revision=lapsed,
        subject_type="customer",
        id_column="customers_customer.id",
        occurrence=f"'lapsed@' || {_epoch('customers_customer.last_order_at')}",
        from_where=(
            "FROM customers_customer WHERE merged_into_id IS NULL"
            " AND last_order_at > %s AND last_order_at <= %s AND orders_count >= 1"
        ),
        params=[adapt(after), adapt(until)],
        n=n,
    )
