"""Goals: the strategy above the SOPs. A goal is an aim with a KPI, a target and a deadline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class GoalState(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("goal", "Active")
    ACHIEVED = "achieved", pgettext_lazy("goal", "Achieved")
    DROPPED = "dropped", pgettext_lazy("goal", "Dropped")


class Goal(models.Model):
    name = models.CharField(_("aim"), max_length=200)
    # A code of the KPI catalog (procedo/analytics/kpis.py), checked by the services.
    kpi = models.CharField(_("KPI"), max_length=40)
    kpi_window_days = models.PositiveIntegerField(_("KPI window (days)"), null=True, blank=True)
    target = models.DecimalField(_("target"), max_digits=14, decimal_places=2)
    deadline = models.DateField(_("deadline"))
    state = models.CharField(
        _("state"), max_length=10, choices=GoalState.choices, default=GoalState.ACTIVE
    )
    # Why a fourth active goal: focus is the point of goals, so more than three asks why.
    focus_reason = models.CharField(_("why another goal"), max_length=300, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="goals_owned",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("last change"), default=timezone.now)

    class Meta:
        verbose_name = _("goal")
        ordering = ["deadline", "id"]

    def __str__(self) -> str:
        return self.name
