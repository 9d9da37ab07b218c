"""Runs of SOPs and their steps: the engine's whole state, so a lost queue task loses nothing.

"Never twice" is held by constraints, not by care: one run per (SOP, subject,
trigger occurrence) and one step row per (run, step, iteration). A worker
holds a run by a lease (`claimed_by` until `claimed_until`) and proves it
still holds it in every transaction that moves the run.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from procedo.core.texts import stored_text_render


class RunState(models.TextChoices):
    RUNNING = "running", _("Running")
    WAITING = "waiting", _("Waiting")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    FAILED = "failed", _("Failed")
    HELD_OUT = "held_out", _("Held out")


ACTIVE_RUN_STATES = (RunState.RUNNING, RunState.WAITING)
ACTIVE_RUN = Q(state__in=ACTIVE_RUN_STATES)


class TriggerKind(models.TextChoices):
    EVENT = "event", _("Event")
    DATE = "date", _("Date")
    SCHEDULE = "schedule", _("Schedule")
    MANUAL = "manual", _("Manual")
    START_SOP = "start_sop", _("Started by another SOP")


class Run(models.Model):
    sop = models.ForeignKey(
        "sops.Sop",
        verbose_name=_("SOP"),
        on_delete=models.CASCADE,
        related_name="runs",
        db_index=False,  # "of_sop" leads with it
        # No database constraint, as on the event log: on PostgreSQL each would be a
        # trigger per inserted row, and a sweep inserts thousands in one statement
        # (make bench, B3). Runs are written only with ids read in the same
        # transaction, and Django's collector still cascades a deleted SOP.
        db_constraint=False,
    )
    # Pinned: a new published revision does not change runs in flight.
    revision = models.ForeignKey(
        "sops.Revision",
        verbose_name=_("revision"),
        on_delete=models.PROTECT,
        related_name="runs",
        db_index=False,  # revisions are never deleted; no insert should pay for it
        db_constraint=False,
    )
    subject_type = models.CharField(_("subject type"), max_length=20)
    subject_id = models.BigIntegerField(_("subject"))
    # What made this run, unique per SOP and subject: "e<event id>" for an
    # event, "<trigger>@<epoch of the date>" for a date, "<trigger>@<slot>" for
    # a schedule, "manual:<form token>" for a person.
    occurrence_key = models.CharField(max_length=120)
    trigger_key = models.CharField(_("trigger"), max_length=40, blank=True, default="")
    trigger_kind = models.CharField(_("started by"), max_length=12, choices=TriggerKind.choices)
    event_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(_("state"), max_length=12, choices=RunState.choices)
    pilot = models.BooleanField(_("pilot"), default=False)
    current_step = models.CharField(max_length=40, blank=True, default="")
    current_iteration = models.PositiveSmallIntegerField(default=0)
    # When the engine should look at the run next; NULL while it waits for a person.
    wake_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=32, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    parent_run = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        db_index=False,
    )
    depth = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(_("error"), blank=True, default="")
    # An error or reason the system wrote ("Cancelled by event 12."), as its original and
    # parameters (procedo/core/texts.py), read in each reader's language. None: as written.
    error_text = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("SOP run")
        constraints = [
            # Subject first: the same index finds a subject's runs (its card, the
            # events that cancel or resume them), so no other index is needed for that.
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "sop", "occurrence_key"],
                name="automation_run_once_per_occurrence",
            ),
        ]
        # Few indexes on purpose: every run insert pays for each (make bench, B2, B3).
        # Runs in flight are read through the partial "due" index.
        indexes = [
            models.Index(fields=["wake_at"], name="automation_run_due", condition=ACTIVE_RUN),
            models.Index(fields=["sop", "id"], name="automation_run_of_sop"),
            # Almost every row is NULL here, so these cost inserts nothing; without them
            # deleting a run (or a person) would scan every run for a reference.
            models.Index(
                fields=["parent_run"],
                name="automation_run_parent",
                condition=Q(parent_run__isnull=False),
            ),
            models.Index(
                fields=["started_by"],
                name="automation_run_started_by",
                condition=Q(started_by__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of SOP {self.sop_id} on {self.subject_type}:{self.subject_id}"

    @property
    def error_display(self) -> str:
        return stored_text_render(self.error_text, self.error)


class StepState(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    WAITING = "waiting", _("Waiting")
    DONE = "done", _("Done")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class RunStep(models.Model):
    # No index of its own: the unique (run, step_key, iteration) leads with it.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps", db_index=False)
    step_key = models.CharField(_("step"), max_length=40)
    # A branch may lead back to a step: each pass is its own row.
    iteration = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(_("kind"), max_length=20)
    state = models.CharField(
        _("state"), max_length=12, choices=StepState.choices, default=StepState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    # Waiting for an event on the run's subject (or its timeout at run.wake_at).
    wait_event_type = models.CharField(max_length=80, blank=True, default="")
    outcome = models.CharField(_("outcome"), max_length=40, blank=True, default="")
    event_id = models.BigIntegerField(null=True, blank=True)
    task_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(_("error"), blank=True, default="")
    error_text = models.JSONField(null=True, blank=True)  # as Run.error_text

    class Meta:
        verbose_name = _("run step")
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "step_key", "iteration"], name="automation_step_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["wait_event_type", "run"],
                name="automation_step_waiting",
                condition=Q(state=StepState.WAITING) & ~Q(wait_event_type=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step_key}#{self.iteration} ({self.state})"

    @property
    def error_display(self) -> str:
        return stored_text_render(self.error_text, self.error)


class SweepMark(models.Model):
    """How far a date trigger of a revision has been swept: the upper end of its last window.

    The minute's sweep reads only dates from a little before the mark, and a
    full catch-up window is swept at least hourly (and whenever the clock went
    back): the unique run occurrence, not the mark, keeps a subject to one run.
    """

    revision_id = models.BigIntegerField()
    trigger_key = models.CharField(max_length=40)
    swept_until = models.DateTimeField()
    full_at = models.DateTimeField()
    # The revision's backlog choice this trigger has swept (its `backlog_at`), if any.
    backlog_at = models.DateTimeField(null=True, blank=True)
    # The last event id the sweep looked at for dates written late (see sweeps.DATE_WRITERS).
    event_cursor = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["revision_id", "trigger_key"], name="automation_sweepmark_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trigger_key} of revision {self.revision_id} until {self.swept_until}"


class QueuedStart(models.Model):
    """A subject due for a paced SOP, waiting for the pace to let it start.

    Rows, not a loop: a sweep queues with one INSERT … SELECT, and a batch starts
    with one INSERT … SELECT … ORDER BY mark_at LIMIT <capacity> into the runs;
    the rows whose run exists are then deleted. The occurrence is the run's, so a
    subject is queued once and never after its run started.
    """

    sop_id = models.BigIntegerField()
    subject_type = models.CharField(max_length=20)
    subject_id = models.BigIntegerField()
    occurrence_key = models.CharField(max_length=120)
    trigger_key = models.CharField(max_length=40)
    # The subject's date the trigger counts from: the queue drains oldest first.
    mark_at = models.DateTimeField()
    queued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sop_id", "subject_type", "subject_id", "occurrence_key"],
                name="automation_queued_once",
            ),
        ]
        indexes = [models.Index(fields=["sop_id", "mark_at", "id"], name="automation_queue_order")]

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject_id} queued for SOP {self.sop_id}"


class WebhookKey(models.Model):
    """The installation's secret for signing outgoing SOP webhooks (one row, made on first use).

    In the database, not in var/: every worker on every host must sign with the same key.
    """

    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"webhook key {self.pk}"
