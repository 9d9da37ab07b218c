from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings
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
    # What the store writes to its customers in: texts the worker and services compose for
    # them (a survey, a reminder, a template's variables) are written in it, whoever's click
    # or which worker caused them. People read the app in their own language.
    language = models.CharField(
        _("language of messages to customers"),
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
    )
    # Marketing mail waits (is deferred, never dropped) between these hours of the
    # business's clock; both empty: no quiet hours. Transactional mail ignores them.
    quiet_hours_start = models.TimeField(
        _("quiet hours from"), null=True, blank=True, default=datetime.time(21, 0)
    )
    quiet_hours_end = models.TimeField(
        _("quiet hours until"), null=True, blank=True, default=datetime.time(9, 0)
    )
    # At most this many marketing messages per customer in this many days; 0: no cap.
    marketing_cap_count = models.PositiveSmallIntegerField(
        _("marketing messages per customer"), default=2
    )
    marketing_cap_days = models.PositiveSmallIntegerField(_("in how many days"), default=1)
    # The working calendar (support's SLAs and response standards count its hours):
    # weekdays as digits, Monday 0 ("01234": Monday to Friday), the hours of a working
    # day on the business's clock, and the country whose public holidays are days off.
    country = models.CharField(_("country"), max_length=2, default="UA")
    work_days = models.CharField(_("working days"), max_length=7, default="01234")
    work_start = models.TimeField(_("working day starts"), default=datetime.time(9, 0))
    work_end = models.TimeField(_("working day ends"), default=datetime.time(18, 0))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The table keeps the name it had when the model lived in `core`.
        db_table = "core_business"
        verbose_name = _("business")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="business_is_singleton"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)
