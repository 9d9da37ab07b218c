"""Customer list queries seek an index, whatever the filter: their query plans."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from procedo.accounts.roles import Role
from procedo.customers import selectors
from procedo.customers.models import Customer
from procedo.customers.services.customers import customer_create
from procedo.customers.services.details import tag_add
from procedo.testing import person

pytestmark = pytest.mark.django_db


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Small test tables make a sequential scan cheapest; forbid it, and
            # the planner falls back to one only where no index can serve.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(row[-1] for row in cursor.fetchall())


def _list_sql(**filters: Any) -> str:
    """The page's query (a tag filter on SQLite may count the tag first)."""
    with CaptureQueriesContext(connection) as captured:
        selectors.customer_list(**filters)
    page = 'SELECT "customers_customer".'
    return next(q["sql"] for q in captured.captured_queries if q["sql"].startswith(page))


@pytest.fixture(scope="module")
def populated(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Made once for the module, whose tests only read query plans; rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        owner = person(Role.OWNER)
        for i in range(40):
            customer = customer_create(
                actor=None,
                first_name=f"Ім'я{i}",
                last_name="Прізвище",
                emails=[f"p{i}@example.com"],
            )
            if i % 5 == 0:
                tag_add(customer_id=customer.pk, name="VIP", actor=owner)
        # Enough rows that "read the table and sort it" is no longer the cheap plan.
        base = datetime(2024, 1, 1, tzinfo=UTC)
        Customer.objects.bulk_create(
            Customer(first_name="x", created_at=base + timedelta(minutes=i), lifetime_value=i % 700)
            for i in range(5000)
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        # Not on SQLite: statistics of 40 rows tell its planner that scanning them all
        # is free. Without statistics it assumes large tables, as in production (where,
        # at 200,000 customers, it chooses these same plans).
        yield
        transaction.set_rollback(True)


# SQLite names an unnamed UNIQUE index "sqlite_autoindex_<table>_N".
TERM_INDEX = ("customer_search_term", "sqlite_autoindex_customers_customersearchterm")
TAG_INDEX = ("customer_tag_by_tag", "customer_tag_unique", "customers_customertag")


@pytest.mark.parametrize(
    ("filters", "indexes"),
    [
        ({}, ("customer_newest",)),
        ({"sort": "value"}, ("customer_value",)),
        ({"country": "UA"}, ("customer_country",)),
        ({"tag": "vip"}, TAG_INDEX),
        ({"search": "p1@exam"}, TERM_INDEX),
        ({"search": "0671234"}, TERM_INDEX),
        ({"search": "ім'я1"}, TERM_INDEX),
        ({"search": "ім'я1", "sort": "value"}, TERM_INDEX),
        ({"search": "2245"}, TERM_INDEX),
        ({"search": "22 45", "sort": "value"}, TERM_INDEX),
    ],
)
def test_list_queries_seek_an_index_instead_of_scanning_customers(
    populated: None, filters: dict[str, Any], indexes: tuple[str, ...]
) -> None:
    plan = _plan(_list_sql(**filters))
    assert any(index in plan for index in indexes), plan
    if connection.vendor == "postgresql":
        assert "Seq Scan" not in plan, plan
    else:
        # "SCAN customers_customer" alone reads every row; "SCAN … USING INDEX" is an
        # index walk in list order that stops at the page's limit.
        for line in plan.splitlines():
            assert not (line.startswith("SCAN") and "USING" not in line), plan
    if filters.get("search"):
        # A search starts from the terms and fetches its matches by primary key,
        # never walking all customers.
        assert "SCAN customers_customer" not in plan, plan
    elif not filters.get("tag"):
        # The index gives the order: no sort of all live customers per page.
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_a_common_tag_walks_the_list_in_order_and_finds_the_same_page(
    populated: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    rare = [c.pk for c in selectors.customer_list(tag="vip", limit=5).items]
    monkeypatch.setattr(selectors, "COMMON_TAG", 5)  # the 8 VIPs are now a common tag
    common = selectors.customer_list(tag="vip", limit=5)
    assert [c.pk for c in common.items] == rare and len(rare) == 5
    assert [c.pk for c in selectors.customer_list(tag="vip", cursor=common.next_cursor).items]
    if connection.vendor == "sqlite":
        # No sort of every tagged customer: the newest-first index gives the order.
        plan = _plan(_list_sql(tag="vip", limit=5))
        assert "customer_newest" in plan and "TEMP B-TREE" not in plan, plan


def test_the_next_page_seeks_into_the_index(populated: None) -> None:
    cursor = selectors.customer_list(limit=5).next_cursor
    plan = _plan(_list_sql(cursor=cursor, limit=5))
    assert "customer_newest" in plan and "TEMP B-TREE" not in plan, plan
