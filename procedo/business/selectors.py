from __future__ import annotations

from procedo.business.models import Business


def business_get() -> Business:
    """The business settings; defaults until the owner saves their own."""
    business = Business.objects.filter(pk=Business.SINGLETON_ID).first()
    return business or Business(pk=Business.SINGLETON_ID)


def business_language() -> str:
    """The language the store writes to its customers in (`translation.override` it)."""
    return business_get().language
