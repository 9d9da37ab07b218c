"""A period the numbers are about: whole days in the business's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from procedo.core.bounds import moment_check
from procedo.core.errors import DomainError

# Ten years and a bit: a KPI over a longer span says nothing a person can act on,
# and it bounds the work one request asks of the database.
MAX_PERIOD_DAYS = 3700


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


@dataclass(frozen=True)
class Period:
    """The days `first` to `last`, both included, in `zone`."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        """The first moment after the period (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=self.zone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def year_earlier(self) -> Period:
        """The same days a year before (29 February becomes the 28th)."""
        return Period(first=_year_before(self.first), last=_year_before(self.last), zone=self.zone)

    def shifted(self, days: int) -> Period:
        return Period(
            first=self.first + timedelta(days=days),
            last=self.last + timedelta(days=days),
            zone=self.zone,
        )

    def before(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        last = self.first - timedelta(days=1)
        return Period(first=last - timedelta(days=self.days - 1), last=last, zone=self.zone)


def period_clean(
    *, first: date, last: date, zone: ZoneInfo, max_days: int = MAX_PERIOD_DAYS
) -> Period:
    moment_check(first, field="first")
    moment_check(last, field="last")
    if last < first:
        raise DomainError(field="last", message=_("The period ends before it starts."))
    if (last - first).days + 1 > max_days:
        raise DomainError(
            field="last",
            code="too_large",
            message=_("A period is at most %(days)s days.") % {"days": max_days},
        )
    return Period(first=first, last=last, zone=zone)


def period_ending(*, today: date, days: int, zone: ZoneInfo) -> Period:
    """The last `days` days up to and including `today`."""
    return Period(first=today - timedelta(days=days - 1), last=today, zone=zone)
