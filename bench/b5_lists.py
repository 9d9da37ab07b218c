"""B5: the customer list at a million customers: selector and page vs hand-written SQL.

The baseline reads what the selector returns (a page of customers, their
identities and their tags) with three hand-written statements on a raw
cursor; the ratio is the selector's median time over the baseline's (goal
<= 2). The whole page is timed through Django's test client (goal p95 < 50 ms).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.test import Client
from django.utils import timezone

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.core.paging import cursor_encode
from procedo.customers.models import Customer, Tag
from procedo.customers.selectors import customer_list

FIRST = [
    "Олена",
    "Тарас",
    "Ірина",
    "Максим",
    "Софія",
    "Андрій",
    "Anna",
    "Jan",
    "Marta",
    "Oleh",
    "Наталія",
    "Богдан",
    "Katarzyna",
    "Piotr",
    "Emma",
    "Lukas",
    "Дмитро",
    "Юлія",
]
LAST = [
    "Коваленко",
    "Шевчук",
    "Бондаренко",
    "Мельник",
    "Кравченко",
    "Ткаченко",
    "Nowak",
    "Kowalski",
    "Müller",
    "Schmidt",
    "Smith",
    "Jones",
    "Литвиненко",
    "Олійник",
    "Савченко",
]


TAGS = ["VIP", "Опт", "Instagram", "Новий", "B2B", "Розсилка", "Скарга", "Повернення"]


def _write(cursor: Any, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    """Many rows into `table`: COPY on PostgreSQL (executemany took minutes), else executemany."""
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join(["%s"] * (columns.count(",") + 1))
    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def _generate(n: int) -> int:
    """n customers with an email, a phone, search terms and (some) tags and order dates;
    returns the id below the first one (other benches may have made customers before)."""
    rng = random.Random(5)
    now = timezone.now()
    base = Customer.objects.aggregate(top=Max("id"))["top"] or 0
    adapt = connection.ops.adapt_datetimefield_value
    Tag.objects.bulk_create(
        [Tag(name=name, name_key=name.casefold()) for name in TAGS], ignore_conflicts=True
    )
    tags = dict(Tag.objects.filter(name__in=TAGS).values_list("name", "id"))
    step = 20_000
    with connection.cursor() as cursor:
        for start in range(0, n, step):
            customers, identities, terms = [], [], []
            tagged: list[tuple[Any, ...]] = []
            for i in range(start, min(n, start + step)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                created = now - timedelta(minutes=n - i)
                orders = rng.randint(0, 30)
                value = Decimal(rng.randint(0, 5_000_000)) / 100 if orders else Decimal(0)
                first_order = last_order = None
                if orders:
                    first_order = created - timedelta(days=rng.randint(0, 400))
                    last_order = first_order + timedelta(days=rng.randint(0, 400))
                customers.append(
                    (
                        base + i + 1,
                        first,
                        last,
                        "",
                        "UA",
                        "bench",
                        None,
                        "",
                        "",
                        adapt(created),
                        orders,
                        value,
                        adapt(first_order),
                        adapt(last_order),
                    )
                )
            for pk, first, last, *_rest in customers:
                email = f"{first.lower()}.{pk}@example.com"
                digits = f"67{pk:07d}"
                identities.append((pk, "email", email, "", "unknown", "", adapt(now)))
                identities.append((pk, "phone", f"+380{digits}", digits, "unknown", "", adapt(now)))
                full = f"{first} {last}".casefold()
                for term in {
                    first.casefold(),
                    last.casefold(),
                    full,
                    f"{last} {first}".casefold(),
                    email,
                    f"380{digits}",
                    f"0{digits}",
                    digits,
                }:
                    terms.append((pk, term))
                # About one customer in 30 is a VIP; one in four has one or two other tags.
                names = ["VIP"] if rng.random() < 1 / 30 else []
                if rng.random() < 0.25:
                    names += rng.sample(TAGS[1:], rng.randint(1, 2))
                tagged.extend((pk, tags[name], adapt(now)) for name in names)
            _write(
                cursor,
                "customers_customer",
                "id, first_name, last_name, company, country, source, external_ref, search_text,"
                " name_key, created_at, orders_count, lifetime_value, first_order_at,"
                " last_order_at",
                customers,
            )
            _write(
                cursor,
                "customers_identity",
                "customer_id, kind, value, phone_tail, marketing_consent, consent_source,"
                " created_at",
                identities,
            )
            _write(cursor, "customers_customersearchterm", "customer_id, term", terms)
            _write(cursor, "customers_customertag", "customer_id, tag_id, created_at", tagged)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return base


def _timed(*calls: Callable[[], object], runs: int) -> list[list[float]]:
    """Milliseconds of each call, `runs` times after a warm-up; the calls take turns, so a
    busy moment on a shared machine falls on all of them alike."""
    times: list[list[float]] = [[] for _ in calls]
    for call in calls:
        call()
    for _ in range(runs):
        for call, spent in zip(calls, times, strict=True):
            started = time.perf_counter()
            call()
            spent.append((time.perf_counter() - started) * 1000)
    return times


def _page_timed(call: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Milliseconds of wall time and of this process's CPU time of each of `runs` calls.

    On a machine shared with other work the wall time includes waiting for a core;
    the CPU time is the page's own cost (on SQLite, the database's too)."""
    call()
    wall, cpu = [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return wall, cpu


# What the list shows of a customer: the hand-written SQL reads the same columns.
COLUMNS = (
    "id, first_name, last_name, company, country, source, external_ref, created_at,"
    " orders_count, lifetime_value, first_order_at, last_order_at"
)
CENT = Decimal("0.01")


def _moment(naive: datetime | None) -> datetime | None:
    return None if naive is None else naive.replace(tzinfo=UTC)


def _hand_written(where: str, params: list[Any], order: str) -> Callable[[], object]:
    """The page, its identities and its tags in three statements on a raw cursor.

    On SQLite the driver hands dates back naive (parsed from text) and decimals
    as floats: they are made aware and exact here, as any program using them
    must (PostgreSQL's driver does both itself).
    """
    sqlite = connection.vendor == "sqlite"

    def run() -> object:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {COLUMNS} FROM customers_customer WHERE {where} ORDER BY {order} LIMIT 51",
                params,
            )
            rows = cursor.fetchall()[:50]
            if sqlite:
                rows = [
                    (
                        *row[:7],
                        _moment(row[7]),
                        row[8],
                        Decimal(str(row[9])).quantize(CENT),
                        _moment(row[10]),
                        _moment(row[11]),
                    )
                    for row in rows
                ]
            ids = [row[0] for row in rows]
            marks = ", ".join(["%s"] * len(ids))
            cursor.execute(
                "SELECT customer_id, kind, value FROM customers_identity"
                f" WHERE customer_id IN ({marks}) ORDER BY kind, id",
                ids,
            )
            identities = cursor.fetchall()
            cursor.execute(
                "SELECT ct.customer_id, t.name FROM customers_customertag ct"
                " INNER JOIN customers_tag t ON ct.tag_id = t.id"
                f" WHERE ct.customer_id IN ({marks}) ORDER BY t.name_key",
                ids,
            )
            return rows, identities, cursor.fetchall()

    return run


