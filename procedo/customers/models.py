from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Customer(models.Model):
    """A person or company that buys (or may buy). Order aggregates are kept by the order services."""

    first_name = models.CharField(_("first name"), max_length=150, blank=True, default="")
    last_name = models.CharField(_("last name"), max_length=150, blank=True, default="")
    company = models.CharField(_("company"), max_length=200, blank=True, default="")
    country = models.CharField(_("country"), max_length=2, blank=True, default="")
    source = models.CharField(_("source"), max_length=60, blank=True, default="")
    external_ref = models.CharField(max_length=100, null=True, blank=True, unique=True)
    # Casefolded name, emails and phone digits: SQLite's LIKE folds only ASCII,
    # so Cyrillic search runs on this column with a case-sensitive prefix match.
    search_text = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    orders_count = models.PositiveIntegerField(_("orders"), default=0)
    lifetime_value = models.DecimalField(
        _("lifetime value"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )

    class Meta:
        verbose_name = _("customer")

    def __str__(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or self.company or f"#{self.pk}"
