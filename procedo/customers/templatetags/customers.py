from __future__ import annotations

import phonenumbers
from django import template

register = template.Library()


@register.filter(name="phone")
def phone_filter(e164: str) -> str:
    """{{ "+380671234567"|phone }} -> "+380 67 123 4567": stored E.164, shown readable."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@register.filter(name="consent_class")
def consent_class(state: str) -> str:
    """The tag colour of a consent state."""
    return {"granted": "ok", "denied": "bad"}.get(state, "warn")
