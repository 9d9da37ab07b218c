"""Connections to shops, payment providers and carriers; the deliveries they send us."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import ExpressionWrapper
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from procedo.core.texts import stored_text_render


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    STRIPE = "stripe", "Stripe"
    EASYPOST = "easypost", "EasyPost"
    LIQPAY = "liqpay", "LiqPay"
    NOVA_POSHTA = "novaposhta", _("Nova Poshta")


class Connection(models.Model):
    platform = models.CharField(_("platform"), max_length=20, choices=Platform.choices)
    name = models.CharField(_("name"), max_length=100)
    # The shop's domain (Shopify, WooCommerce) or the account (Stripe, LiqPay's public key).
    account = models.CharField(_("shop or account"), max_length=200, blank=True, default="")
    # The unguessable part of the URL pasted into the platform: a connection's id in a URL
    # would let anyone fill its delivery log with rejected noise by counting.
    key = models.CharField(max_length=32, unique=True, editable=False)
    # Fernet token (procedo/integrations/secrets.py); the plain secret is never stored.
    secret_encrypted = models.TextField(editable=False)
    secret_hint = models.CharField(max_length=8, editable=False)
    # A key Procedo calls the platform's API with (Stripe's sk_…, a Shopify Admin API token),
    # to fetch what webhooks missed; Nova Poshta's API key is the secret itself.
    api_key_encrypted = models.TextField(blank=True, default="", editable=False)
    api_key_hint = models.CharField(max_length=8, blank=True, default="", editable=False)
    # Everything the platform changed up to here has been fetched (reconciliation's cursor).
    reconciled_until = models.DateTimeField(null=True, blank=True)
    reconcile_error = models.CharField(max_length=300, blank=True, default="")
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("connection")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class DeliveryState(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Failed")
    REJECTED = "rejected", _("Rejected")
    # Procedo's own signed sample ("send a test"): kept to show it arrived, never processed.
    TEST = "test", _("Test")


# The states the worker looks for: the delivery_due index's condition.
DUE_STATES = ["received", "failed"]


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def due(self, state: str) -> DeliveryQuerySet:
        """Those in `state` (received or failed), found by the delivery_due index.

        SQLite uses a partial index only when the query states its condition with the same
        literals (a bound parameter will not do), so the condition is written out here:
        `state = %s` alone scanned every delivery, reading past each stored body to its
        state, several times a pass (make bench, B1b on SQLite). PostgreSQL needs no help
        and takes no harm."""
        if state not in DUE_STATES:
            raise ValueError(f"not a state the worker looks for: {state!r}")
        listed = ", ".join(f"'{due}'" for due in DUE_STATES)  # the constants above, no input
        condition = RawSQL(f'"{self.model._meta.db_table}"."state" IN ({listed})', ())  # noqa: S611
        return self.filter(ExpressionWrapper(condition, output_field=models.BooleanField())).filter(
            state=state
        )


class Delivery(models.Model):
    """One request a platform sent, stored as it came before it is answered."""

    # Indexed by delivery_connection and delivery_event, which both start with it: a third
    # index of its own would only cost each stored delivery another write (make bench, B1).
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    topic = models.CharField(_("topic"), max_length=100, blank=True, default="")
    # The platform's id of the event (Shopify's webhook id, Stripe's evt_…); a
    # redelivery carries the same one and is processed once.
    event_id = models.CharField(_("event id"), max_length=200, blank=True, default="")
    headers = models.JSONField(default=dict)
    body = models.BinaryField()
    state = models.CharField(
        _("state"), max_length=10, choices=DeliveryState.choices, default=DeliveryState.RECEIVED
    )
    error = models.TextField(_("error"), blank=True, default="")
    error_field = models.CharField(max_length=100, blank=True, default="")  # what it names
    # `error` as its original and parameters, when known: read in each reader's language.
    error_text = models.JSONField(null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["connection", "id"], name="delivery_connection"),
            models.Index(fields=["connection", "event_id"], name="delivery_event"),
            # The worker's sweep: what is waiting or due again, oldest first.
            models.Index(
                fields=["state", "next_attempt_at", "id"],
                name="delivery_due",
                condition=models.Q(state__in=DUE_STATES),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connection_id}/{self.topic} {self.event_id}"

    @property
    def error_shown(self) -> str:
        """The error in the reader's language: from its stored original, or, for another
        app's refusal kept only as text, its catalog entry when it has no parameters."""
        if not self.error_text and "%" not in self.error:
            return gettext(self.error) if self.error else ""
        return stored_text_render(self.error_text, self.error)


class SpoolProgress(models.Model):
    """How much of one spool file (procedo/integrations/spool.py) is in the delivery table:
    written in the same transaction as the rows it moved, so a mover killed at any point
    leaves the file to be moved on from exactly there, none of it twice."""

    name = models.CharField(max_length=200, unique=True)  # the file's name, host and pid
    moved = models.BigIntegerField(default=0)  # bytes from the file's start

    def __str__(self) -> str:
        return f"{self.name}: {self.moved} bytes moved"


class ExternalVersion(models.Model):
    """The newest version of one platform object applied here (its `updated_at`).

    Deliveries come in any order: an older version that arrives after a newer one
    is skipped, so the end state is the same as if they had come in order.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    external_id = models.CharField(max_length=100)
    version = models.CharField(max_length=40)  # an ISO time in UTC: compares as text

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "kind", "external_id"], name="external_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.external_id} @ {self.version}"


class SkuReview(models.Model):
    """A SKU a platform named that the catalog did not know: made so the order could go in,
    listed on the connection's page for a person to check its name and price."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sku_reviews")
    sku = models.OneToOneField("catalog.Sku", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"review SKU {self.sku_id}"


class TrackingPoll(models.Model):
    """When Procedo next asks the carrier about one shipment, and what it last heard."""

    shipment = models.OneToOneField(
        "orders.Shipment", on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    next_poll_at = models.DateTimeField(db_index=True)
    status_code = models.CharField(max_length=10, blank=True, default="")
    # When the parcel reached the branch (the carrier's time); "waiting for 3 days" counts
    # from here, once per arrival.
    at_branch_since = models.DateTimeField(null=True, blank=True)
    waiting_told = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"poll {self.shipment_id} at {self.next_poll_at}"