LIVE_SQL = "merged_into_id IS NULL"
NEWEST = "created_at DESC, id DESC"
VALUE = "lifetime_value DESC, id DESC"
TERMS = (
    "id IN (SELECT t.customer_id FROM customers_customersearchterm t"
    " INNER JOIN customers_customer m ON t.customer_id = m.id"
    " WHERE m.merged_into_id IS NULL AND t.term >= %s AND t.term < %s)"
)
TAGGED = (
    "id IN (SELECT ct.customer_id FROM customers_customertag ct"
    " INNER JOIN customers_tag t ON ct.tag_id = t.id WHERE t.name_key = %s)"
)


def _term_range(prefix: str) -> list[str]:
    """The search-term range of a prefix, as the hand-written SQL's two parameters."""
    return [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]


def run(*, scale: float) -> None:
    n = max(10_000, int(1_000_000 * scale))
    started = time.perf_counter()
    with transaction.atomic():
        base = _generate(n)
    print(f"  B5   generated {n:,} customers in {time.perf_counter() - started:.0f} s")
    owner = User.objects.filter(role=Role.OWNER).first() or User.objects.create(
        username="bench-owner", role=Role.OWNER
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(owner)
    adapt_moment = connection.ops.adapt_datetimefield_value
    adapt_money = connection.ops.adapt_decimalfield_value
    deep = Customer.objects.order_by("-created_at", "-id").values_list("created_at", "id")[
        int(n * 0.9)
    ]
    at = adapt_moment(deep[0])
    rich = Customer.objects.order_by("-lifetime_value", "-id").values_list("lifetime_value", "id")[
        50
    ]
    worth = adapt_money(rich[0], 14, 2)
    # Searches for one of the generated customers (ids after `base`): the first
    # name and all but the last two digits of its id in the email, its phone.
    sample = Customer.objects.get(pk=base + n // 2)
    email = f"{sample.first_name.casefold()}.{str(sample.pk)[:-2]}"
    local = f"067{sample.pk:07d}"
    cases: list[tuple[str, dict[str, str], str, list[Any], str]] = [
        ("first page", {}, LIVE_SQL, [], NEWEST),
        (
            "deep page (90 %)",
            {"cursor": cursor_encode(list(deep))},
            f"{LIVE_SQL} AND created_at <= %s AND (created_at < %s OR"
            " (created_at = %s AND id < %s))",
            [at, at, at, deep[1]],
            NEWEST,
        ),
        (
            "by lifetime value, page 2",
            {"sort": "value", "cursor": cursor_encode(list(rich))},
            f"{LIVE_SQL} AND lifetime_value <= %s AND (lifetime_value < %s OR"
            " (lifetime_value = %s AND id < %s))",
            [worth, worth, worth, rich[1]],
            VALUE,
        ),
        ("tag filter (VIP)", {"tag": "VIP"}, f"{LIVE_SQL} AND {TAGGED}", ["vip"], NEWEST),
        ("search email prefix", {"search": email}, TERMS, _term_range(email), NEWEST),
        (
            "search phone, local format",
            {"search": f"{local[:3]} {local[3:6]} {local[6:8]} {local[8:]}"},
            TERMS,
            _term_range(local),
            NEWEST,
        ),
        (
            "search name prefix (Cyrillic)",
            {"search": "КОВАЛЕНКО О"},
            TERMS,
            ["коваленко о", "коваленко п"],
            NEWEST,
        ),
    ]
    runs = 30 if scale >= 1 else 10
    for label, params, where, sql_params, order in cases:
        # The page's search box is `q`; the selector's argument is `search`.
        page_params = {("q" if key == "search" else key): value for key, value in params.items()}
        response = client.get("/customers/", page_params)
        if response.status_code != 200 or not customer_list(**params).items:  # type: ignore[arg-type]
            print(
                f"  B5   {label}: the page answered {response.status_code}, or found none; skipped"
            )
            continue
        page, page_cpu = _page_timed(partial(client.get, "/customers/", page_params), runs=runs)
        query, raw = _timed(
            partial(customer_list, **params),  # type: ignore[arg-type]
            _hand_written(where, sql_params, order),
            runs=3 * runs,
        )
        ratio = statistics.median(query) / statistics.median(raw)
        p95 = sorted(page)[int(0.95 * (len(page) - 1))]
        print(
            f"  B5   {label:<30} selector {statistics.median(query):6.2f} ms vs hand-written"
            f" SQL {statistics.median(raw):6.2f} ms: ratio {ratio:4.1f} (goal <= 2);"
            f" whole page median {statistics.median(page):5.1f} ms, p95 {p95:5.1f} ms"
            f" (goal p95 < 50 ms; this process's CPU median {statistics.median(page_cpu):4.1f} ms)"
        )
