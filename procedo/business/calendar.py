"""The business's working time: which minutes count for an SLA or a response standard.

Pure arithmetic over the business's calendar (working weekdays, the hours of a
working day on its own clock, its country's public holidays from `holidays`).
A due time is "start plus N working minutes"; an elapsed time is the working
minutes between two moments. Both walk day by day, at most MAX_DAYS ahead.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

from procedo.business.models import Business

# A target further than this is refused before it gets here (support's SLA bounds);
# the walk stops here whatever the calendar, so a calendar without a working day
# cannot loop for ever.
MAX_DAYS = 3 * 366


@lru_cache(maxsize=64)
def _holidays_of(country: str, year: int) -> frozenset[date]:
    try:
        return frozenset(holidays.country_holidays(country, years=year).keys())
    except NotImplementedError:  # a country the library does not know: no public holidays
        return frozenset()


@dataclass(frozen=True)
class WorkCalendar:
    zone: zoneinfo.ZoneInfo
    work_days: frozenset[int]
    start: time
    end: time
    country: str

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.work_days and day not in _holidays_of(self.country, day.year)

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working hours of `day` as aware moments, or None for a day off."""
        if not self.is_working_day(day) or self.end <= self.start:
            return None
        return (
            datetime.combine(day, self.start, tzinfo=self.zone),
            datetime.combine(day, self.end, tzinfo=self.zone),
        )

    def add_minutes(self, moment: datetime, minutes: int) -> datetime:
        """The moment `minutes` working minutes after `moment` (itself if 0 in working hours)."""
        left = timedelta(minutes=max(minutes, 0))
        local = moment.astimezone(self.zone)
        day = local.date()
        for _step in range(MAX_DAYS):
            window = self._window(day)
            if window is not None:
                begin = max(window[0], local)
                if begin < window[1]:
                    if begin + left <= window[1]:
                        return begin + left
                    left -= window[1] - begin
            day += timedelta(days=1)
        return local + left  # no working day within MAX_DAYS: plain time, never a hang

    def minutes_between(self, since: datetime, until: datetime) -> int:
        """Working minutes from `since` to `until` (0 when `until` is not later)."""
        if until <= since:
            return 0
        since, until = since.astimezone(self.zone), until.astimezone(self.zone)
        total = timedelta()
        day = since.date()
        for _step in range(MAX_DAYS):
            if day > until.date():
                break
            window = self._window(day)
            if window is not None:
                begin, end = max(window[0], since), min(window[1], until)
                if end > begin:
                    total += end - begin
            day += timedelta(days=1)
        return int(total.total_seconds() // 60)


def work_calendar(business: Business) -> WorkCalendar:
    return WorkCalendar(
        zone=business.zone,
        work_days=frozenset(int(d) for d in business.work_days if d.isdigit() and int(d) < 7),
        start=business.work_start,
        end=business.work_end,
        country=business.country,
    )
