"""Every list leaves as a file: CSV that a spreadsheet opens in Cyrillic, XLSX, the page's
filters applied, recorded as events; bad filters refused by name with nothing exported."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client, RequestFactory

from procedo.accounts import services as account_services
from procedo.accounts.models import User
from procedo.catalog import services as catalog_services
from procedo.customers.models import Customer
from procedo.customers.services.customers import customer_create
from procedo.customers.services.details import tag_add
from procedo.customers.views import customer_export
from procedo.events.exports import LISTS
from procedo.events.models import Event

pytestmark = pytest.mark.django_db

# (list, the page's export address, the API's), each with a filter its page has.
EXPORTS = [
    ("customers", "/customers/export/", "/api/customers/export", {"tag": "ВІП"}),
    ("orders", "/orders/export/", "/api/orders/export", {"placed_from": "2026-01-01"}),
    ("products", "/catalog/export/", "/api/catalog/products/export", {"q": "плед"}),
    ("tasks", "/tasks/export/", "/api/tasks/export", {"all": "1"}),
    ("runs", "/sops/runs/sop/1/export/", "/api/sops/1/runs/export", {"state": "running"}),
    ("messages", "/messages/export/", "/api/messages/export", {"channel": "email"}),
    ("events", "/activity/export/", "/api/events/export", {"kind": "customers"}),
]


def _people() -> list[Customer]:
    made = [
        customer_create(
            first_name=first,
            last_name=last,
            emails=[email],
            phones=[phone],
            country="UA",
            actor=None,
        )
        for first, last, email, phone in [
            ("Олена", "Коваленко", "olena@example.com", "+380671234567"),
            ("Ґанна", "Їжакевич-Щербань", "ganna@example.com", "+380501112233"),
            ("Taras", "Shevchenko", "taras@example.com", "+380931234567"),
        ]
    ]
    tag_add(customer_id=made[0].pk, name="ВІП", actor=None)
    tag_add(customer_id=made[1].pk, name="ВІП", actor=None)
    return made


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def _csv_rows(response: Any) -> list[list[str]]:
    raw = _body(response)
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: a spreadsheet reads UTF-8 then
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _exports() -> list[tuple[str, dict[str, Any]]]:
    exported = Event.objects.filter(event_type__startswith="list.").order_by("id")
    return [(e.event_type, e.payload) for e in exported]


def test_a_cyrillic_csv_opened_back_is_the_list_with_its_filter(owner_client: Client) -> None:
    olena, ganna, _taras = _people()

    response = owner_client.get("/customers/export/", {"tag": "ВІП", "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="customers-')
    header, *rows = _csv_rows(response)
    assert header[:6] == ["ID", "First name", "Last name", "Company", "Emails", "Phones"]
    by_id = {int(row[0]): row for row in rows}
    assert set(by_id) == {olena.pk, ganna.pk}  # the filter held: Taras is not in the file
    for customer in (olena, ganna):
        customer.refresh_from_db()
        row = by_id[customer.pk]
        assert row[1:3] == [customer.first_name, customer.last_name]
        assert row[4] == customer.emails[0] and row[5] == customer.phones[0]
        assert row[6] == "ВІП" and row[7] == "UA"
        assert Decimal(row[9]) == customer.lifetime_value
    assert _exports() == [
        (
            "list.exported",
            {
                "list": "customers",
                "format": "csv",
                "filters": {"tag": "ВІП"},
                "export": _exports()[0][1]["export"],
            },
        ),
        (
            "list.export_finished",
            {
                "list": "customers",
                "export": _exports()[0][1]["export"],
                "rows": 2,
                "complete": True,
            },
        ),
    ]
    assert Event.objects.filter(event_type="list.exported").get().actor_id is not None


def test_the_xlsx_opened_back_holds_the_same_rows(owner_client: Client) -> None:
    people = _people()
    response = owner_client.get("/api/customers/export", {"format": "xlsx", "sort": "newest"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(_body(response)), read_only=True)
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    book.close()
    assert rows[0][:3] == ("ID", "First name", "Last name")
    assert [(row[0], row[1], row[2]) for row in rows[1:]] == [
        (c.pk, c.first_name, c.last_name) for c in reversed(people)
    ]
    assert rows[1][9] == 0  # money is a number, not text


def test_text_a_spreadsheet_would_run_is_written_as_text(owner_client: Client) -> None:
    customer_create(first_name='=HYPERLINK("http://evil.example")', last_name="-2+3", actor=None)
    customer_create(first_name="Петро", last_name="-", actor=None)
    _header, *rows = _csv_rows(owner_client.get("/customers/export/"))
    names = sorted((row[1], row[2]) for row in rows)
    assert names == [('\'=HYPERLINK("http://evil.example")', "'-2+3"), ("Петро", "-")]
    xlsx = owner_client.get("/customers/export/", {"format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(_body(xlsx)))
    cells = [cell for row in book.worksheets[0].iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in cells)  # no formula anywhere
    book.close()


@pytest.mark.parametrize(("name", "page", "api", "filters"), EXPORTS)
def test_every_list_exports_from_its_page_and_the_api(
    owner: User, owner_client: Client, name: str, page: str, api: str, filters: dict[str, str]
) -> None:
    if name == "products":
        catalog_services.product_create(name="Плед", actor=owner)
    if name == "customers":
        _people()
    issued = account_services.api_token_issue(
        user=owner, name="exports", expires_in_days=None, actor=owner
    )
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {issued.plaintext}"}

    from_page = owner_client.get(page, {**filters, "format": "csv"})
    from_api = Client().get(api, {**filters, "format": "xlsx"}, **auth)

    assert from_page.status_code == 200, from_page.content
    assert from_api.status_code == 200, from_api.content
    header = _csv_rows(from_page)[0]
    assert len(header) >= 5
    book = openpyxl.load_workbook(io.BytesIO(_body(from_api)), read_only=True)
    assert [cell.value for cell in next(book.worksheets[0].iter_rows())] == header
    book.close()
    started = Event.objects.filter(event_type="list.exported").order_by("id")
    assert [(e.payload["list"], e.payload["format"]) for e in started] == [
        (name, "csv"),
        (name, "xlsx"),
    ]
    assert set(LISTS) == {row[0] for row in EXPORTS}


@pytest.mark.parametrize(("name", "page", "api", "filters"), EXPORTS)
def test_an_unknown_filter_is_refused_by_name_and_nothing_is_exported(
    owner: User, owner_client: Client, name: str, page: str, api: str, filters: dict[str, str]
) -> None:
    issued = account_services.api_token_issue(
        user=owner, name="exports", expires_in_days=None, actor=owner
    )
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {issued.plaintext}"}

    refused = Client().get(api, {"colour": "red"}, **auth)
    assert refused.status_code == 422
    assert refused.json()["field"] == "colour" and "colour" in refused.json()["detail"]
    assert owner_client.get(page, {"colour": "red"}).status_code == 422
    wrong_format = Client().get(api, {"format": "pdf"}, **auth)
    assert wrong_format.status_code == 422 and wrong_format.json()["field"] == "format"
    assert owner_client.get(page, {"format": "pdf"}).status_code == 422
    assert not Event.objects.filter(event_type__startswith="list.").exists()


def test_a_filter_the_list_refuses_is_refused_before_the_file_starts(
    owner: User, owner_client: Client
) -> None:
    """The customers list checks its country in its SQL builder: an export checks it before
    the first byte, so the answer is a 422 naming it, not a stream broken midway."""
    issued = account_services.api_token_issue(
        user=owner, name="exports", expires_in_days=None, actor=owner
    )
    refused = Client().get(
        "/api/customers/export",
        {"country": "0"},
        HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}",
    )
    assert refused.status_code == 422 and refused.json()["field"] == "country"
    assert owner_client.get("/customers/export/", {"country": "0"}).status_code == 422
    assert not Event.objects.filter(event_type__startswith="list.").exists()


def test_nobody_exports_without_signing_in() -> None:
    _people()
    for _name, page, api, _filters in EXPORTS:
        assert Client().get(api).status_code == 401
        assert Client().get(page).status_code == 302  # to the log-in page
    assert not Event.objects.filter(event_type__startswith="list.").exists()


def test_a_reader_who_goes_away_is_recorded_with_the_rows_written(owner: User) -> None:
    for n in range(3000):  # more than one 64 KB chunk of CSV
        Customer.objects.create(first_name=f"Покупець {n}", last_name="x" * 40)
    request = RequestFactory().get("/customers/export/")
    request.user = owner
    response: Any = customer_export(request)
    first = next(iter(response.streaming_content))
    assert first.startswith(b"\xef\xbb\xbf")
    # What the server does when the connection drops (without the end of a request's
    # closing of connections, so that the test's transaction stays).
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)

    finished = Event.objects.get(event_type="list.export_finished").payload
    assert finished["complete"] is False and 0 < finished["rows"] < 3000
