"""Reads of customers: the list, the card, finding by identity, and likely duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Field, Prefetch, Q, QuerySet, TextChoices
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from procedo.core.bounds import PAGE_LIMIT_MAX
from procedo.core.errors import DomainError, NotFound
from procedo.core.exports import Column
from procedo.core.paging import EXPORT_BATCH, Page, cursor_encode, keyset_sql
from procedo.customers import normalise
from procedo.customers.models import (
    Address,
    Customer,
    CustomerSearchTerm,
    CustomerTag,
    DuplicateDismissal,
    Identity,
    IdentityKind,
    Note,
    Tag,
    display_name,
)


class CustomerSort(TextChoices):
    NEWEST = "newest", gettext_lazy("Newest first")
    VALUE = "value", gettext_lazy("Highest lifetime value")


# Each order has a partial index on live customers (models.Customer.Meta), so a
# page is an index walk that stops after `limit` rows: no sort, no OFFSET.
SORT_ORDERS = {
    CustomerSort.NEWEST: ["-created_at", "-id"],
    CustomerSort.VALUE: ["-lifetime_value", "-id"],
}
LIST_LIMIT_MAX = PAGE_LIMIT_MAX


def _identities() -> Prefetch[str, QuerySet[Identity], str]:
    return Prefetch("identities", queryset=Identity.objects.order_by("kind", "id"))


def _day_start(day: date) -> datetime:
    # Dates are the business's days: the middleware has activated its time zone.
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


@dataclass(frozen=True, slots=True)
class ListedCustomer:
    """A customer as the lists show it: its columns, its contacts and its tags' names.

    Not a model instance: building 50 of those with their prefetched identities
    and tags cost 20 times the three queries that read them (make bench, B5).
    """

    emails: list[str]
    phones: list[str]
    tags: list[str]
    # The columns read from the customer row, in the order of _LISTED.
    id: int
    first_name: str
    last_name: str
    company: str
    country: str
    source: str
    external_ref: str | None
    created_at: datetime
    orders_count: int
    lifetime_value: Decimal
    first_order_at: datetime | None
    last_order_at: datetime | None
    merged_into_id: None = None  # the lists show live customers only

    @property
    def pk(self) -> int:
        return self.id

    def __str__(self) -> str:
        return display_name(self.first_name, self.last_name, self.company, self.id)


_LISTED = (
    "id",
    "first_name",
    "last_name",
    "company",
    "country",
    "source",
    "external_ref",
    "created_at",
    "orders_count",
    "lifetime_value",
    "first_order_at",
    "last_order_at",
)
_converters: dict[str, list[tuple[int, list[Any], Any]]] = {}


def _field(name: str) -> Field[Any, Any]:
    found = Customer._meta.get_field(name)
    assert isinstance(found, Field)
    return found


def _listed_converters() -> list[tuple[int, list[Any], Any]]:
    """The backend's converters of each listed column, as the ORM applies them (per vendor)."""
    found = _converters.get(connection.vendor)
    if found is None:
        found = []
        for index, name in enumerate(_LISTED):
            field = _field(name)
            column = field.get_col(Customer._meta.db_table)
            functions = connection.ops.get_db_converters(column) + column.get_db_converters(
                connection
            )
            if functions:
                found.append((index, functions, column))
        _converters[connection.vendor] = found
    return found


def _listed_rows(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    converted = []
    convert = _listed_converters()
    for row in rows:
        values = list(row)
        for index, functions, column in convert:
            value = values[index]
            for function in functions:
                value = function(value, column, connection)
            values[index] = value
        converted.append(values)
    return converted


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "customer": quote(Customer._meta.db_table),
        "term": quote(CustomerSearchTerm._meta.db_table),
        "tagged": quote(CustomerTag._meta.db_table),
        "tag": quote(Tag._meta.db_table),
        "identity": quote(Identity._meta.db_table),
    }


# From this many tagged customers on, a tag's page is found by walking the list in
# order (see customer_list); below it, by sorting the tagged customers.
COMMON_TAG = 5000


