"""B5: the customer list at a million customers: selector and page vs a raw SELECT LIMIT 50."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.test import Client
from django.utils import timezone

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.core.paging import _encode
from procedo.customers.models import Customer
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


def _generate(n: int) -> None:
    """n customers with an email, a phone and search terms, written with executemany."""
    rng = random.Random(5)
    now = timezone.now()
    base = Customer.objects.aggregate(top=Max("id"))["top"] or 0
    adapt = connection.ops.adapt_datetimefield_value
    step = 20_000
    with connection.cursor() as cursor:
        for start in range(0, n, step):
            customers, identities, terms = [], [], []
            for i in range(start, min(n, start + step)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                created = now - timedelta(minutes=n - i)
                value = Decimal(rng.randint(0, 5_000_000)) / 100
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
                        rng.randint(0, 30),
                        value,
                    )
                )
            cursor.executemany(
                "INSERT INTO customers_customer (id, first_name, last_name, company, country,"
                " source, external_ref, search_text, name_key, created_at, orders_count,"
                " lifetime_value) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                customers,
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
            cursor.executemany(
                "INSERT INTO customers_identity (customer_id, kind, value, phone_tail,"
                " marketing_consent, consent_source, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                identities,
            )
            cursor.executemany(
                "INSERT INTO customers_customersearchterm (customer_id, term) VALUES (%s, %s)",
                terms,
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _timed(call: Callable[[], object], runs: int) -> list[float]:
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _raw(sql: str, params: list[Any]) -> Callable[[], object]:
    def run() -> object:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    return run


def run(*, scale: float) -> None:
    n = max(10_000, int(1_000_000 * scale))
    started = time.perf_counter()
    with transaction.atomic():
        _generate(n)
    print(f"  B5   generated {n:,} customers in {time.perf_counter() - started:.0f} s")
    owner = User.objects.filter(role=Role.OWNER).first() or User.objects.create(
        username="bench-owner", role=Role.OWNER
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(owner)
    deep = Customer.objects.order_by("-created_at", "-id").values_list("created_at", "id")[
        int(n * 0.9)
    ]
    deep_cursor = _encode(list(deep))
    rich = Customer.objects.order_by("-lifetime_value", "-id").values_list("lifetime_value", "id")[
        50
    ]
    live = "merged_into_id IS NULL"
    cases: list[tuple[str, dict[str, str], str, list[Any]]] = [
        (
            "first page",
            {},
            f"SELECT * FROM customers_customer WHERE {live}"
            " ORDER BY created_at DESC, id DESC LIMIT 50",
            [],
        ),
        (
            "deep page (90 %)",
            {"cursor": deep_cursor},
            f"SELECT * FROM customers_customer WHERE {live} AND (created_at < %s OR"
            " (created_at = %s AND id < %s)) ORDER BY created_at DESC, id DESC LIMIT 50",
            [deep[0], deep[0], deep[1]],
        ),
        (
            "by lifetime value, page 2",
            {"sort": "value", "cursor": _encode(list(rich))},
            f"SELECT * FROM customers_customer WHERE {live} AND (lifetime_value < %s OR"
            " (lifetime_value = %s AND id < %s)) ORDER BY lifetime_value DESC, id DESC LIMIT 50",
            [rich[0], rich[0], rich[1]],
        ),
        (
            "search email prefix",
            {"search": "олена.12"},
            "SELECT c.* FROM customers_customer c WHERE c.id IN (SELECT customer_id FROM"
            " customers_customersearchterm WHERE term >= %s AND term < %s)"
            " ORDER BY c.created_at DESC, c.id DESC LIMIT 50",
            ["олена.12", "олена.13"],
        ),
        (
            "search phone, local format",
            {"search": "067 000 12 34"},
            "SELECT c.* FROM customers_customer c WHERE c.id IN (SELECT customer_id FROM"
            " customers_customersearchterm WHERE term >= %s AND term < %s)"
            " ORDER BY c.created_at DESC, c.id DESC LIMIT 50",
            ["0670001234", "0670001235"],
        ),
        (
            "search name prefix (Cyrillic)",
            {"search": "КОВАЛЕНКО О"},
            "SELECT c.* FROM customers_customer c WHERE c.id IN (SELECT customer_id FROM"
            " customers_customersearchterm WHERE term >= %s AND term < %s)"
            " ORDER BY c.created_at DESC, c.id DESC LIMIT 50",
            ["коваленко о", "коваленко п"],
        ),
    ]
    runs = 30 if scale >= 1 else 10
    for label, params, sql, sql_params in cases:
        # The page's search box is `q`; the selector's argument is `search`.
        page_params = {("q" if key == "search" else key): value for key, value in params.items()}
        response = client.get("/customers/", page_params)
        if response.status_code != 200 or b'class="empty"' in response.content:
            print(f"  B5   {label}: the page answered {response.status_code}; skipped")
            continue
        page = _timed(partial(client.get, "/customers/", page_params), runs)
        query = _timed(partial(customer_list, **params), runs)  # type: ignore[arg-type]
        raw = _timed(_raw(sql, sql_params), runs)
        ratio = statistics.median(query) / statistics.median(raw)
        p95 = sorted(page)[int(0.95 * (len(page) - 1))]
        print(
            f"  B5   {label:<30} selector {statistics.median(query):6.2f} ms vs raw SELECT"
            f" {statistics.median(raw):6.2f} ms: ratio {ratio:4.1f} (goal <= 2);"
            f" whole page median {statistics.median(page):5.1f} ms, p95 {p95:5.1f} ms"
            " (goal p95 < 100 ms)"
        )
