"""The bounds of every value a client sends, stated once and shown in the API document.

A value that the database could store but not read back (a 20-digit decimal in a
14-digit column, a year 9999, an id beyond 64 bits) breaks every page that lists
it, for everyone. So each input is bounded before it reaches a service: the API
by these types (a 422 naming the field), the services again where a form or an
import could bring the same value.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from django.utils.translation import gettext as _
from ninja import Field, Path
from pydantic import AfterValidator

from procedo.core.errors import DomainError

MAX_ID = 2**63 - 1  # a 64-bit signed integer: the primary keys of both databases
# Money: columns are DECIMAL(14, 2); an order's total stays below 10¹⁰ so that the
# sum of a customer's orders (lifetime value, the same column) can never overflow.
MAX_AMOUNT = Decimal("999999999.99")
MAX_ORDER_TOTAL = Decimal("9999999999.99")
MAX_QUANTITY = 1_000_000
MAX_STOCK = 1_000_000_000
EARLIEST_YEAR, LATEST_YEAR = 1970, 2100
SHORT_TEXT = 200
LONG_TEXT = 10_000
MAX_ITEMS = 500  # lines of an order, ids in one request


def _plausible_moment(value: datetime | date) -> datetime | date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(
            _("Give a date between %(first)s and %(last)s.")
            % {"first": EARLIEST_YEAR, "last": LATEST_YEAR}
        )
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
StockCount = Annotated[int, Field(ge=0, le=MAX_STOCK)]
StockDelta = Annotated[int, Field(ge=-MAX_STOCK, le=MAX_STOCK)]
Amount = Annotated[
    Decimal,
    Field(
        ge=0,
        le=MAX_AMOUNT,
        max_digits=13,
        decimal_places=4,
        description='A decimal string such as "12.50"; at most 999 999 999.99.',
    ),
]
_YEARS = f"between {EARLIEST_YEAR} and {LATEST_YEAR}"
Moment = Annotated[
    datetime,
    AfterValidator(_plausible_moment),
    Field(description=f"ISO 8601 with its offset (UTC if none), {_YEARS}."),
]
Day = Annotated[date, AfterValidator(_plausible_moment), Field(description=f"A day {_YEARS}.")]
Cursor = Annotated[str, Field(max_length=200, description="`next_cursor` of the page before.")]
# Every list in the API pages the same way: `cursor` in, `next_cursor` out, and
# `limit` rows a page, 50 unless asked, at most PAGE_LIMIT_MAX (a 422 naming `limit`).
PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 200
PageLimit = Annotated[
    int,
    Field(ge=1, le=PAGE_LIMIT_MAX, description=f"Rows a page, 1 to {PAGE_LIMIT_MAX}."),
]
# A KPI's target: the column is DECIMAL(12, 2).
KpiTarget = Annotated[
    Decimal, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, max_digits=12, decimal_places=2)
]
EmailText = Annotated[str, Field(max_length=254)]
PhoneText = Annotated[str, Field(max_length=40)]
StatusCode = Annotated[str, Path(max_length=40)]
StepKey = Annotated[str, Field(max_length=40)]
ShortText = Annotated[str, Field(max_length=SHORT_TEXT)]
LongText = Annotated[str, Field(max_length=LONG_TEXT)]


def moment_check(value: datetime | date | None, *, field: str) -> None:
    """The same range as `Moment`, for values that reach a service from a form or an import."""
    if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise DomainError(
            field=field,
            message=_("Give a date between %(first)s and %(last)s.")
            % {"first": EARLIEST_YEAR, "last": LATEST_YEAR},
        )


def number_check(
    value: int | Decimal | None, *, field: str, low: int | Decimal, high: int | Decimal
) -> None:
    if value is not None and not low <= value <= high:
        raise DomainError(
            field=field,
            code="too_large",
            message=_("Give a number from %(low)s to %(high)s.") % {"low": low, "high": high},
        )
