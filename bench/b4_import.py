"""Import of the real retail file vs a raw bulk insert of the same order and line rows."""

from __future__ import annotations

import tempfile
import zoneinfo
from pathlib import Path

from django.db import connection, transaction

from bench.timing import Measured, measure, report
from procedo.business.services import business_update
from procedo.imports.csvfiles import RejectedReport
from procedo.imports.orders import import_orders
from procedo.orders.models import Order, OrderLine

RETAIL = Path(__file__).resolve().parents[2] / "shared" / "data" / "retail" / "online_retail.csv.gz"


def _reset() -> None:
    with transaction.atomic():
        OrderLine.objects.all().delete()
        Order.objects.all().delete()


def run(*, scale: float) -> None:
    if not RETAIL.exists():
        print("  B4   import: skipped (../shared/data/retail is not beside the project)")
        return
    business_update(name="Bench", time_zone="Europe/London", currency="GBP", actor_id=None)
    london = zoneinfo.ZoneInfo("Europe/London")

    def importer() -> int:
        with RejectedReport(Path(tempfile.gettempdir()) / "b4-rejected.csv") as rejected:
            result = import_orders(
                path=RETAIL, source="bench", currency="GBP", zone=london, report=rejected
            )
        return result.rows_total

    # One import untimed first: it creates the catalog and the customers, which
    # the raw baseline does not make either; each timed run then starts from no orders.
    importer()
    rows_orders = list(
        Order.objects.values_list(
            "number",
            "kind",
            "customer_id",
            "status_id",
            "currency",
            "subtotal",
            "discount_total",
            "shipping_total",
            "total",
            "placed_at",
            "status_changed_at",
            "ship_country",
            "channel",
            "source",
            "stock_state",
            "note",
            "created_at",
        )
    )
    rows_lines = list(
        OrderLine.objects.values_list(
            "order__number",
            "sku_id",
            "sku_code",
            "description",
            "quantity",
            "unit_price",
            "discount",
            "line_total",
        )
    )
    adapt = connection.ops.adapt_datetimefield_value

    def raw() -> int:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO orders_order (number, kind, customer_id, status, currency, subtotal,"
                " discount_total, shipping_total, total, placed_at, status_changed_at,"
                " ship_country, channel, source, stock_state, note, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (*row[:9], adapt(row[9]), adapt(row[10]), *row[11:16], adapt(row[16]))
                    for row in rows_orders
                ],
            )
            ids = dict(Order.objects.values_list("number", "id"))
            cursor.executemany(
                "INSERT INTO orders_orderline (order_id, sku_id, sku_code, description, quantity,"
                " unit_price, discount, line_total) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(ids[row[0]], *row[1:]) for row in rows_lines],
            )
        return len(rows_lines) + len(rows_orders)

    _reset()
    repeat = 3 if scale >= 1 else 1
    baseline: Measured = measure(raw, repeat=repeat, warmup=False, reset=_reset)
    imported: Measured = measure(importer, repeat=repeat, warmup=False, reset=_reset)
    report(
        "B4",
        f"import retail CSV ({imported.work:,} rows)",
        imported,
        Measured(seconds=baseline.seconds, work=imported.work),
        ">= 0.3",
        unit="rows/s",
    )
