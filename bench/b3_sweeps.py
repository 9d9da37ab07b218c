"""B3: time-based sweeps over a million rows vs a bare SELECT COUNT(*) with the same WHERE.

"30 days after delivery" over 1,000,000 orders and "no order in 12 months"
over 1,000,000 customers (scale 1), each one INSERT … SELECT per trigger. The
baseline is a raw COUNT(*) of the rows the sweep selects, in the same run on
the same database; the ratio is its time over the sweep's (goal: the sweep at
most 2× the count, i.e. ratio >= 0.5). A second sweep must insert 0 rows, in
no more than 10 queries whatever N.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, reset_queries, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.timing import measure, report
from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.automation.models import Run
from procedo.automation.sweeps import date_window, sweeps_run
from procedo.core.selectors import business_get
from procedo.orders.services import order_pipeline_defaults_install
from procedo.sops import services as sop_services
from procedo.sops.models import Revision, RevisionState

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
    sop_services.revision_update(
        revision_id=draft.pk, definition={"triggers": [trigger], "steps": [step]}, actor=owner
    )
    for state, actor in (("review", owner), ("approved", reviewer), ("published", reviewer)):
        sop_services.revision_transition(revision_id=draft.pk, to_state=state, actor=actor)
    return Revision.objects.get(pk=draft.pk)


def _bench(
    label: str, *, revision: Revision, count_sql: str, count_params: list[Any], n: int
) -> None:
    now = timezone.now()

    def reset() -> None:
        Run.objects.filter(revision=revision).delete()

    def sweep() -> int:
        return sweeps_run(now=now)

    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(count_sql, count_params)
            return int(cursor.fetchone()[0])

    matching = count()
    swept = measure(sweep, reset=reset)
    counted = measure(count)
    inserted = sweep()
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        again = sweep()

    def sweep_again() -> int:
        sweep()  # every due subject has its run: the minute's sweep as it usually is
        return matching

    steady = measure(sweep_again)
    goal = ">= 0.5 (<= 2x)"
    report(
        "B3", f"{label}: first sweep (N={n:,}, {matching:,} due)", swept, counted, goal, "rows/s"
    )
    report("B3", f"{label}: next sweep (0 new)", steady, counted, goal, "rows/s")
    print(
        f"  B3   first sweep inserted {inserted:,} (due {matching:,}); the next inserted"
        f" {again}, in {len(queries)} queries"
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
        count_sql=(
            "SELECT COUNT(*) FROM orders_order INNER JOIN orders_orderstatus"
            " ON orders_order.status = orders_orderstatus.code"
            " WHERE orders_order.delivered_at > %s AND orders_order.delivered_at <= %s"
            " AND orders_orderstatus.category = 'delivered'"
        ),
        count_params=[adapt(after), adapt(until)],
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
        count_sql=(
            "SELECT COUNT(*) FROM customers_customer WHERE merged_into_id IS NULL"
            " AND last_order_at > %s AND last_order_at <= %s AND orders_count >= 1"
        ),
        count_params=[adapt(after), adapt(until)],
        n=n,
    )
