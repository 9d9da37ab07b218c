from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImportKind(models.TextChoices):
    ORDERS = "orders", _("Orders")
    CUSTOMERS = "customers", _("Customers")


class ImportState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    REFUSED = "refused", _("Refused")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    """One file handed to Procedo: stored first, then read in batches by the worker or the CLI."""

    kind = models.CharField(_("kind"), max_length=20, choices=ImportKind.choices)
    state = models.CharField(
        _("state"), max_length=10, choices=ImportState.choices, default=ImportState.QUEUED
    )
    file_name = models.CharField(_("file"), max_length=255)
    stored_path = models.CharField(max_length=500)
    # Where the rows come from ("shopify", "retail-2011"): external refs are
    # "<source>:<their id>", so the same file imported twice finds its own rows.
    source = models.CharField(_("source"), max_length=40)
    currency = models.CharField(_("currency"), max_length=3, blank=True, default="")
    time_zone = models.CharField(_("time zone of the file"), max_length=64, blank=True, default="")
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    existing_count = models.PositiveIntegerField(default=0)
    lines_count = models.PositiveIntegerField(default=0)
    # SHA-256 of the file as uploaded: the same file again finds this job instead of
    # importing twice (a job that failed is not found: its file may be tried again).
    content_sha256 = models.CharField(max_length=64, blank=True, default="")
    report_path = models.CharField(max_length=500, blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched after every batch: a job whose worker died shows a stale heartbeat
    # and is taken up again (batches skip what is already in, so that is safe).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Not a column: set by import_job_create when the file had been imported before.
    reused = False

    class Meta:
        verbose_name = _("import")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "content_sha256"],
                condition=~models.Q(content_sha256="") & ~models.Q(state="failed"),
                name="importjob_same_file_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} import {self.file_name}"

    @property
    def percent(self) -> int:
        if self.state in {ImportState.DONE, ImportState.REFUSED}:
            return 100
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0
