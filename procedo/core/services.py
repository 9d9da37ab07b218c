from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from procedo.core.errors import DomainError
from procedo.core.models import Business, validate_time_zone
from procedo.events.services import event_record


@transaction.atomic
def business_update(*, name: str, time_zone: str, currency: str, actor_id: int | None) -> Business:
    try:
        validate_time_zone(time_zone)
    except ValidationError as exc:
        raise DomainError(field="time_zone", message=exc.messages[0]) from exc
    if len(currency) != 3 or not currency.isalpha():
        raise DomainError(field="currency", message="a currency is a three-letter ISO code")
    business, _ = Business.objects.update_or_create(
        pk=Business.SINGLETON_ID,
        defaults={"name": name, "time_zone": time_zone, "currency": currency.upper()},
    )
    event_record(
        event_type="business.updated",
        subject_type="business",
        subject_id=business.pk,
        actor_id=actor_id,
        payload={"name": name, "time_zone": time_zone, "currency": currency.upper()},
    )
    return business
