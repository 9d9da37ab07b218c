"""Importing order history from a CSV file: one order per order number, lines grouped under it.

Reads the file as a stream, twice: a first pass checks it whole against the
limits and learns each SKU's description; the second judges every row and
writes what is valid in batches with bulk inserts, holding only the orders
still open (memory stays flat whatever the file). Rules for history
(documented in the import page):

- An order whose lines all have negative quantities is a return document (a
  credit note, e.g. the retail file's "C…" invoices): it is stored as an order
  of kind "return" with the quantities made positive.
- A negative quantity at price 0 is a stock write-off, not a sale: rejected.
- A negative quantity among positive ones, a negative price, a bad date, a
  bad number, an unknown SKU with no description, an invalid email or phone:
  the row is rejected with its line and reason, and so are the other rows of
  its order, so no order is written with lines missing.
- An order number that exists already is left as it is: importing the same
  file twice changes nothing.
- An order's lines lie together in the file (a few lines of another order
  between them are fine, as in the retail file): a line that comes more than
  ORDER_WINDOW_ROWS rows after its order's previous one, or past an order's
  ORDER_MAX_LINES lines, is rejected with the reason.

Imported orders enter the status "delivered" (or "returned"), reserve no
stock and record "order.imported", not "order.created": history must not
start the SOPs that greet new orders.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from functools import lru_cache, partial
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.catalog.selectors import skus_known
from procedo.catalog.services import MAX_CATEGORY, SkuSeen, skus_ensure
from procedo.core.countries import country_code
from procedo.core.errors import DomainError
from procedo.customers import normalise
from procedo.customers import selectors as customer_selectors
from procedo.customers.services.bulk import NewCustomer, customers_create_many
from procedo.customers.services.customers import customer_find_or_create
from procedo.imports.csvfiles import (
    Column,
    ReadLimits,
    Rejected,
    RejectedReport,
    RowError,
    cells_reader,
    parse_datetime,
    parse_decimal,
    parse_int,
    read_csv,
)
from procedo.orders import selectors as order_selectors
from procedo.orders.services.history import HistoryLine, HistoryOrder, orders_history_insert

ORDER_COLUMNS = (
    Column(
        "order_number",
        ("invoiceno", "invoice", "invoice_number", "order", "order_id", "number"),
        required=True,
    ),
    Column("sku", ("stockcode", "sku_code", "code", "product_code"), required=True),
    Column("description", ("product", "item", "product_name")),
    Column("quantity", ("qty",), required=True),
    Column("placed_at", ("invoicedate", "date", "order_date", "created_at"), required=True),
    Column("unit_price", ("unitprice", "price"), required=True),
    Column("customer_ref", ("customerid", "customer_id", "customer")),
    Column("email", ("customer_email",)),
    Column("phone", ("customer_phone",)),
    Column("first_name", ()),
    Column("last_name", ()),
    Column("country", ("shipping_country", "ship_country")),
    Column("currency", ()),
    # Only for SKUs the import creates: their product's category.
    Column("category", ("product_category", "category_name")),
)
ORDERS_PER_BATCH = 2000
# The retail file's longest invoice has 1,114 lines, and one invoice has two
# lines of another between its own: an order quiet for this many rows is complete.
ORDER_MAX_LINES = 5000
ORDER_WINDOW_ROWS = 5000
# Rows of open orders held at most (tens of megabytes); past it the oldest are completed.
HELD_MAX_ROWS = 50_000


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    raw: list[str]
    order_number: str
    sku: str
    description: str
    quantity: int
    unit_price: Decimal
    placed_at: datetime
    currency: str
    country: str
    customer_ref: str
    email: str
    phone: str
    first_name: str
    last_name: str


@dataclass
class _Order:
    number: str
    first_line: int
    rows: list[_Row] = field(default_factory=list)
    # (line, raw) of this order's rows that failed on their own.
    rejected: list[Rejected] = field(default_factory=list)
    last_index: int = 0  # the data row where it was last seen
    too_long: bool = False

    @property
    def first(self) -> _Row:
        return self.rows[0]

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.rejected)


@dataclass
class ImportResult:
    rows_total: int = 0
    orders_created: int = 0
    orders_existing: int = 0
    lines_created: int = 0
    customers_created: int = 0
    skus_created: int = 0
    rows_rejected: int = 0


Progress = Callable[[int, int], None]


_ROW_CELLS = (
    "order_number",
    "sku",
    "description",
    "quantity",
    "unit_price",
    "placed_at",
    "currency",
    "country",
    "customer_ref",
    "email",
    "phone",
    "first_name",
    "last_name",
)


def _parse_row(
    line: int,
    fields: list[str],
    values: tuple[str, ...],
    *,
    currency: str,
    when: Callable[[str], datetime],
    money: Callable[[str], Decimal],
) -> _Row:
    (
        number,
        sku,
        description,
        quantity_text,
        price_text,
        placed_text,
        row_currency,
        country,
        customer_ref,
        email,
        phone,
        first_name,
        last_name,
    ) = values
    if not number:
        raise RowError(_("order number is empty"))
    if not sku:
        raise RowError(_("SKU is empty"))
    quantity = parse_int(quantity_text, "quantity")
    if quantity == 0:
        raise RowError(_("quantity is 0"))
    price = money(price_text)
    if price < 0:
        raise RowError(_("negative unit price %(price)s") % {"price": price})
    if quantity < 0 and price == 0:
        raise RowError(_("negative quantity at price 0: a stock write-off, not a sale or return"))
    try:
        email = normalise.email_normalise(email) if email else ""
        phone = normalise.phone_normalise(phone).e164 if phone else ""
    except DomainError as exc:
        raise RowError(exc.message) from None
    row_currency = (row_currency or currency).upper()
    if len(row_currency) != 3 or not row_currency.isalpha():
        raise RowError(_("currency %(value)r is not an ISO code") % {"value": row_currency})
    return _Row(
        line=line,
        raw=fields,
        order_number=number,
        sku=sku,
        description=description,
        quantity=quantity,
        unit_price=price,
        placed_at=when(placed_text),
        currency=row_currency,
        country=country_code(country),
        customer_ref=customer_ref,
        email=email,
        phone=phone,
        first_name=first_name,
        last_name=last_name,
    )


def _descriptions(
    path: Path, limits: ReadLimits, *, currency: str, zone: tzinfo
) -> tuple[int, dict[str, str], dict[str, str]]:
    """The first pass: the whole file checked against the limits, its rows, each SKU's name
    and category.

    A file over a limit is refused here, before anything is written. A SKU is
    named (and given its category) by the first valid line that describes it (not
    by a write-off's "damaged"), and can then be created for lines elsewhere that do not.
    """
    total = 0
    descriptions: dict[str, str] = {}
    categories: dict[str, str] = {}
    with read_csv(path, ORDER_COLUMNS, limits) as (mapping, data):
        read_cells = cells_reader(mapping, _ROW_CELLS)
        read_category = cells_reader(mapping, ("category",))
        when = partial(parse_datetime, field="placed_at", zone=zone)
        money = partial(parse_decimal, field="unit_price")
        for line, fields in data:
            total += 1
            values = read_cells(fields)
            sku, description = values[1], values[2]
            if not sku or not description or sku in descriptions:
                continue
            try:
                _parse_row(line, fields, values, currency=currency, when=when, money=money)
            except RowError:
                continue
            descriptions[sku] = description[:200]
            if category := read_category(fields)[0]:
                categories[sku] = category[:MAX_CATEGORY]
    return total, descriptions, categories


def _judge(order: _Order, known_skus: set[str], descriptions: dict[str, str]) -> str | None:
    """Why the order's valid rows cannot go in either, or None when the order is sound."""
    if order.rejected:
        return _("another line of this order was rejected (line %(line)s)") % {
            "line": order.rejected[0].line
        }
    for row in order.rows:
        if row.sku not in known_skus and row.sku not in descriptions:
            return _("unknown SKU %(sku)s (not in the catalog and no description to create it)") % {
                "sku": row.sku
            }
        if row.currency != order.first.currency:
            return _("lines in more than one currency")
    signs = {row.quantity > 0 for row in order.rows}
    if len(signs) > 1:
        return _("negative and positive quantities in one order")
    return None


def _reject_order(order: _Order, reason: str, report: RejectedReport) -> None:
    rejected = [
        *order.rejected,
        *(Rejected(line=row.line, reason=reason, raw=row.raw) for row in order.rows),
    ]
    for item in sorted(rejected, key=lambda item: item.line):
        report.add(item)


def import_orders(
    *,
    path: Path,
    source: str,
    currency: str,
    zone: tzinfo,
    report: RejectedReport,
    actor: Actor = None,
    progress: Progress | None = None,
    limits: ReadLimits | None = None,
) -> ImportResult:
    """Import an order-history CSV (see the module's rules); rejected rows go to `report`."""
    limits = limits or ReadLimits.from_settings()
    result = ImportResult()
    currency = currency.upper()
    result.rows_total, descriptions, categories = _descriptions(
        path, limits, currency=currency, zone=zone
    )
    # Open orders, the one seen longest ago first; and the orders already judged.
    open_orders: OrderedDict[str, _Order] = OrderedDict()
    closed: dict[str, int] = {}
    ready: list[_Order] = []
    held = 0

    def complete(order: _Order, read: int) -> None:
        closed[order.number] = order.first_line
        if not order.too_long:
            ready.append(order)
        if len(ready) >= ORDERS_PER_BATCH:
            _import_batch(
                ready,
                descriptions,
                categories,
                source=source,
                actor=actor,
                result=result,
                report=report,
            )
            ready.clear()
            if progress:
                progress(read, result.rows_total)

    def reject(line: int, reason: str, fields: list[str]) -> None:
        report.add(Rejected(line=line, reason=reason, raw=fields))

    with read_csv(path, ORDER_COLUMNS, limits) as (mapping, data):
        # The lines of one order share a timestamp and most prices repeat:
        # parse each distinct text once.
        when = lru_cache(maxsize=65536)(partial(parse_datetime, field="placed_at", zone=zone))
        money = lru_cache(maxsize=65536)(partial(parse_decimal, field="unit_price"))
        read_cells = cells_reader(mapping, _ROW_CELLS)
        for index, (line, fields) in enumerate(data):
            values = read_cells(fields)
            number = values[0]
            order = open_orders.get(number)
            if order is None:
                if number in closed:
                    reject(
                        line,
                        _(
                            "order %(number)s was complete before this line (it starts at "
                            "line %(first)s): an order's lines must be together in the file"
                        )
                        % {"number": number, "first": closed[number]},
                        fields,
                    )
                    continue
                order = open_orders[number] = _Order(number=number, first_line=line)
            else:
                open_orders.move_to_end(number)
            order.last_index = index
            if order.too_long:
                reject(line, _too_long(number), fields)
                continue
            try:
                order.rows.append(
                    _parse_row(line, fields, values, currency=currency, when=when, money=money)
                )
            except RowError as exc:
                order.rejected.append(Rejected(line=line, reason=str(exc), raw=fields))
            held += 1
            if order.size > ORDER_MAX_LINES:
                held -= order.size
                _reject_order(order, _too_long(number), report)
                order.rows, order.rejected, order.too_long = [], [], True
            while open_orders:
                oldest = next(iter(open_orders.values()))
                if oldest.last_index >= index - ORDER_WINDOW_ROWS and held <= HELD_MAX_ROWS:
                    break
                open_orders.popitem(last=False)
                held -= oldest.size
                complete(oldest, index + 1)
    for order in list(open_orders.values()):
        complete(order, result.rows_total)
    if ready:
        _import_batch(
            ready,
            descriptions,
            categories,
            source=source,
            actor=actor,
            result=result,
            report=report,
        )
    if progress:
        progress(result.rows_total, result.rows_total)
    result.rows_rejected = report.count
    return result


def _too_long(number: str) -> str:
    return _("order %(number)s has more than %(limit)s lines") % {
        "number": number,
        "limit": ORDER_MAX_LINES,
    }


def _import_batch(
    batch: list[_Order],
    descriptions: dict[str, str],
    categories: dict[str, str],
    *,
    source: str,
    actor: Actor,
    result: ImportResult,
    report: RejectedReport,
) -> None:
    known_skus = skus_known(codes=list({row.sku for order in batch for row in order.rows}))
    sound: list[_Order] = []
    for order in batch:
        reason = _judge(order, known_skus, descriptions)
        if reason is None:
            sound.append(order)
        else:
            _reject_order(order, reason, report)
    # A new SKU's price is the first it sold at.
    prices: dict[str, tuple[Decimal, str]] = {}
    for order in sound:
        for row in order.rows:
            prices.setdefault(row.sku, (row.unit_price, row.currency))
    sku_ids = skus_ensure(
        items=[
            SkuSeen(
                code=code,
                name=descriptions.get(code, code),
                price=price,
                currency=cur,
                category=categories.get(code, ""),
            )
            for code, (price, cur) in prices.items()
        ],
        actor=actor,
        source=source,
    )
    result.skus_created += len(set(prices) - known_skus)
    _write_batch(sound, sku_ids=sku_ids, source=source, actor=actor, result=result)


def _customer_ids(
    batch: list[_Order], *, source: str, actor: Actor, result: ImportResult
) -> dict[str, int | None]:
    """order number -> customer id: by external ref in bulk, by email/phone through the service."""
    by_order: dict[str, int | None] = {}
    # Each ref's first order in the batch names the customer; the earliest is when they came.
    refs: dict[str, _Order] = {}
    since: dict[str, datetime] = {}
    for order in batch:
        if order.first.customer_ref:
            ref = f"{source}:{order.first.customer_ref}"
            refs.setdefault(ref, order)
            placed = min(row.placed_at for row in order.rows)
            since[ref] = min(since.get(ref, placed), placed)
    existing = customer_selectors.customer_ids_by_external_ref(external_refs=list(refs))
    missing = {ref: order for ref, order in refs.items() if ref not in existing}
    created = customers_create_many(
        people=[
            NewCustomer(
                external_ref=ref,
                first_name=order.first.first_name,
                last_name=order.first.last_name,
                country=order.first.country,
                created_at=since[ref],
            )
            for ref, order in missing.items()
        ],
        source=source,
        actor=actor,
    )
    existing.update(zip(missing, created, strict=True))
    result.customers_created += len(created)
    for order in batch:
        first = order.first
        if first.customer_ref:
            by_order[order.number] = existing[f"{source}:{first.customer_ref}"]
        elif first.email or first.phone:
            match = customer_find_or_create(
                email=first.email,
                phone=first.phone,
                first_name=first.first_name,
                last_name=first.last_name,
                country=first.country,
                source=source,
                actor=actor,
            )
            result.customers_created += int(match.created)
            by_order[order.number] = match.customer.pk
        else:
            by_order[order.number] = None
    return by_order


@transaction.atomic
def _write_batch(
    batch: list[_Order], *, sku_ids: dict[str, int], source: str, actor: Actor, result: ImportResult
) -> None:
    taken = order_selectors.order_numbers_taken([order.number for order in batch])
    fresh = [order for order in batch if order.number not in taken]
    result.orders_existing += len(taken)
    if not fresh:
        return
    customers = _customer_ids(fresh, source=source, actor=actor, result=result)
    orders, lines = orders_history_insert(
        orders=[
            HistoryOrder(
                number=order.number,
                is_return=order.first.quantity < 0,
                customer_id=customers[order.number],
                currency=order.first.currency,
                placed_at=min(row.placed_at for row in order.rows),
                country=order.first.country,
                lines=[
                    HistoryLine(
                        sku=row.sku,
                        sku_id=sku_ids.get(row.sku),
                        description=row.description,
                        quantity=abs(row.quantity),
                        unit_price=row.unit_price,
                    )
                    for row in order.rows
                ],
            )
            for order in fresh
        ],
        source=source,
        actor=actor,
    )
    result.orders_created += orders
    result.lines_created += lines