def _tag_is_common(key: str, table: dict[str, str]) -> bool:
    """Whether at least COMMON_TAG customers carry the tag (counting stops there)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {table['tagged']} ct"  # noqa: S608
            f" INNER JOIN {table['tag']} g ON ct.tag_id = g.id WHERE g.name_key = %s"
            f" LIMIT {COMMON_TAG})",
            [key],
        )
        return int(cursor.fetchone()[0]) >= COMMON_TAG


def _list_query(
    *,
    search: str = "",
    tag: str = "",
    has_orders: bool | None = None,
    last_order_after: date | None = None,
    last_order_before: date | None = None,
    country: str = "",
    sort: str = CustomerSort.NEWEST,
) -> tuple[list[str], list[Any], list[tuple[str, Field[Any, Any], bool]]]:
    """The list's filters as SQL, for a page or an export: its WHERE conditions, their
    parameters, and its keyset order as (column, field, descending).

    `search` is a prefix of any name word, full name (either way round),
    company, email, or phone written any way ("067 123 45 67", "+38067…"),
    or 4 to 9 last digits of a phone ("2245"); case-insensitive for every
    alphabet. `last_order_after` is on or after that day, `last_order_before`
    before it. On SQLite a tag filter without a search first counts the tag (up
    to COMMON_TAG) to choose how to find its rows.
    """
    if sort not in SORT_ORDERS:
        raise DomainError(
            field="sort",
            message=_("Sort by one of %(sorts)s.") % {"sorts": ", ".join(CustomerSort.values)},
        )
    table = _tables()
    c = table["customer"]
    field = _field
    where: list[str] = []
    params: list[Any] = []
    prefix = normalise.search_prefix(search)
    if prefix:
        # Driven by the term index: fetch the few matches by id, then sort them.
        # With the live condition on the outer query the planner may instead walk
        # every live customer in list order and probe each against the matches.
        # A range, not LIKE: it seeks the (term, customer) index on both databases
        # (the column is COLLATE "C" on PostgreSQL), and compares Cyrillic exactly.
        # A phone's last digits are a second range, over the reversed tails, in the
        # same WHERE: both databases seek the index twice (PostgreSQL's BitmapOr,
        # SQLite's MULTI-INDEX OR), where two IN (…) subqueries OR-ed on the
        # customer would make PostgreSQL filter every customer.
        # Merged customers have no terms (services._reindex); the join re-checks it.
        ranges: list[str] = []
        for start in (prefix, normalise.search_suffix(search)):
            if not start:
                continue
            upper = normalise.prefix_upper_bound(start)
            ranges.append("t.term >= %s" if upper is None else "(t.term >= %s AND t.term < %s)")
            params.extend([start] if upper is None else [start, upper])
        where.append(
            f"{c}.id IN (SELECT t.customer_id FROM {table['term']} t"  # noqa: S608
            f" INNER JOIN {table['customer']} m ON t.customer_id = m.id"
            f" WHERE m.merged_into_id IS NULL AND ({' OR '.join(ranges)}))"
        )
    else:
        where.append(f"{c}.merged_into_id IS NULL")
    if tag.strip():
        key = normalise.text_key(tag)
        if not prefix and connection.vendor == "sqlite" and _tag_is_common(key, table):
            # Walk the list's own index and look each customer's tags up: a page is
            # found after about limit / share rows. SQLite, without statistics, would
            # otherwise fetch every tagged customer and sort them all (33,000 VIPs at
            # a million customers: make bench, B5). PostgreSQL weighs both itself.
            where.append(
                f"EXISTS (SELECT 1 FROM {table['tagged']} ct"  # noqa: S608
                f" INNER JOIN {table['tag']} g ON ct.tag_id = g.id"
                f" WHERE ct.customer_id = {c}.id AND g.name_key = %s)"
            )
        else:
            where.append(
                f"{c}.id IN (SELECT ct.customer_id FROM {table['tagged']} ct"  # noqa: S608
                f" INNER JOIN {table['tag']} g ON ct.tag_id = g.id WHERE g.name_key = %s)"
            )
        params.append(key)
    if has_orders is not None:
        where.append(f"{c}.orders_count > 0" if has_orders else f"{c}.orders_count = 0")
    last_order = field("last_order_at")
    if last_order_after is not None:
        where.append(f"{c}.last_order_at >= %s")
        params.append(last_order.get_db_prep_value(_day_start(last_order_after), connection))
    if last_order_before is not None:
        where.append(f"{c}.last_order_at < %s")
        params.append(last_order.get_db_prep_value(_day_start(last_order_before), connection))
    if country.strip():
        where.append(f"{c}.country = %s")
        params.append(normalise.country_normalise(country))
    keys = [
        (f"{c}.{name.lstrip('-')}", field(name.lstrip("-")), name.startswith("-"))
        for name in SORT_ORDERS[CustomerSort(sort)]
    ]
    return where, params, keys


def _listed_read(
    where: list[str],
    params: list[Any],
    keys: list[tuple[str, Field[Any, Any], bool]],
    *,
    cursor: str | None,
    limit: int,
) -> Page[ListedCustomer]:
    """One keyset page of `_list_query`'s rows: the page, its identities, its tags."""
    table = _tables()
    c = table["customer"]
    where, params = list(where), list(params)
    if cursor:
        after, after_params = keyset_sql(keys, cursor)
        where.append(after)
        params.extend(after_params)
    order = ", ".join(f"{sql} {'DESC' if descending else 'ASC'}" for sql, _f, descending in keys)
    columns = ", ".join(f"{c}.{name}" for name in _LISTED)
    # Only quoted table names, this module's column names and placeholders are formatted in.
    page_sql = (
        f"SELECT {columns} FROM {c} WHERE {' AND '.join(where)}"  # noqa: S608
        f" ORDER BY {order} LIMIT {int(limit) + 1}"
    )
    with connection.cursor() as db:
        db.execute(page_sql, params)
        rows = _listed_rows(db.fetchall())
        more = len(rows) > limit
        rows = rows[:limit]
        ids = [row[0] for row in rows]
        contacts: dict[int, tuple[list[str], list[str]]] = {pk: ([], []) for pk in ids}
        tags: dict[int, list[str]] = {pk: [] for pk in ids}
        if ids:
            marks = ", ".join(["%s"] * len(ids))
            db.execute(
                f"SELECT customer_id, kind, value FROM {table['identity']}"  # noqa: S608
                f" WHERE customer_id IN ({marks}) ORDER BY kind, id",
                ids,
            )
            for customer_id, kind, value in db.fetchall():
                contacts[customer_id][0 if kind == IdentityKind.EMAIL else 1].append(value)
            db.execute(
                f"SELECT ct.customer_id, g.name FROM {table['tagged']} ct"  # noqa: S608
                f" INNER JOIN {table['tag']} g ON ct.tag_id = g.id"
                f" WHERE ct.customer_id IN ({marks}) ORDER BY g.name_key",
                ids,
            )
            for customer_id, name in db.fetchall():
                tags[customer_id].append(name)
    items = [ListedCustomer(*contacts[row[0]], tags[row[0]], *row) for row in rows]
    next_cursor = None
    if more and items:
        last = items[-1]
        next_cursor = cursor_encode([getattr(last, f.name) for _sql, f, _desc in keys])
    return Page(items=items, next_cursor=next_cursor)


