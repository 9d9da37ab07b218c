"""The real retail file (../shared/data/retail), imported whole, checked against the CSV."""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Case, DecimalField, F, Sum, When
from django.db.models.functions import TruncMonth

from procedo.business.services import business_update
from procedo.core.countries import country_code
from procedo.customers.models import Customer
from procedo.events.models import Event
from procedo.imports.models import ImportJob
from procedo.orders.models import Order, OrderKind, OrderLine, Payment

# ../shared beside the project: the checkout's parent, or a worktree's grandparent.
RETAIL = next(
    (
        found
        for parent in Path(__file__).resolve().parents
        if (found := parent / "shared" / "data" / "retail" / "online_retail.csv.gz").exists()
    ),
    Path("shared/data/retail/online_retail.csv.gz"),
)
LONDON = ZoneInfo("Europe/London")
CENT = Decimal("0.01")
AGAIN_ROWS = 50_000  # lines of the file imported a second time
PART_ROWS = 100_000  # lines of the file imported on PostgreSQL

# Transactional, so the import commits batch by batch as it does in production. Inside one
# test transaction its half a million rows were one transaction whose deferred foreign-key
# checks ran at its end: PostgreSQL spun at 95 % CPU for over 20 minutes, and held back
# every event consumer on the server meanwhile.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not RETAIL.exists(), reason="../shared/data/retail is not beside the project"
    ),
]


def _import(path: Path = RETAIL) -> int:
    with pytest.raises(SystemExit) as exited:
        call_command(
            "import",
            "orders",
            str(path),
            "--source",
            "retail",
            "--currency",
            "GBP",
            "--timezone",
            "Europe/London",
        )
    return int(exited.value.code or 0)


def _rejected_lines(job: ImportJob) -> dict[int, str]:
    with open(job.report_path, newline="", encoding="utf-8") as handle:
        return {int(row["line"]): row["reason"] for row in csv.DictReader(handle)}


def _first_invoices(path: Path, *, rows: int, rejected: set[int]) -> int:
    """Write the file's header and its first `rows` lines, up to the end of the invoice
    there, to `path` (gzip, other bytes than the file); the number of orders they hold."""
    invoices: set[str] = set()
    with (
        gzip.open(RETAIL, "rt", encoding="utf-8", newline="") as source,
        gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=1) as target,
    ):
        target.write(source.readline())
        last = ""
        for line, text in enumerate(source, start=2):
            invoice = text.split(",", 1)[0]
            if line > rows + 1 and invoice != last:
                break
            target.write(text)
            last = invoice
            if line not in rejected:
                invoices.add(invoice)
    return len(invoices)


