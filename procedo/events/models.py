"""The event log: one table that is the audit trail, the timelines and the automation input."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WritingTransactionId(models.Expression):
    """The id of the transaction that inserts the row, used as the column's database default.

    PostgreSQL hands out sequence values at INSERT but makes rows visible at
    COMMIT, so ids alone do not tell commit order. Ordering consumers by the
    writing transaction's id, and reading only transactions older than every
    running one, does (docs/architecture.md, "Reading the log"). SQLite has one
    writer at a time, so id order already is commit order and the value is 0.
    """

    output_field = models.BigIntegerField()
    allowed_default = True

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        return "0", []

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        return "(pg_current_xact_id()::text::bigint)", []


class VisibleHorizon(models.Expression):
    """Transaction ids below this have all ended in this database: no row with a smaller
    txid can still appear.

    The statement's snapshot lists every transaction running on the server, in
    every database; its oldest (`pg_snapshot_xmin`) let another database's long
    transaction hold this log back (a test suite's 25 s UPDATE next door held it
    for 25 s). A transaction writes in one database only, so the running ones
    that `pg_stat_activity` places in another database are left out; any it
    cannot place (ended since, a prepared transaction, stats hidden from this
    role) still count, which errs on the side of waiting. `backend_xid` is the
    32-bit form of the snapshot's 64-bit ids.
    """

    output_field = models.BigIntegerField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        return "1", []

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        return (
            "(SELECT COALESCE("
            "(SELECT min(x::text::bigint) FROM pg_snapshot_xip(s) AS x"
            " WHERE mod(x::text::bigint, 4294967296) NOT IN ("
            "SELECT a.backend_xid::text::bigint FROM pg_stat_activity AS a"
            " WHERE a.backend_xid IS NOT NULL AND a.datname <> current_database())),"
            " pg_snapshot_xmax(s)::text::bigint)"
            " FROM pg_current_snapshot() AS s)"
        ), []


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    txid = models.BigIntegerField(db_default=WritingTransactionId(), editable=False)
    event_type = models.CharField(_("type"), max_length=80)
    subject_type = models.CharField(_("subject type"), max_length=40, blank=True, default="")
    subject_id = models.BigIntegerField(_("subject id"), null=True, blank=True)
    # The customer the event concerns, whatever its subject: the customer
    # timeline reads it, and a merge of duplicates moves it to the survivor.
    customer_id = models.BigIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(max_length=80, blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("event")
        indexes = [
            models.Index(fields=["txid", "id"], name="event_log_order"),
            models.Index(fields=["subject_type", "subject_id", "id"], name="event_subject"),
            models.Index(fields=["customer_id", "id"], name="event_customer"),
            models.Index(fields=["event_type", "id"], name="event_type"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.subject_type}:{self.subject_id}"


class ConsumerCursor(models.Model):
    """How far one consumer has read the log: (txid, event id) of the last event it handled."""

    name = models.CharField(max_length=80, unique=True)
    txid = models.BigIntegerField(default=0)
    event_id = models.BigIntegerField(default=0)
    events_handled = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ ({self.txid}, {self.event_id})"


class EventDailyCount(models.Model):
    """A rollup kept by the `events.daily_counts` consumer, so dashboards never COUNT(*) the log."""

    day = models.DateField()
    event_type = models.CharField(max_length=80)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "event_type"], name="event_daily_count_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.event_type}: {self.count}"


class FailureState(models.TextChoices):
    RETRYING = "retrying", _("retrying")
    PARKED = "parked", _("parked")
    # Strict order per subject only: an event behind an earlier failing one of its subject.
    WAITING = "waiting", _("waiting")
    RESOLVED = "resolved", _("resolved")
    DISMISSED = "dismissed", _("dismissed")


OPEN_FAILURE_STATES = (FailureState.RETRYING, FailureState.PARKED, FailureState.WAITING)
FAILURE_REASON_MAX = 500


class ConsumerFailure(models.Model):
    """An event a consumer's handler failed on, or (strict order) one that waits behind it.

    The consumer's cursor has moved past the event; this row is what keeps it
    from being skipped: it is retried with backoff, then parked for a person
    (docs/architecture.md, "When a handler fails").
    """

    consumer = models.CharField(_("consumer"), max_length=80)
    event = models.ForeignKey(
        Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="+"
    )
    state = models.CharField(
        _("state"), max_length=12, choices=FailureState.choices, default=FailureState.RETRYING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # "ExceptionType: message", bounded; the traceback's tail for whoever fixes the handler.
    error = models.TextField(_("error"), blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    first_failed_at = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(_("reason"), max_length=FAILURE_REASON_MAX, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("event failure")
        constraints = [
            models.UniqueConstraint(fields=["consumer", "event"], name="consumer_failure_unique")
        ]
        indexes = [
            # The drain's "which retries are due" and the strict order's blocked subjects.
            models.Index(
                fields=["consumer", "state", "next_attempt_at"], name="consumer_failure_due"
            ),
            # The page and the navigation badge: open rows by state, newest first.
            models.Index(fields=["state", "id"], name="consumer_failure_state"),
        ]

    def __str__(self) -> str:
        return f"{self.consumer} × event {self.event_id}: {self.state}"
