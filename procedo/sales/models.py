"""Leads, the deals they become, the pipelines deals move on, and what acquiring them cost.

A lead is someone who asked (a web form, the API, an import, a person typing it in);
qualifying it makes a deal for a customer. A deal stands in one stage of its pipeline;
a stage's `kind` says whether a deal in it is still open, won or lost, so stages are
data a manager edits. Every stay in a stage is a `StageVisit` row: the stage history
and the sales-cycle time per stage in one table.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
UTM_MAX = 200
SOURCE_MAX = 60


def form_key_new() -> str:
    return secrets.token_urlsafe(24)


class LeadForm(models.Model):
    """A web form on a shop's site: its key in the address is what lets it post leads."""

    name = models.CharField(_("name"), max_length=100)
    key = models.CharField(max_length=64, unique=True, default=form_key_new)
    source = models.CharField(_("source"), max_length=SOURCE_MAX, default="website")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("lead form")

    def __str__(self) -> str:
        return self.name


class SubmissionState(models.TextChoices):
    RECEIVED = "received", _("Received")
    ACCEPTED = "accepted", _("Became a lead")
    REFUSED = "refused", _("Refused")


class LeadSubmission(models.Model):
    """A web form's post exactly as it came, stored before it is answered: nothing is lost,
    a refused one stays here with its reason for a person to see."""

    form = models.ForeignKey(LeadForm, on_delete=models.PROTECT, related_name="submissions")
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=SubmissionState.choices)
    error = models.CharField(max_length=300, blank=True, default="")
    lead = models.ForeignKey("Lead", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        indexes = [models.Index(fields=["state", "received_at"], name="sales_submission_state")]

    def __str__(self) -> str:
        return f"{self.form} #{self.pk}"


class LeadStatus(models.TextChoices):
    NEW = "new", _("New lead")
    CONTACTED = "contacted", _("Contacted")
    QUALIFIED = "qualified", _("Qualified")
    DISQUALIFIED = "disqualified", _("Disqualified")


class LeadOrigin(models.TextChoices):
    FORM = "form", _("Web form")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    MANUAL = "manual", _("By hand")


class Lead(models.Model):
    name = models.CharField(_("name"), max_length=200)
    email = models.CharField(_("email"), max_length=254, blank=True, default="")
    phone = models.CharField(_("phone"), max_length=40, blank=True, default="")
    company = models.CharField(_("company"), max_length=200, blank=True, default="")
    message = models.TextField(_("message"), blank=True, default="")
    origin = models.CharField(_("came by"), max_length=10, choices=LeadOrigin.choices)
    source = models.CharField(_("source"), max_length=SOURCE_MAX)
    utm_source = models.CharField(max_length=UTM_MAX, blank=True, default="")
    utm_medium = models.CharField(max_length=UTM_MAX, blank=True, default="")
    utm_campaign = models.CharField(max_length=UTM_MAX, blank=True, default="")
    utm_term = models.CharField(max_length=UTM_MAX, blank=True, default="")
    utm_content = models.CharField(max_length=UTM_MAX, blank=True, default="")
    consent = models.BooleanField(_("agreed to be contacted"), default=False)
    status = models.CharField(
        _("status"), max_length=12, choices=LeadStatus.choices, default=LeadStatus.NEW
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("arrived"), default=timezone.now)
    # The first call, email or message logged on it: the lead response time ends here.
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    qualified_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("lead")
        indexes = [
            models.Index(fields=["status", "-created_at"], name="sales_lead_status"),
            models.Index(fields=["source", "created_at"], name="sales_lead_source"),
        ]

    def __str__(self) -> str:
        return self.name


class ContactKind(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    MESSAGE = "message", _("Message")


class LeadContact(models.Model):
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(_("kind"), max_length=10, choices=ContactKind.choices)
    note = models.TextField(_("note"), blank=True, default="")
    contacted_at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.contacted_at:%Y-%m-%d}"


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("pipeline")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class StageKind(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Closed won")
    LOST = "lost", _("Closed lost")


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("kind"), max_length=4, choices=StageKind.choices, default=StageKind.OPEN
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("stage")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="sales_stage_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class LostReason(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    is_active = models.BooleanField(_("in use"), default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("lost reason")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Deal(models.Model):
    title = models.CharField(_("title"), max_length=200)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="deals"
    )
    lead = models.OneToOneField(
        Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="deal"
    )
    value = models.DecimalField(_("deal value"), max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3)
    expected_close_on = models.DateField(_("expected close"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    lost_reason = models.ForeignKey(
        LostReason, null=True, blank=True, on_delete=models.PROTECT, related_name="deals"
    )
    lost_note = models.CharField(_("note"), max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    stage_entered_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("deal")
        indexes = [
            models.Index(fields=["pipeline", "stage"], name="sales_deal_board"),
            models.Index(fields=["closed_at"], name="sales_deal_closed"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=0), name="sales_deal_value_not_negative"),
        ]

    def __str__(self) -> str:
        return self.title


class StageVisit(models.Model):
    """One stay of a deal in a stage; `seconds` is written when it leaves."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="visits")
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="visits")
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    seconds = models.BigIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["stage", "left_at"], name="sales_visit_stage")]
        constraints = [
            models.UniqueConstraint(
                fields=["deal"], condition=Q(left_at__isnull=True), name="sales_visit_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.deal_id} in {self.stage_id}"


class Meeting(models.Model):
    """A demo or a needs meeting on a deal: its task (procedo/work) carries the time."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="meetings")
    title = models.CharField(_("title"), max_length=200)
    starts_at = models.DateTimeField(_("starts"))
    task_id = models.BigIntegerField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["starts_at"],
                name="sales_meeting_to_remind",
                condition=Q(reminded_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.title


class ChannelSpend(models.Model):
    """What a source cost in one month, in the business's currency."""

    source = models.CharField(_("source"), max_length=SOURCE_MAX)
    month = models.DateField(_("month"))  # its first day
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("channel spend")
        ordering = ["-month", "source"]
        constraints = [
            models.UniqueConstraint(fields=["source", "month"], name="sales_spend_per_month"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="sales_spend_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.month:%Y-%m}"
