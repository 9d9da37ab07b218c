"""Bad rows are rejected with their line and reason; the good rows of the same file go in."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from procedo.catalog.models import Sku
from procedo.customers.models import Customer, Identity
from procedo.events.models import Event
from procedo.imports.models import ImportJob, ImportState
from procedo.orders.models import Order, OrderKind, OrderLine
from procedo.testing import logged_in

pytestmark = pytest.mark.django_db

HEADER = "order_number,sku,description,quantity,unit_price,placed_at,email,phone,country\n"
GOOD_AND_BAD = (
    HEADER
    + "1001,MUG-1,Чашка «Київ»,2,150.00,2026-03-01 10:00,olena@example.com,067 123 45 67,Ukraine\n"
    + "1001,TEA-9,Чай,1,80.50,2026-03-01 10:00,olena@example.com,067 123 45 67,Ukraine\n"
    + "1002,MUG-1,,1,150.00,not a date,x@example.com,,UA\n"  # line 4: bad date
    + "1003,MUG-1,,1,-5,2026-03-02 11:00,,,UA\n"  # line 5: negative price
    + "1004,NOPE-1,,1,10,2026-03-02 11:00,,,UA\n"  # line 6: unknown SKU, no description
    + "1005,MUG-1,,1,10,2026-03-02 11:00,not-an-email,,UA\n"  # line 7: invalid email
    + "1006,MUG-1,,2,150,2026-03-03 09:00,,,UA\n"
    + "1006,TEA-9,,x,80.50,2026-03-03 09:00,,,UA\n"  # line 9: bad quantity, sinks 1006
    + "R-7,MUG-1,,-1,150,2026-03-04 09:00,olena@example.com,,UA\n"  # a return document
)


def _write(tmp_path: Path, text: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(path: Path, *extra: str) -> int:
    try:
        call_command("import", "orders", str(path), "--source", "shop", *extra)
    except SystemExit as exited:
        return int(exited.code or 0)
    return 0


def _report(job: ImportJob) -> dict[int, str]:
    with open(job.report_path, newline="", encoding="utf-8") as handle:
        return {int(row["line"]): row["reason"] for row in csv.DictReader(handle)}


def test_each_bad_row_is_rejected_with_its_line_and_the_rest_goes_in(tmp_path: Path) -> None:
    assert _run(_write(tmp_path, GOOD_AND_BAD), "--currency", "UAH") == 3
    job = ImportJob.objects.get()
    report = _report(job)
    assert set(report) == {4, 5, 6, 7, 8, 9}
    assert "placed_at 'not a date' is not a date" in report[4]
    assert report[5].startswith("negative unit price")
    assert report[6].startswith("unknown SKU NOPE-1")
    assert "not-an-email" in report[7]
    assert report[8] == "another line of this order was rejected (line 9)"
    assert "quantity 'x' is not a whole number" in report[9]

    assert sorted(Order.objects.values_list("number", flat=True)) == ["1001", "R-7"]
    sale = Order.objects.get(number="1001")
    assert (str(sale.total), sale.currency, sale.ship_country, sale.status_id) == (
        "380.50",
        "UAH",
        "UA",
        "delivered",
    )
    assert Order.objects.get(number="R-7").kind == OrderKind.RETURN
    assert OrderLine.objects.filter(order__number="R-7").get().quantity == 1
    # The customer is found by identity, in any phone format, and credited the return.
    customer = Customer.objects.get()
    assert set(Identity.objects.values_list("value", flat=True)) == {
        "olena@example.com",
        "+380671234567",
    }
    assert (customer.orders_count, str(customer.lifetime_value)) == (1, "230.50")
    # New SKUs come from the descriptions; no stock moved for history.
    assert set(Sku.objects.values_list("code", "on_hand")) == {("MUG-1", 0), ("TEA-9", 0)}
    assert not Event.objects.filter(event_type="order.created").exists()


def test_a_file_with_an_unknown_column_is_refused_whole(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "order_number,sku,qty,unit_price,placed_at,colour\n1,A,1,1,2026-01-01,red\n"
    )
    with pytest.raises(CommandError) as caught:
        call_command("import", "orders", str(path))
    assert "Unknown columns: colour" in str(caught.value)
    # Refused as it arrives, from its header: no job, no stored file.
    assert not ImportJob.objects.exists()
    assert not Order.objects.exists()


def test_a_missing_required_column_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "order_number,sku,quantity,placed_at\n1,A,1,2026-01-01\n")
    with pytest.raises(CommandError) as caught:
        call_command("import", "orders", str(path))
    assert "Missing required columns: unit_price" in str(caught.value)


def test_a_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"\xff\xfe\x00\x01binary")
    with pytest.raises(CommandError) as caught:
        call_command("import", "orders", str(path))
    assert "UTF-8" in str(caught.value)


def test_a_bad_source_name_changes_nothing(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as caught:
        call_command(
            "import", "orders", str(_write(tmp_path, GOOD_AND_BAD)), "--source", "Мій магазин"
        )
    assert str(caught.value).startswith("source:")
    assert not ImportJob.objects.exists()


def test_upload_in_the_browser_runs_in_the_worker_and_offers_the_report(
    owner_client: Client, django_capture_on_commit_callbacks
) -> None:
    upload = io.BytesIO(GOOD_AND_BAD.encode())
    upload.name = "shop-orders.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("imports:list"),
            {"kind": "orders", "file": upload, "source": "shop", "currency": "UAH"},
        )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "imports:detail", args=[job.pk]
    )
    assert job.state == ImportState.DONE and job.created_count == 2
    page = owner_client.get(reverse("imports:detail", args=[job.pk]))
    assert "Download the rejected rows" in page.content.decode()
    report = owner_client.get(reverse("imports:report", args=[job.pk]))
    body = b"".join(report.streaming_content).decode()  # type: ignore[attr-defined]
    assert body.splitlines()[0] == "line,reason,row" and len(body.splitlines()) == 7


def test_operators_cannot_import(make_user) -> None:
    client = logged_in(make_user("operator"))
    assert client.get(reverse("imports:list")).status_code == 403


CUSTOMERS = (
    "customer_ref,name,email,phone,country,city,address,postcode,tags,email_consent\n"
    "c1,Олена Коваленко,Olena@Example.com,(067) 123-45-67,Україна,Київ,"
    "вул. Хрещатик 1,01001,VIP;опт,так\n"
    "c2,Taras Shevchuk,taras@example.com,+380 50 765 4321,UA,Львів,,,vip,no\n"
    "c3,Bad Mail,not-mail,,UA,,,,,\n"  # line 4: bad email
    "c4,Bad Phone,,12,UA,,,,,\n"  # line 5: bad phone
    "c5,Twin,olena@example.com,,UA,,,,,\n"  # line 6: same email as line 2
    "c6,Nowhere,n@example.com,,Atlantis,,,,,\n"  # line 7: unknown country
    "c7,Maybe,m@example.com,,UA,,,,,maybe\n"  # line 8: bad consent
    ",,,,,,,,,\n"  # blank row: skipped
)


def test_customers_import_sets_identities_consent_tags_and_rejects_bad_rows(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, CUSTOMERS, "customers.csv")
    with pytest.raises(SystemExit) as exited:
        call_command("import", "customers", str(path), "--source", "oldcrm")
    assert exited.value.code == 3
    job = ImportJob.objects.get()
    assert (job.rows_total, job.created_count, job.rows_rejected) == (7, 2, 5)
    report = _report(job)
    assert set(report) == {4, 5, 6, 7, 8}
    assert report[6] == "the same customer as line 2"
    olena = Customer.objects.get(external_ref="oldcrm:c1")
    assert (olena.first_name, olena.last_name, olena.country) == ("Олена", "Коваленко", "UA")
    identities = dict(
        Identity.objects.filter(customer=olena).values_list("value", "marketing_consent")
    )
    assert identities == {"olena@example.com": "granted", "+380671234567": "unknown"}
    taras = Customer.objects.get(external_ref="oldcrm:c2")
    from procedo.customers.models import CustomerTag, Tag

    assert Tag.objects.count() == 2  # "VIP" and "vip" are one tag
    assert CustomerTag.objects.filter(customer=taras).count() == 1
    # Found by search right away, Cyrillic and any phone format included.
    from procedo.customers.selectors import customer_list

    assert [c.pk for c in customer_list(search="ОЛЕНА").items] == [olena.pk]
    assert [c.pk for c in customer_list(search="0671234567").items] == [olena.pk]

    # The same file again is the same job: imported once.
    first = ImportJob.objects.get()
    with pytest.raises(SystemExit):
        call_command("import", "customers", str(path), "--source", "oldcrm")
    assert list(ImportJob.objects.all()) == [first]
    assert Customer.objects.count() == 2
    # A file with the same rows and one more blank line is another file: its rows are
    # found in the store and nothing is added.
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        call_command("import", "customers", str(path), "--source", "oldcrm")
    again = ImportJob.objects.latest("id")
    assert again != first and (again.created_count, again.existing_count) == (0, 2)
    assert Customer.objects.count() == 2


def test_customers_an_order_file_names_by_ref_come_in_with_their_event(tmp_path: Path) -> None:
    text = (
        "order_number,sku,description,quantity,unit_price,placed_at,customer_ref,country\n"
        "2001,MUG-1,Чашка,1,150,2026-03-01 10:00,17850,UA\n"
        "2002,MUG-1,Чашка,2,150,2026-03-05 10:00,17850,UA\n"
        "2003,MUG-1,Чашка,1,150,2026-03-06 10:00,13047,PL\n"
    )
    assert _run(_write(tmp_path, text), "--currency", "UAH") == 0
    by_ref = {c.external_ref: c for c in Customer.objects.all()}
    assert set(by_ref) == {"shop:17850", "shop:13047"}
    assert (by_ref["shop:17850"].orders_count, str(by_ref["shop:17850"].lifetime_value)) == (
        2,
        "450.00",
    )
    # A customer is first seen when their first order was placed.
    assert by_ref["shop:17850"].created_at.date().isoformat() == "2026-03-01"
    imported = Event.objects.filter(event_type="customer.imported")
    assert set(imported.values_list("subject_id", flat=True)) == {c.pk for c in by_ref.values()}
    assert {e.payload["source"] for e in imported} == {"shop"}
    # The same file again adds nothing: no customer, no order, no event.
    _run(_write(tmp_path, text, "again.csv"), "--currency", "UAH")
    assert (Customer.objects.count(), Order.objects.count(), imported.count()) == (2, 3, 2)
