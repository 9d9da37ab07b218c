"""Tasks: work for a person, a team or a role, with a due time; SOP runs hand out most of them.

A task knows its subject and, when an SOP run made it, the run step it
belongs to by id, so this app depends on no other. A checklist is rows of
its task (one per item, with the answer); what a run does with the answers
is the automation engine's business, told through the task-closed registry.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from procedo.accounts.roles import Role
from procedo.core.texts import stored_text_render


class TaskState(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    SKIPPED = "skipped", _("Skipped")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATES = (TaskState.OPEN, TaskState.IN_PROGRESS)
OPEN_TASK = Q(state__in=OPEN_STATES)


class ChecklistKind(models.TextChoices):
    SIMPLE = "simple", _("Simple")
    DETAILED = "detailed", _("Detailed")
    DECISION = "decision", _("Decision")
    VERIFICATION = "verification", _("Verification")
    INFORMATION = "information", _("Information gathering")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class Task(models.Model):
    title = models.CharField(_("title"), max_length=200)
    instructions = models.TextField(_("instructions"), blank=True, default="")
    checklist_kind = models.CharField(
        _("checklist"), max_length=12, choices=ChecklistKind.choices, blank=True, default=""
    )
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
    assignee_role = models.CharField(
        _("role"), max_length=20, choices=Role.choices, blank=True, default=""
    )
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
    # A note the system wrote (why it cancelled the task), as its original and parameters
    # (procedo/core/texts.py), read in each reader's language. None: a person's words.
    outcome_note_text = models.JSONField(null=True, blank=True)
    # Escalation: the overdue sweep tells the assignee once (overdue_notified_at), and the
    # team lead or a manager once more `escalate_after_minutes` after the due time.
    escalate_after_minutes = models.PositiveIntegerField(null=True, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
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

    @property
    def outcome_note_display(self) -> str:
        return stored_text_render(self.outcome_note_text, self.outcome_note)


class ChecklistItem(models.Model):
    """One item of a task's checklist and its answer.

    `answer` holds what the kind asks for: true/false for a ticked item, the
    chosen option's value for a decision, "passed"/"failed" for a criterion,
    the typed value (text, number as text, ISO date, choice, true/false) for
    a field. Null is "not answered yet".
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=40)
    text = models.CharField(_("item"), max_length=300)
    help = models.TextField(_("how"), blank=True, default="")
    required = models.BooleanField(_("required"), default=True)
    field_type = models.CharField(max_length=10, blank=True, default="")
    # Decision: [{"value", "label", "goto"}]; choice field: [{"value", "label"}].
    options = models.JSONField(default=list, blank=True)
    answer = models.JSONField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("checklist item")
        ordering = ["task", "position"]
        constraints = [
            models.UniqueConstraint(fields=["task", "key"], name="work_item_once_per_task"),
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def is_answered(self) -> bool:
        return self.answer is not None


class SubjectFact(models.Model):
    """What an information-gathering checklist learned about a subject (its latest answer).

    The task's item keeps the history; this row is the current value, shown on
    the subject's card and readable by conditions.
    """

    subject_type = models.CharField(max_length=20)
    subject_id = models.BigIntegerField()
    key = models.CharField(max_length=40)
    label = models.CharField(_("what"), max_length=300)
    value = models.JSONField(_("value"))
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("fact")
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "key"], name="work_fact_once_per_subject"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.value}"
