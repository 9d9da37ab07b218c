"""Data migrations of the customers app, run against rows stored the way they were before."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest
from django.db import connection

from procedo.accounts.models import User
from procedo.customers.models import Customer, CustomerSearchTerm
from procedo.customers.services.merging import customer_merge

pytestmark = pytest.mark.django_db


def _suffix_terms() -> set[tuple[int, str]]:
    return set(
        CustomerSearchTerm.objects.filter(term__startswith="~").values_list("customer_id", "term")
    )


def test_0005_gives_stored_customers_the_terms_their_last_digits_are_found_by(
    make_customer: Callable[..., Customer], owner: User
) -> None:
    lina = make_customer(first_name="Ліна", phones=["+380 50 111 22 33", "+48 501 234 567"])
    duplicate = make_customer(first_name="Ліна", phones=["050 999 22 33"])
    make_customer(first_name="Без телефону", emails=["no.phone@example.com"])
    customer_merge(survivor_id=lina.pk, duplicate_id=duplicate.pk, actor=owner)
    # What the services write today (_reindex) is what the migration must give the rows
    # stored before it: each phone's tail reversed, for the live customer only.
    written = _suffix_terms()
    assert {(lina.pk, "~332211105"), (lina.pk, "~765432105")} <= written
    assert duplicate.pk not in {customer_id for customer_id, _term in written}

    CustomerSearchTerm.objects.filter(term__startswith="~").delete()  # as before 0005
    migration = importlib.import_module("procedo.customers.migrations.0005_phone_suffix_terms")
    with connection.cursor() as cursor:
        cursor.execute(migration.FORWARD)
        cursor.execute(migration.FORWARD)  # run again (a retried deploy): nothing twice
    assert _suffix_terms() == written

    with connection.cursor() as cursor:
        cursor.execute(migration.BACKWARD)
    assert _suffix_terms() == set()
