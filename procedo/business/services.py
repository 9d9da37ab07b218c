from __future__ import annotations

from datetime import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from procedo.business.models import Business, validate_time_zone
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.core.money import currency_clean
from procedo.events.services.recording import event_record

_UNCHANGED: Any = object()


def _marketing_limits(
    current: Business,
    quiet_hours_start: time | None,
    quiet_hours_end: time | None,
    marketing_cap_count: int,
    marketing_cap_days: int,
) -> dict[str, Any]:
    """Quiet hours and the frequency cap of marketing mail; each refusal names its field."""
    values = {
        "quiet_hours_start": quiet_hours_start,
        "quiet_hours_end": quiet_hours_end,
        "marketing_cap_count": marketing_cap_count,
        "marketing_cap_days": marketing_cap_days,
    }
    values = {k: getattr(current, k) if v is _UNCHANGED else v for k, v in values.items()}
    start, end = values["quiet_hours_start"], values["quiet_hours_end"]
    if (start is None) != (end is None):
        missing = "quiet_hours_end" if end is None else "quiet_hours_start"
        raise DomainError(
            field=missing,
            message=_("Give quiet hours both a start and an end, or leave both empty."),
        )
    if start is not None and start == end:
        raise DomainError(
            field="quiet_hours_end",
            message=_("Quiet hours must end at another time than they start."),
        )
    count, days = values["marketing_cap_count"], values["marketing_cap_days"]
    if not isinstance(count, int) or not 0 <= count <= 100:
        raise DomainError(
            field="marketing_cap_count",
            message=_("Between 0 (no limit) and 100 marketing messages per customer."),
        )
    if not isinstance(days, int) or not 1 <= days <= 365:
        raise DomainError(field="marketing_cap_days", message=_("Between 1 and 365 days."))
    return values


@transaction.atomic
def business_update(
    *,
    name: str,
    time_zone: str,
    currency: str,
    actor_id: int | None,
    quiet_hours_start: time | None = _UNCHANGED,
    quiet_hours_end: time | None = _UNCHANGED,
    marketing_cap_count: int = _UNCHANGED,
    marketing_cap_days: int = _UNCHANGED,
    language: str = _UNCHANGED,
) -> Business:
    """Change the business settings; the marketing limits and the customers' language keep
    their values when not given."""
    current = business_get()
    limits = _marketing_limits(
        current, quiet_hours_start, quiet_hours_end, marketing_cap_count, marketing_cap_days
    )
    if language is _UNCHANGED:
        language = current.language
    if language not in {code for code, _name in settings.LANGUAGES}:
        raise DomainError(field="language", message=_("No language %(code)s.") % {"code": language})
    try:
        validate_time_zone(time_zone)
    except ValidationError as exc:
        raise DomainError(field="time_zone", message=exc.messages[0]) from exc
    currency = currency_clean(currency)
    business, _created = Business.objects.update_or_create(
        pk=Business.SINGLETON_ID,
        defaults={
            "name": name,
            "time_zone": time_zone,
            "currency": currency.upper(),
            "language": language,
            **limits,
        },
    )
    event_record(
        event_type="business.updated",
        subject_type="business",
        subject_id=business.pk,
        actor_id=actor_id,
        payload={
            "name": name,
            "time_zone": time_zone,
            "currency": currency.upper(),
            "language": language,
            **{k: v.isoformat() if isinstance(v, time) else v for k, v in limits.items()},
        },
    )
    return business


@transaction.atomic
def business_calendar_set(
    *, country: str, work_days: str, work_start: time, work_end: time, actor_id: int | None
) -> Business:
    """The working calendar SLAs count in: weekdays ("01234"), hours, the holidays' country."""
    country = country.strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise DomainError(
            field="country", message=_("Give the country as a two-letter code, e.g. UA.")
        )
    days = "".join(sorted({d for d in work_days if d in "0123456"}))
    if not days or len(days) != len(set(work_days)):
        raise DomainError(field="work_days", message=_("Choose at least one working day."))
    if work_end <= work_start:
        raise DomainError(field="work_end", message=_("The working day must end after it starts."))
    business = business_get()
    business.country, business.work_days = country, days
    business.work_start, business.work_end = work_start, work_end
    business.save()
    event_record(
        event_type="business.updated",
        subject_type="business",
        subject_id=business.pk,
        actor_id=actor_id,
        payload={
            "country": country,
            "work_days": days,
            "work_start": work_start.isoformat(),
            "work_end": work_end.isoformat(),
        },
    )
    return business
