"""What each marketing channel cost a month: typed in or imported from a file."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.business.selectors import business_get
from procedo.core.bounds import moment_check
from procedo.core.errors import DomainError
from procedo.core.money import amount_clean
from procedo.sales.models import ChannelSpend
from procedo.sales.services._common import _csv_rows, _line_error, _record, source_clean

SPEND_FILE_MAX = 1024 * 1024


SPEND_ROWS_MAX = 5000


def _month(value: date | str, *, field: str = "month") -> date:
    if isinstance(value, str):
        try:
            year, month = (int(part) for part in value.strip()[:7].split("-"))
            value = date(year, month, 1)
        except ValueError:
            raise DomainError(field=field, message=_("A month is written 2026-11.")) from None
    moment_check(value, field=field)
    return value.replace(day=1)


@transaction.atomic
def spend_set(*, source: str, month: date | str, amount: Any, actor: Actor) -> ChannelSpend:
    """What a source cost in a month (entered again: replaced)."""
    currency = business_get().currency
    clean_source = source_clean(source)
    first_day = _month(month)
    clean_amount = amount_clean(amount, currency, field="amount")
    spend, _created = ChannelSpend.objects.update_or_create(
        source=clean_source,
        month=first_day,
        defaults={"amount": clean_amount, "currency": currency, "updated_at": timezone.now()},
    )
    _record(
        "spend.set",
        spend,
        actor=actor,
        payload={
            "source": clean_source,
            "month": first_day.isoformat(),
            "amount": str(clean_amount),
            "currency": currency,
        },
    )
    return spend


def spend_import(*, content: bytes, actor: Actor) -> int:
    """A CSV of `source,month,amount` rows (a header first): every row or none.

    A bad row is refused naming its line and column, so the file is fixed and
    sent again; a row for a month already entered replaces it.
    """
    rows = _csv_rows(
        content,
        limit_bytes=SPEND_FILE_MAX,
        limit_rows=SPEND_ROWS_MAX,
        needs={"source", "month", "amount"},
    )
    with transaction.atomic():
        for line, row in enumerate(rows, start=2):
            try:
                spend_set(
                    source=row["source"] or "",
                    month=row["month"] or "",
                    amount=(row["amount"] or "").strip(),
                    actor=actor,
                )
            except DomainError as exc:
                raise _line_error(line, exc) from None
    return len(rows)
