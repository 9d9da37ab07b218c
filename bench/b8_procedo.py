"""B8 worker for Procedo: `python -m bench.b8_procedo --db URL --data DIR` (started by B8).

Runs in its own process on its own fresh database (DATABASE_URL is the --db
URL), so the other benchmarks' rows are not in its tables. Loads the same
customers and orders as the peers with bulk inserts (customers with their
email and phone identities, search terms and order aggregates, as the
services would leave them), then times the customer list as a page
(`/customers/`, compared with DjangoCRM's contact list page) and as the REST
API (`/api/customers`, compared with MicroPyramid's contacts API), and
`customer_create` for new customers.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import django

from bench.peers import harness

NAME = "Procedo"
BATCH = 5_000
ROW = re.compile(rb'<tr>\s*<td><a href="/customers/\d+/">')  # one per customer listed


def main() -> None:
    args = harness.arguments()
    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # pages render as in production
    harness.progress(NAME, f"migrated in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    _load(args.data)
    load_seconds = time.perf_counter() - started
    harness.progress(NAME, f"loaded in {load_seconds:.0f} s")
    result = _measure(args.data)
    result["load_seconds"] = load_seconds
    harness.emit(result)


def _aware(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _load(data: Path) -> None:
    from django.db import connection, transaction

    from procedo.customers import normalise
    from procedo.customers.models import Customer, CustomerSearchTerm, Identity, IdentityKind
    from procedo.orders.models import Order
    from procedo.orders.services.pipeline import order_pipeline_defaults_install

    order_pipeline_defaults_install()
    customers = harness.customers(data)
    orders = harness.orders(data)
    count: dict[int, int] = defaultdict(int)
    value: dict[int, Decimal] = defaultdict(Decimal)
    first: dict[int, str] = {}
    last: dict[int, str] = {}
    for order in orders:
        index = order.customer
        count[index] += 1
        value[index] += Decimal(order.total)
        first[index] = min(first.get(index, order.placed_at), order.placed_at)
        last[index] = max(last.get(index, order.placed_at), order.placed_at)
    ids: list[int] = []
    with transaction.atomic():
        for start in range(0, len(customers), BATCH):
            chunk = customers[start : start + BATCH]
            rows, indexes = [], []
            for offset, row in enumerate(chunk):
                index = start + offset
                search = normalise.search_index(
                    first_name=row.first_name,
                    last_name=row.last_name,
                    company="",
                    identities=[(IdentityKind.EMAIL, row.email), (IdentityKind.PHONE, row.phone)],
                )
                indexes.append(search)
                rows.append(
                    Customer(
                        first_name=row.first_name,
                        last_name=row.last_name,
                        country=row.country,
                        source="bench",
                        search_text=search.text,
                        name_key=normalise.text_key(f"{row.first_name} {row.last_name}"),
                        created_at=_aware(row.created_at),
                        orders_count=count[index],
                        lifetime_value=value[index],
                        first_order_at=_aware(first[index]) if index in first else None,
                        last_order_at=_aware(last[index]) if index in last else None,
                    )
                )
            made = Customer.objects.bulk_create(rows)
            ids.extend(customer.pk for customer in made)
            created = _aware(chunk[0].created_at)
            Identity.objects.bulk_create(
                identity
                for customer, row in zip(made, chunk, strict=True)
                for identity in (
                    Identity(
                        customer=customer,
                        kind=IdentityKind.EMAIL,
                        value=row.email,
                        created_at=created,
                    ),
                    Identity(
                        customer=customer,
                        kind=IdentityKind.PHONE,
                        value=row.phone,
                        phone_tail=row.phone[-9:],
                        created_at=created,
                    ),
                )
            )
            CustomerSearchTerm.objects.bulk_create(
                CustomerSearchTerm(customer=customer, term=term)
                for customer, search in zip(made, indexes, strict=True)
                for term in search.terms
            )
    with transaction.atomic():
        for start in range(0, len(orders), BATCH):
            Order.objects.bulk_create(
                Order(
                    number=order.number,
                    customer_id=ids[order.customer],
                    status_id="delivered",
                    currency="UAH",
                    subtotal=Decimal(order.total),
                    discount_total=Decimal(0),
                    shipping_total=Decimal(0),
                    total=Decimal(order.total),
                    placed_at=_aware(order.placed_at),
                    status_changed_at=_aware(order.placed_at),
                    delivered_at=_aware(order.placed_at),
                    created_at=_aware(order.placed_at),
                )
                for order in orders[start : start + BATCH]
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _measure(data: Path) -> dict[str, Any]:
    from django.test import Client

    from procedo.accounts.models import User
    from procedo.accounts.roles import Role
    from procedo.core.paging import cursor_encode
    from procedo.customers.models import Customer
    from procedo.customers.services.customers import customer_create

    probes = harness.probes(data)
    owner = User.objects.create_user(username="b8-owner", password="x", role=Role.OWNER)
    client = Client(HTTP_HOST="localhost")
    client.force_login(owner)
    # The deep page starts after the row before it: its keyset cursor.
    before = Customer.objects.order_by("-created_at", "-id").values_list("created_at", "id")[
        probes.deep_offset - 1
    ]
    cases = {
        "first page": ({}, probes.page_size),
        "deep page": ({"cursor": cursor_encode(list(before))}, probes.page_size),
        "search email": ({"search": probes.email}, 1),
        "search name prefix": ({"search": probes.name_prefix}, probes.page_size),
    }

    def page(params: dict[str, str], expect: int) -> float:
        if "search" in params:  # the page's search box is `q`
            params = {"q": params["search"]}
        response = client.get("/customers/", params)
        rows = len(ROW.findall(response.content))
        if response.status_code != 200 or rows != expect:
            raise SystemExit(
                f"{NAME}: /customers/ {params} answered {response.status_code}, {rows}"
            )
        return harness.timed(lambda: client.get("/customers/", params))

    def api(params: dict[str, str], expect: int) -> float:
        query = {**params, "limit": str(probes.page_size)}
        response = client.get("/api/customers", query)
        rows = len(response.json().get("items", [])) if response.status_code == 200 else -1
        if rows != expect:
            raise SystemExit(f"{NAME}: /api/customers {query} answered {response.status_code}")
        return harness.timed(lambda: client.get("/api/customers", query))

    pages = {label: page(params, expect) for label, (params, expect) in cases.items()}
    apis = {label: api(params, expect) for label, (params, expect) in cases.items()}
    harness.progress(NAME, "reads timed")

    def create(row: harness.Customer) -> object:
        return customer_create(
            first_name=row.first_name,
            last_name=row.last_name,
            country=row.country,
            emails=[row.email],
            phones=[row.phone],
            actor=owner,
        )

    rate = harness.create_rate(create, harness.batches(data))
    harness.progress(NAME, "creates timed")
    return {
        "name": NAME,
        "version": "this checkout",
        "django": django.get_version(),
        "reads_ms": {"page": pages, "api": apis},
        "creates_per_s": rate,
        "contacts": Customer.objects.count(),
    }


if __name__ == "__main__":
    main()
