"""Tasks: work for a person, a team or a role, with a due time; SOP runs hand out most of them.

Kept general on purpose (a later issue adds checklists' own rows, comments,
"My work" and escalation): a task knows its subject and, when an SOP run made
it, the run step it belongs to by id, so this app depends on no other.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TaskState(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    SKIPPED = "skipped", _("Skipped")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATES = (TaskState.OPEN, TaskState.IN_PROGRESS)
OPEN_TASK = Q(state__in=OPEN_STATES)


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class Task(models.Model):
    title = models.CharField(_("title"), max_length=200)
    instructions = models.TextField(_("instructions"), blank=True, default="")
    # [{"text": "...", "done": false}, ...]; its own table comes with the checklist issue.
    checklist = models.JSONField(_("checklist"), default=list, blank=True)
    subject_type = models.CharField(max_length=20, blank=True, default="")
    subject_id = models.BigIntegerField(null=True, blank=True)
    customer_id = models.BigIntegerField(null=True, blank=True)
    run_id = models.BigIntegerField(null=True, blank=True)
    run_step_id = models.BigIntegerField(null=True, blank=True)
    assignee_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    assignee_team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    assignee_role = models.CharField(_("role"), max_length=20, blank=True, default="")
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    state = models.CharField(
        _("state"), max_length=12, choices=TaskState.choices, default=TaskState.OPEN
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("completed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    outcome_note = models.TextField(_("note"), blank=True, default="")
    # "run:<id>:step:<key>:<iteration>" for an SOP's task: a step executed
    # twice (a retry, a second worker) finds the task it made the first time.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("task")
        indexes = [
            models.Index(fields=["due_at", "id"], name="work_task_open_due", condition=OPEN_TASK),
            models.Index(fields=["assignee_user", "state"], name="work_task_assignee"),
            models.Index(fields=["run_step_id"], name="work_task_run_step"),
            models.Index(fields=["subject_type", "subject_id"], name="work_task_subject"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES
