from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone"), params={"value": value})


class Business(models.Model):
    """The one business this installation serves (one installation, one business)."""

    SINGLETON_ID = 1

    name = models.CharField(_("name"), max_length=200, default="My store")
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Kyiv", validators=[validate_time_zone]
    )
    currency = models.CharField(_("currency"), max_length=3, default="UAH")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("business")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="business_is_singleton"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)