def customer_list(
    *,
    search: str = "",
    tag: str = "",
    has_orders: bool | None = None,
    last_order_after: date | None = None,
    last_order_before: date | None = None,
    country: str = "",
    sort: str = CustomerSort.NEWEST,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[ListedCustomer]:
    """Live customers, newest first or by lifetime value, one keyset page at a time.

    Filters as in `_list_query`. Three queries, written out (the list is the
    busiest read, and the ORM's compiling and model building cost several times
    the queries themselves): the page, its identities, its tags.
    """
    where, params, keys = _list_query(
        search=search,
        tag=tag,
        has_orders=has_orders,
        last_order_after=last_order_after,
        last_order_before=last_order_before,
        country=country,
        sort=sort,
    )
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise DomainError(
            field="limit",
            message=_("A page holds 1 to %(max)s customers.") % {"max": LIST_LIMIT_MAX},
        )
    return _listed_read(where, params, keys, cursor=cursor, limit=limit)


# The customers list as a file (procedo/core/exports.py): the columns a spreadsheet gets.
CUSTOMER_COLUMNS = (
    Column(gettext_lazy("ID"), lambda c: c.pk),
    Column(gettext_lazy("First name"), lambda c: c.first_name),
    Column(gettext_lazy("Last name"), lambda c: c.last_name),
    Column(gettext_lazy("Company"), lambda c: c.company),
    Column(gettext_lazy("Emails"), lambda c: c.emails),
    Column(gettext_lazy("Phones"), lambda c: c.phones),
    Column(gettext_lazy("Tags"), lambda c: c.tags),
    Column(gettext_lazy("Country"), lambda c: c.country),
    Column(gettext_lazy("Orders"), lambda c: c.orders_count),
    Column(gettext_lazy("Lifetime value"), lambda c: c.lifetime_value),
    Column(gettext_lazy("First order"), lambda c: c.first_order_at),
    Column(gettext_lazy("Last order"), lambda c: c.last_order_at),
    Column(gettext_lazy("Source"), lambda c: c.source),
    Column(gettext_lazy("External ref"), lambda c: c.external_ref),
    Column(gettext_lazy("Created"), lambda c: c.created_at),
)


def customer_export_rows(**filters: Any) -> Iterator[ListedCustomer]:
    """Every customer the list shows with these filters (`_list_query`), in its order.

    The filters are checked here, before the file starts (a bad one is a 422, not a
    broken stream). The rows are read EXPORT_BATCH per query with the list's own SQL,
    short queries one after another (why: `keyset_all`), so memory stays bounded
    however long the list.
    """
    where, params, keys = _list_query(**filters)

    def rows() -> Iterator[ListedCustomer]:
        cursor: str | None = None
        while True:
            page = _listed_read(where, params, keys, cursor=cursor, limit=EXPORT_BATCH)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    return rows()


def customer_ids_matching(*, query: str) -> QuerySet[CustomerSearchTerm, int]:
    """The ids of live customers the list's search finds for `query` (the same term ranges
    as the list's SQL), as a subquery for other apps' filters (orders of customers named
    "Олена Ков")."""
    prefix = normalise.search_prefix(query)
    if not prefix:
        return CustomerSearchTerm.objects.none().values_list("customer_id", flat=True)
    upper = normalise.prefix_upper_bound(prefix)
    ranges = Q(term__gte=prefix) if upper is None else Q(term__gte=prefix, term__lt=upper)
    terms = CustomerSearchTerm.objects.filter(ranges, customer__merged_into=None)
    return terms.values_list("customer_id", flat=True)


def identifiers_known(*, external_refs: list[str], identity_values: list[str]) -> set[str]:
    """Which of these external refs, emails and phones (normalised) a customer already has."""
    known = set(
        Customer.objects.filter(external_ref__in=external_refs).values_list(
            "external_ref", flat=True
        )
    )
    # Every kind named: the unique index leads with the kind, and without it the values
    # were looked up by a scan of every identity (32 ms a batch at 46,500: make bench, B1b).
    identities = Identity.objects.filter(kind__in=IdentityKind.values, value__in=identity_values)
    known |= set(identities.values_list("value", flat=True))
    return {value for value in known if value}


def customer_ids_by_external_ref(*, external_refs: list[str]) -> dict[str, int]:
    """external ref -> customer id, for the refs a customer has."""
    rows = Customer.objects.filter(external_ref__in=external_refs).values_list("external_ref", "id")
    return {ref: pk for ref, pk in rows if ref}


def customer_get(*, customer_id: int) -> Customer:
    """One customer with identities and tags; merged ones too (callers follow `merged_into`)."""
    customer = (
        Customer.objects.prefetch_related(_identities(), "tags").filter(pk=customer_id).first()
    )
    if customer is None:
        raise NotFound(
            field="customer_id", message=_("No customer with id %(id)s.") % {"id": customer_id}
        )
    return customer


def customer_find(*, email: str = "", phone: str = "", external_ref: str = "") -> Customer | None:
    """The live customer an external ref, email or phone (written any way) points at, if any.

    Tried in that order. A ref of a merged customer leads to its survivor.
    Malformed email or phone raises DomainError naming it.
    """
    customer: Customer | None = None
    if external_ref.strip():
        customer = Customer.objects.filter(external_ref=external_ref.strip()).first()
    lookups = (
        (IdentityKind.EMAIL, normalise.email_normalise(email) if email.strip() else ""),
        (IdentityKind.PHONE, normalise.phone_normalise(phone).e164 if phone.strip() else ""),
    )
    for kind, value in lookups:
        if customer is None and value:
            identity = (
                Identity.objects.select_related("customer").filter(kind=kind, value=value).first()
            )
            customer = identity.customer if identity else None
    if customer is not None and customer.merged_into_id is not None:
        # Merges flatten chains (services.customer_merge), so one step reaches the survivor.
        customer = Customer.objects.filter(pk=customer.merged_into_id).first()
    return customer


NOTES_ON_CARD = 50


@dataclass(frozen=True)
class CustomerCard:
    customer: Customer
    identities: list[Identity]
    addresses: list[Address]
    tags: list[Tag]
    notes: list[Note]
    more_notes: bool
    merged_from: list[Customer]

    @property
    def average_order_value(self) -> Decimal | None:
        if not self.customer.orders_count:
            return None
        return self.customer.lifetime_value / self.customer.orders_count


def customer_card(*, customer_id: int) -> CustomerCard:
    """What the customer card shows, in six small queries."""
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(
            field="customer_id", message=_("No customer with id %(id)s.") % {"id": customer_id}
        )
    notes = list(
        Note.objects.filter(customer=customer)
        .select_related("author")
        .order_by("-id")[: NOTES_ON_CARD + 1]
    )
    return CustomerCard(
        customer=customer,
        identities=list(Identity.objects.filter(customer=customer).order_by("kind", "id")),
        addresses=list(Address.objects.filter(customer=customer).order_by("kind", "-id")),
        tags=list(customer.tags.all()),
        notes=notes[:NOTES_ON_CARD],
        more_notes=len(notes) > NOTES_ON_CARD,
        merged_from=list(customer.merged_from.order_by("-merged_at")[:20]),
    )


def tags_all() -> list[Tag]:
    return list(Tag.objects.order_by("name_key"))


# ---------------------------------------------------------------- duplicates


@dataclass(frozen=True)
class DuplicatePair:
    older: Customer
    newer: Customer
    same_phone: bool
    same_name_and_address: bool

    @property
    def customers(self) -> tuple[Customer, Customer]:
        return self.older, self.newer


@dataclass(frozen=True)
class DuplicatePage:
    pairs: list[DuplicatePair]
    next_cursor: str | None


def _duplicate_pairs_sql(*, after: bool) -> str:
    tables = {
        "customer": Customer._meta.db_table,
        "identity": Identity._meta.db_table,
        "address": Address._meta.db_table,
        "dismissal": DuplicateDismissal._meta.db_table,
    }
    quoted = {key: connection.ops.quote_name(name) for key, name in tables.items()}
    cursor_condition = "AND (b_id < %s OR (b_id = %s AND a_id < %s))" if after else ""
    # Two set-based joins, never a loop over customers: phones that end in the
    # same nine digits, and the same casefolded full name with an address in
    # the same postcode or at the same city and street line. Joining customers
    # on name first keeps the address comparison to namesakes.
    return f"""
        SELECT a_id, b_id, MAX(by_phone), MAX(by_place) FROM (
            SELECT i1.customer_id AS a_id, i2.customer_id AS b_id, 1 AS by_phone, 0 AS by_place
            FROM {quoted["identity"]} i1
            JOIN {quoted["identity"]} i2
              ON i2.phone_tail = i1.phone_tail AND i2.customer_id > i1.customer_id
            WHERE i1.phone_tail <> '' AND i2.phone_tail <> ''
            UNION ALL
            SELECT c1.id, c2.id, 0, 1
            FROM {quoted["customer"]} c1
            JOIN {quoted["customer"]} c2 ON c2.name_key = c1.name_key AND c2.id > c1.id
            WHERE c1.name_key <> '' AND c2.name_key <> ''
              AND c1.merged_into_id IS NULL AND c2.merged_into_id IS NULL
              AND EXISTS (
                SELECT 1 FROM {quoted["address"]} a1
                JOIN {quoted["address"]} a2 ON a2.customer_id = c2.id
                WHERE a1.customer_id = c1.id
                  AND ((a1.postcode_key <> '' AND a1.postcode_key = a2.postcode_key)
                       OR (a1.place_key <> '' AND a1.place_key = a2.place_key))
              )
        ) pairs
        WHERE NOT EXISTS (
            SELECT 1 FROM {quoted["dismissal"]} d
            WHERE d.customer_a_id = pairs.a_id AND d.customer_b_id = pairs.b_id
        ) {cursor_condition}
        GROUP BY a_id, b_id
        ORDER BY b_id DESC, a_id DESC
        LIMIT %s
    """  # noqa: S608 - only table names are interpolated, and they come from the models


def _duplicate_cursor(cursor: str) -> tuple[int, int]:
    newer, _sep, older = cursor.partition("-")
    # Ids are 64-bit: a longer number would overflow the database's integer.
    if not (newer.isdigit() and older.isdigit()) or max(len(newer), len(older)) > 18:
        raise DomainError(field="cursor", message=_("This page cursor is not valid."))
    return int(newer), int(older)


def customer_duplicates(*, cursor: str | None = None, limit: int = 50) -> DuplicatePage:
    """Pairs of live customers that are probably one person, the newest record first."""
    params: list[int] = []
    if cursor:
        newer, older = _duplicate_cursor(cursor)
        params = [newer, newer, older]
    with connection.cursor() as db:
        db.execute(_duplicate_pairs_sql(after=bool(cursor)), [*params, limit + 1])
        rows = db.fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    ids = {pk for a_id, b_id, _p, _a in rows for pk in (a_id, b_id)}
    customers = Customer.objects.prefetch_related(_identities(), "addresses", "tags").in_bulk(ids)
    pairs = [
        DuplicatePair(
            older=customers[a_id],
            newer=customers[b_id],
            same_phone=bool(by_phone),
            same_name_and_address=bool(by_place),
        )
        for a_id, b_id, by_phone, by_place in rows
    ]
    next_cursor = f"{rows[-1][1]}-{rows[-1][0]}" if has_more and rows else None
    return DuplicatePage(pairs=pairs, next_cursor=next_cursor)
