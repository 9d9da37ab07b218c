"""A writer held up by another's lock answers 503 (Retry-After) after a bounded wait; reads go on.

Another connection really holds the lock (SQLite's BEGIN IMMEDIATE on the same
file; on PostgreSQL a table lock that lets reads through), as the worker's import
batch or a second web process would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from procedo.customers.models import Customer

pytestmark = [pytest.mark.django_db(transaction=True)]

BUSY = "Another change is being saved; nothing was saved. Please try again in a moment."


@pytest.fixture
def locked() -> Iterator[None]:
    """Another connection holds the write lock on the customers while the test runs."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        import sqlite3

        other: Any = sqlite3.connect(settings["NAME"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        other = psycopg.connect(
            dbname=settings["NAME"],
            user=settings["USER"],
            password=settings["PASSWORD"] or None,
            host=settings["HOST"] or None,
            port=settings["PORT"] or None,
        )
        # SHARE lets SELECT through and makes INSERT wait, as a writer's batch does.
        other.execute("LOCK TABLE customers_customer IN SHARE MODE")
    try:
        yield
    finally:
        other.rollback()
        other.close()


@override_settings(PROCEDO_DB_LOCK_WAIT=1)
def test_a_page_that_writes_answers_503_and_a_page_that_reads_answers_200(
    owner_client: Client, locked: None
) -> None:
    response = owner_client.post(
        reverse("customers:create"),
        {"first_name": "Оксана", "email": "o@example.com", "form_token": str(uuid.uuid4())},
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert BUSY in response.content.decode()

    assert owner_client.get(reverse("customers:list")).status_code == 200


@override_settings(PROCEDO_DB_LOCK_WAIT=1)
def test_the_api_answers_503_in_json_and_reads_go_on(owner_client: Client, locked: None) -> None:
    response = owner_client.post(
        "/api/customers", {"first_name": "Оксана"}, content_type="application/json"
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"detail": BUSY, "field": "database", "code": "unavailable"}

    assert owner_client.get("/api/customers").status_code == 200


@override_settings(PROCEDO_DB_LOCK_WAIT=1)
def test_once_the_lock_is_gone_the_same_write_goes_through(owner_client: Client) -> None:
    response = owner_client.post(
        "/api/customers", {"first_name": "Оксана"}, content_type="application/json"
    )
    assert response.status_code == 201 and Customer.objects.count() == 1


def _wait_now() -> object:
    """The lock wait the test's connection has (SQLite's busy timeout, PostgreSQL's
    lock_timeout), read with a statement of its own, as any code outside a request."""
    with connection.cursor() as cursor:
        cursor.execute(
            "PRAGMA busy_timeout" if connection.vendor == "sqlite" else "SHOW lock_timeout"
        )
        return cursor.fetchone()[0]


@override_settings(PROCEDO_DB_LOCK_WAIT=1)
def test_a_kept_connection_waits_as_a_request_should_with_no_statement_and_its_own_outside(
    client: Client,
) -> None:
    own = _wait_now()
    hook = "/hooks/shopify/unknown/"
    client.post(hook, b"{}", content_type="application/json")  # sets the request's wait
    with CaptureQueriesContext(connection) as second:
        assert client.post(hook, b"{}", content_type="application/json").status_code == 404
    statements = [query["sql"] for query in second.captured_queries]
    assert statements and not [sql for sql in statements if "_timeout" in sql], statements
    # The test's own statement, outside a request: the connection's own wait again.
    assert _wait_now() == own != (1000 if connection.vendor == "sqlite" else "1s")


@pytest.mark.django_db
def test_a_database_gone_before_the_view_is_reached_answers_the_same_503(
    owner_client: Client,
) -> None:
    """R6 on PostgreSQL: the database restarted under load; the first statement of a request
    (the lock wait's, the session's read, or the reconnect before them) ran in a middleware,
    outside any view, and answered 500. Every statement fails here as it did then."""
    from django.db import OperationalError

    def gone(*args: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    connection.ensure_connection()  # open, as a server thread's is between requests
    owner_client.raise_request_exception = False  # the answer, not the exception
    with connection.execute_wrapper(gone):
        page = owner_client.get(reverse("customers:list"))
        api = owner_client.get("/api/customers")
        hook = owner_client.post("/hooks/shopify/k/", b"{}", content_type="application/json")
    assert [page.status_code, api.status_code, hook.status_code] == [503, 503, 503]
    assert page["Retry-After"] == api["Retry-After"] == hook["Retry-After"] == "5"
    assert "The database is unavailable; please retry shortly." in page.content.decode()
    assert api.json()["code"] == "unavailable"
    assert hook.json() == {
        "detail": "The database is unavailable; nothing was stored. Please retry.",
        "field": "database",
    }
