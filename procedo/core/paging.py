"""Keyset paging for every long list: pages stay fast at row 900,000, where OFFSET does not."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Field, Model, Q, QuerySet
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError

M = TypeVar("M", bound=Model)
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _encode(values: Sequence[Any]) -> str:
    plain = [
        {"d": v.isoformat()}
        if isinstance(v, datetime)
        else {"n": str(v)}
        if isinstance(v, Decimal)
        else v
        for v in values
    ]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _refused() -> DomainError:
    return DomainError(field="cursor", message=_("This page cursor is not valid; start again."))


def _value(raw: Any, field: Field[Any, Any]) -> Any:
    """One key of a cursor, checked against its column: a crafted cursor is a 422, never a 500."""
    kind = field.get_internal_type()
    try:
        if kind in ("DateTimeField", "DateField"):
            if not isinstance(raw, dict) or not isinstance(raw.get("d"), str):
                raise ValueError
            return datetime.fromisoformat(raw["d"][:40])
        if kind == "DecimalField":
            if not isinstance(raw, dict) or not isinstance(raw.get("n"), str):
                raise ValueError
            number = Decimal(raw["n"][:40])
            if not number.is_finite() or abs(number) >= 10**20:
                raise ValueError
            return number
        if "IntegerField" in kind or kind in ("AutoField", "BigAutoField", "ForeignKey"):
            if type(raw) is not int or not -(2**63) <= raw < 2**63:
                raise ValueError
            return raw
        if kind == "BooleanField":
            if type(raw) is not bool:
                raise ValueError
            return raw
        if not isinstance(raw, str) or len(raw) > 400:
            raise ValueError
        return raw
    except (ValueError, ArithmeticError):
        raise _refused() from None


def _decode(cursor: str, fields: Sequence[Field[Any, Any]]) -> list[Any]:
    if len(cursor) > 1000:
        raise _refused()
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise _refused() from exc
    if not isinstance(raw, list) or len(raw) != len(fields):
        raise _refused()
    return [_value(value, field) for value, field in zip(raw, fields, strict=True)]


def cursor_encode(values: Sequence[Any]) -> str:
    """The cursor of a row whose ordering keys are `values` (for pages read in raw SQL)."""
    return _encode(values)


def keyset_sql(
    columns: Sequence[tuple[str, Field[Any, Any], bool]], cursor: str
) -> tuple[str, list[Any]]:
    """The WHERE condition of the rows after `cursor`, for a page read in raw SQL.

    `columns` are (SQL column, model field, descending) in the page's order, the
    last one unique; the values are checked against the fields as in
    `keyset_page`, and come back ready to bind.
    """
    values = _decode(cursor, [field for _sql, field, _desc in columns])
    bound = [
        field.get_db_prep_value(value, connection)
        for (_sql, field, _desc), value in zip(columns, values, strict=True)
    ]
    # (a, b) after (x, y) == a>x OR (a=x AND b>y); the redundant bound on the first
    # key lets the index scan start at the cursor, as in keyset_page.
    first_sql, _field, first_desc = columns[0]
    parts, params = [], []
    for i, (sql, _field, descending) in enumerate(columns):
        equal = [f"{columns[j][0]} = %s" for j in range(i)]
        parts.append("(" + " AND ".join([*equal, f"{sql} {'<' if descending else '>'} %s"]) + ")")
        params.extend(bound[: i + 1])
    condition = f"{first_sql} {'<=' if first_desc else '>='} %s AND ({' OR '.join(parts)})"
    return condition, [bound[0], *params]


def _field_of(queryset: QuerySet[Any], name: str) -> Field[Any, Any]:
    annotation = queryset.query.annotations.get(name)
    field = (
        annotation.output_field if annotation is not None else queryset.model._meta.get_field(name)
    )
    assert isinstance(field, Field)
    return field


def keyset_page(
    queryset: QuerySet[M], *, order: Sequence[str], cursor: str | None, limit: int
) -> Page[M]:
    """One page of `queryset` in `order` (e.g. ["-lifetime_value", "-id"]; the last key unique).

    `cursor` is the opaque token of the previous page's last row. Ordering keys
    must be NOT NULL: a NULL never compares greater or smaller.
    """
    fields = [key.lstrip("-") for key in order]
    if cursor:
        values = _decode(cursor, [_field_of(queryset, name) for name in fields])
        # (a, b, c) after (x, y, z) == a>x OR (a=x AND b>y) OR (a=x AND b=y AND c>z)
        condition = Q()
        for i, key in enumerate(order):
            step = Q(**{f"{fields[j]}": values[j] for j in range(i)})
            op = "lt" if key.startswith("-") else "gt"
            step &= Q(**{f"{fields[i]}__{op}": values[i]})
            condition |= step
        # The redundant bound on the first key lets PostgreSQL start its index
        # scan at the cursor instead of filtering every row before it.
        first_op = "lte" if order[0].startswith("-") else "gte"
        queryset = queryset.filter(**{f"{fields[0]}__{first_op}": values[0]}).filter(condition)
    rows = list(queryset.order_by(*order)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode([getattr(rows[-1], f) for f in fields]) if has_more and rows else None
    return Page(items=rows, next_cursor=next_cursor)


EXPORT_BATCH = 2000


def keyset_all(
    queryset: QuerySet[M],
    *,
    order: Sequence[str],
    batch: int = EXPORT_BATCH,
    each_batch: Callable[[list[M]], object] | None = None,
) -> Iterator[M]:
    """Every row of `queryset` in `order`, read `batch` rows per query (for exports).

    Short queries one after another, not one cursor held open: on PostgreSQL a
    transaction open for the whole of a long export would hold back every reader of
    the event log (they read only transactions older than the oldest running one).
    Each batch runs the queryset's prefetches for its own rows, then `each_batch`
    (what a list attaches to a page of rows at once, e.g. its subjects' names).
    """
    cursor: str | None = None
    while True:
        page = keyset_page(queryset, order=order, cursor=cursor, limit=batch)
        if each_batch is not None:
            each_batch(page.items)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
