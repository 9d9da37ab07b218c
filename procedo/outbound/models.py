"""Outbound webhooks: who hears which events at which address, and each delivery to them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from procedo.core.texts import LaterText, stored_text_render
from procedo.events.models import Event
from procedo.outbound.catalog import event_label, subject_label, subject_url

URL_MAX = 2000
NAME_MAX = 100
ERROR_MAX = 500


class SubscriptionState(models.TextChoices):
    ACTIVE = "active", _("active")
    PAUSED = "paused", _("paused")


class Subscription(models.Model):
    name = models.CharField(_("name"), max_length=NAME_MAX)
    url = models.CharField(_("address"), max_length=URL_MAX)
    # Event type keys (procedo/outbound/catalog.py); the pages show their labels.
    event_types = models.JSONField(_("events"), default=list)
    # Kept as it is: every delivery is signed with it. Shown once, when made or rotated.
    secret = models.CharField(max_length=80)
    state = models.CharField(
        _("state"),
        max_length=10,
        choices=SubscriptionState.choices,
        default=SubscriptionState.ACTIVE,
    )
    paused_reason = models.CharField(_("why paused"), max_length=ERROR_MAX, blank=True, default="")
    # Procedo's own reason (a failed delivery, a pause by hand without words), kept as its
    # English original and read in each reader's language (procedo/core/texts.py).
    paused_reason_text = models.JSONField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The log's last event when the webhook was made: it hears only later ones, even when
    # the consumer reads older events after it was made (a new installation catching up).
    first_event_id = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("webhook")

    def __str__(self) -> str:
        return self.name

    @property
    def pause_reason(self) -> str:
        return stored_text_render(self.paused_reason_text, self.paused_reason)

    @property
    def secret_hint(self) -> str:
        return f"…{self.secret[-4:]}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("waiting to be sent")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")


class Delivery(models.Model):
    """One event for one subscription: made once (UNIQUE), sent until it is answered with 2xx.

    Every attempt, retry and redelivery of it carries the same `uid`, so a receiver
    that has seen it can drop it.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    # Copied from the event: the order per subject is kept by these, without a join.
    event_type = models.CharField(_("event"), max_length=80)
    subject_type = models.CharField(max_length=40, blank=True, default="")
    subject_id = models.BigIntegerField(null=True, blank=True)
    # Written when the delivery is made, so every attempt sends the same bytes.
    body = models.TextField()
    state = models.CharField(
        _("state"), max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # Retries go on until `period_started_at` + the retry period (24 h); a redelivery restarts it.
    period_started_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker sending it holds it until then; a worker that died lets it go at that time.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    response_code = models.PositiveIntegerField(_("response code"), null=True, blank=True)
    # Why the last attempt got no answer (refused, timed out); `problem` says it in words.
    error = models.CharField(_("error"), max_length=ERROR_MAX, blank=True, default="")
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook delivery")
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event"], name="outbound_delivery_once")
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="outbound_delivery_due"),
            models.Index(
                fields=["subscription", "subject_type", "subject_id", "state", "event"],
                name="outbound_delivery_subject",
            ),
            models.Index(fields=["subscription", "-id"], name="outbound_delivery_list"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.subscription_id}: {self.state}"

    def problem_text(self) -> LaterText | None:
        """What went wrong with the last attempt, to be read in any language."""
        if self.attempts == 0 or self.state == DeliveryState.DELIVERED:
            return None
        if self.response_code is not None:
            return LaterText(
                gettext_noop("The server answered %(code)s."), {"code": self.response_code}
            )
        return LaterText(gettext_noop("Not delivered: %(error)s"), {"error": self.error})

    @property
    def problem(self) -> str:
        """The same, in the reader's language ("" if nothing went wrong)."""
        text = self.problem_text()
        return text.render() if text else ""

    @property
    def event_label(self) -> str:
        return event_label(self.event_type)

    @property
    def subject_label(self) -> str:
        return subject_label(self.subject_type)

    @property
    def subject_url(self) -> str:
        return subject_url(self.subject_type, self.subject_id)
