"""Keyset paging for every long list: pages stay fast at row 900,000, where OFFSET does not."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.db.models import Model, Q, QuerySet

from procedo.core.errors import DomainError

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
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


def _decode(cursor: str) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise DomainError(field="cursor", message="this page cursor is not valid") from exc
    if not isinstance(raw, list):
        raise DomainError(field="cursor", message="this page cursor is not valid")
    return [
        datetime.fromisoformat(v["d"])
        if isinstance(v, dict) and "d" in v
        else Decimal(v["n"])
        if isinstance(v, dict) and "n" in v
        else v
        for v in raw
    ]


def keyset_page(
    queryset: QuerySet[M], *, order: Sequence[str], cursor: str | None, limit: int
) -> Page[M]:
    """One page of `queryset` in `order` (e.g. ["-lifetime_value", "-id"]; the last key unique).

    `cursor` is the opaque token of the previous page's last row. Ordering keys
    must be NOT NULL: a NULL never compares greater or smaller.
    """
    fields = [key.lstrip("-") for key in order]
    if cursor:
        values = _decode(cursor)
        if len(values) != len(fields):
            raise DomainError(field="cursor", message="this page cursor is not valid")
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