def _invoices_in(path: Path, *, rejected: set[int]) -> int:
    """The orders a file holds: its invoices with a line not rejected."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        next(handle)
        return len(
            {
                text.split(",", 1)[0]
                for line, text in enumerate(handle, start=2)
                if line not in rejected
            }
        )


def _expected_from_csv(path: Path, rejected: set[int]) -> dict[tuple[str, str], Decimal]:
    """Net revenue per (country, month) computed straight from the file, lines rounded to pence."""
    invoices: dict[str, dict[str, object]] = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        for line, row in enumerate(reader, start=2):
            if line in rejected:
                continue
            amount = (Decimal(row["Quantity"]) * Decimal(row["UnitPrice"])).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
            invoice = invoices.setdefault(
                row["InvoiceNo"],
                {"when": row["InvoiceDate"], "country": row["Country"], "amount": Decimal(0)},
            )
            invoice["when"] = min(str(invoice["when"]), row["InvoiceDate"])
            invoice["amount"] = Decimal(str(invoice["amount"])) + amount
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for invoice in invoices.values():
        key = (country_code(str(invoice["country"])), str(invoice["when"])[:7])
        totals[key] += Decimal(str(invoice["amount"]))
    return dict(totals)


def test_the_whole_retail_file_imports_and_its_totals_match_the_csv(tmp_path: Path) -> None:
    """The whole file on SQLite; on PostgreSQL its first 100,000 lines, which take the same
    committed batches (the run's longest test on the slower backend otherwise: 175 s)."""
    business_update(name="Gift shop", time_zone="Europe/London", currency="GBP", actor_id=None)
    whole = connection.vendor == "sqlite"
    source = RETAIL
    if not whole:
        source = tmp_path / "retail-first.csv.gz"
        _first_invoices(source, rows=PART_ROWS, rejected=set())
    assert _import(source) == 3  # some rows rejected, each with its reason

    job = ImportJob.objects.get()
    rejected = _rejected_lines(job)
    # What the data README calls stock write-offs, the two negative-price
    # bad-debt adjustments, and zero-price rows of SKUs the file never describes.
    reasons = ("write-off", "negative unit price", "unknown SKU")
    assert all(any(reason in r for reason in reasons) for r in rejected.values()), rejected
    assert len(rejected) == job.rows_rejected
    assert OrderLine.objects.count() == job.lines_count == job.rows_total - len(rejected)
    orders = _invoices_in(source, rejected=set(rejected))
    assert Order.objects.count() == job.created_count == orders
    assert Event.objects.filter(event_type="order.imported").count() == orders
    if whole:
        assert job.rows_total == 541_909
        assert len(rejected) == 1_354
        assert sum("write-off" in r for r in rejected.values()) == 1_336
        assert sum(r.startswith("negative unit price") for r in rejected.values()) == 2
        assert sum(r.startswith("unknown SKU") for r in rejected.values()) == 16
        assert orders == 24_546
        assert Order.objects.filter(kind=OrderKind.RETURN).count() == 3_836
        assert Customer.objects.count() == 4_372
    # Invoiced history was paid: one payment per sale with money in it.
    paid_sales = Order.objects.filter(kind=OrderKind.SALE, total__gt=0)
    assert Payment.objects.filter(status="paid").count() == paid_sales.count()
    assert not paid_sales.filter(paid_at__isnull=True).exists()

    signed = Case(
        When(kind=OrderKind.RETURN, then=-F("total")),
        default=F("total"),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )
    # SQLite adds decimals as floating point; a cent is far above that noise.
    imported = {
        (row["ship_country"], row["month"].strftime("%Y-%m")): row["net"].quantize(CENT)
        for row in Order.objects.annotate(month=TruncMonth("placed_at", tzinfo=LONDON))
        .values("ship_country", "month")
        .annotate(net=Sum(signed))
    }
    assert imported == _expected_from_csv(source, set(rejected))

    if whole:  # A customer's figures come from their orders: sales counted, returns credited.
        customer = Customer.objects.get(external_ref="retail:12347")
        assert customer.orders_count == 7 and customer.lifetime_value == Decimal("4310.00")

    # The same file again changes nothing and records nothing.
    before = (
        Order.objects.count(),
        OrderLine.objects.count(),
        Customer.objects.count(),
        Event.objects.exclude(event_type__startswith="import.").count(),
    )
    first = ImportJob.objects.get()
    assert _import(source) == 3
    assert list(ImportJob.objects.all()) == [first]  # the same bytes: the same job
    # The same rows in other bytes are read again and every order is found. The file's first
    # invoices show it as well as all of them would, in a tenth of the time.
    again = tmp_path / "retail-again.csv.gz"
    orders_again = _first_invoices(again, rows=AGAIN_ROWS, rejected=set(rejected))
    assert _import(again) == 3  # its write-offs are refused again
    second = ImportJob.objects.latest("id")
    assert (second.created_count, second.existing_count) == (0, orders_again)
    assert before == (
        Order.objects.count(),
        OrderLine.objects.count(),
        Customer.objects.count(),
        Event.objects.exclude(event_type__startswith="import.").count(),
    )
