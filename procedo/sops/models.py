"""SOPs and their revisions: the procedure as data, versioned, reviewed and published.

The content (triggers, conditions, steps) lives in a revision's `definition`
(see procedo.sops.definitions). Only one revision per SOP is published and at
most one is in pilot: partial unique constraints hold that, not the services
alone. Runs pin the revision they started with, so a published or piloted
revision never changes; editing one makes a new draft.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from procedo.analytics.kpis import kpi_choices
from procedo.core.texts import stored_text_render


class SubjectType(models.TextChoices):
    ORDER = "order", _("Order")
    CUSTOMER = "customer", _("Customer")
    BUSINESS = "business", _("The business")
    LEAD = "lead", _("Lead")
    DEAL = "deal", _("Deal")


class PacePeriod(models.TextChoices):
    HOUR = "hour", _("hour")
    DAY = "day", _("day")


class Sop(models.Model):
    name = models.CharField(_("name"), max_length=200)
    subject_type = models.CharField(
        _("runs on"),
        max_length=20,
        choices=SubjectType.choices,
        help_text=_("Each run of the SOP is about one of these."),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="sops_owned",
    )
    goal = models.TextField(_("goal"), blank=True, default="")
    why = models.TextField(
        _("why"), blank=True, default="", help_text=_("Shown to everyone who runs it.")
    )
    kpi = models.CharField(_("KPI"), max_length=40, choices=kpi_choices())
    kpi_target = models.DecimalField(
        _("KPI target"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    kpi_window_days = models.PositiveIntegerField(_("KPI window (days)"), null=True, blank=True)
    # The goal (procedo/analytics) this SOP is written to move: its page shows the SOP's
    # measured contribution.
    serves = models.ForeignKey(
        "analytics.Goal",
        verbose_name=_("serves the goal"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sops",
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout %"),
        default=0,
        help_text=_("Subjects kept out of the SOP (recorded, no steps) to measure its effect."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("last change"), default=timezone.now)
    # Since when a revision of it has been live without a break (None: none is).
    # Events from before are history: reading them late (a replay, a consumer
    # that was down) never starts runs of an SOP that was not live then.
    live_since = models.DateTimeField(_("live since"), null=True, blank=True)
    # The pace of its swept starts: at most `pace_limit` runs per `pace_period` (None: no
    # limit); per assignee, the limit is for each person the first task step may go to.
    # Subjects over the pace wait in automation's queue, oldest mark first.
    pace_limit = models.PositiveIntegerField(_("at most"), null=True, blank=True)
    pace_period = models.CharField(
        _("starts per"), max_length=4, choices=PacePeriod.choices, default=PacePeriod.HOUR
    )
    pace_per_assignee = models.BooleanField(_("for each assignee"), default=False)
    # The library SOP this one was installed from: installing it twice finds this row.
    library_key = models.CharField(max_length=60, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("SOP")
        verbose_name_plural = _("SOPs")
        constraints = [
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=50), name="sop_holdout_at_most_50"
            ),
            models.CheckConstraint(
                condition=Q(pace_limit__isnull=True) | Q(pace_limit__gte=1),
                name="sop_pace_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RevisionState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REVIEW = "review", _("In review")
    APPROVED = "approved", _("Approved")
    PILOT = "pilot", _("Pilot")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class Backlog(models.TextChoices):
    """What a date trigger does, once live, with subjects already past its mark beyond
    the catch-up window."""

    UNDECIDED = "", _("not asked")
    START = "start", _("start for them too")
    SKIP = "skip", _("only from now on")


# States whose revision the engine starts runs with.
LIVE_STATES = (RevisionState.PILOT, RevisionState.PUBLISHED)


class Revision(models.Model):
    sop = models.ForeignKey(Sop, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField(_("number"))
    state = models.CharField(
        _("state"), max_length=12, choices=RevisionState.choices, default=RevisionState.DRAFT
    )
    definition = models.JSONField(_("definition"), default=dict)
    note = models.CharField(_("what changed"), max_length=500, blank=True, default="")
    # A note the system wrote (a proposal taken in), as its original and parameters
    # (procedo/core/texts.py): each reader gets it in their language. None: a person's words.
    note_text = models.JSONField(null=True, blank=True)
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Whoever edited the draft last is an author too: they may not approve it.
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pilot_team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("pilot team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    pilot_percent = models.PositiveSmallIntegerField(_("pilot %"), null=True, blank=True)
    # The publisher's choice for the backlog (see Backlog), made at pilot or publish;
    # `backlog_at` is when: the sweep reaches the backlog once per choice.
    backlog = models.CharField(
        _("backlog"), max_length=5, choices=Backlog.choices, blank=True, default=""
    )
    backlog_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    state_changed_at = models.DateTimeField(default=timezone.now)
    # Not a column: what a publish that moved runs reports (registry.RunsMoved), on the
    # revision revision_transition returns.
    runs_moved: Any = None

    class Meta:
        verbose_name = _("SOP revision")
        ordering = ["sop", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["sop", "number"], name="sop_revision_number"),
            models.UniqueConstraint(
                fields=["sop"],
                condition=Q(state=RevisionState.PUBLISHED),
                name="sop_one_published_revision",
            ),
            models.UniqueConstraint(
                fields=["sop"],
                condition=Q(state=RevisionState.PILOT),
                name="sop_one_pilot_revision",
            ),
            models.CheckConstraint(
                condition=Q(pilot_percent__isnull=True)
                | Q(pilot_percent__gte=1, pilot_percent__lte=100),
                name="sop_revision_pilot_percent",
            ),
        ]
        indexes = [models.Index(fields=["state", "sop"], name="sop_revision_state")]

    def __str__(self) -> str:
        return f"{self.sop_id} r{self.number} ({self.state})"

    @property
    def note_display(self) -> str:
        """What changed, in the reader's language when the system wrote it."""
        return stored_text_render(self.note_text, self.note)


class RevisionTransition(models.Model):
    """Who moved a revision to which state, when, and with what comment."""

    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=12, choices=RevisionState.choices)
    to_state = models.CharField(max_length=12, choices=RevisionState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    comment = models.TextField(_("comment"), blank=True, default="")
    # A comment the system wrote ("Replaced by revision 4."), read in each reader's language.
    comment_text = models.JSONField(null=True, blank=True)
    # The backlog choice made with this move, and how many subjects it was about then.
    backlog = models.CharField(
        _("backlog"), max_length=5, choices=Backlog.choices, blank=True, default=""
    )
    backlog_count = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("revision transition")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state}"

    @property
    def comment_display(self) -> str:
        return stored_text_render(self.comment_text, self.comment)


# ---------------------------------------------------------------- feedback, proposals, reading


class FeedbackKind(models.TextChoices):
    SLOW = "slow", _("This step is slow")
    TRAP = "trap", _("This is a trap")
    FASTER_WAY = "faster_way", _("There is a faster way")
    UNCLEAR = "unclear", _("This is unclear")
    OTHER = "other", _("Something else")


class FeedbackState(models.TextChoices):
    OPEN = "open", _("Open")
    ADDRESSED = "addressed", _("Addressed")
    DISMISSED = "dismissed", _("Dismissed")


class StepFeedback(models.Model):
    """What a person running a step says about it, kept per SOP, revision and step."""

    sop = models.ForeignKey(Sop, on_delete=models.CASCADE, related_name="feedback")
    revision = models.ForeignKey(
        Revision, verbose_name=_("revision"), on_delete=models.CASCADE, related_name="+"
    )
    step_key = models.CharField(_("step"), max_length=40)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("from"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=12, choices=FeedbackKind.choices)
    text = models.TextField(_("what happened"), blank=True, default="")
    # Where it was given from: the task and run (ids, as a task knows its run).
    task_id = models.BigIntegerField(null=True, blank=True)
    run_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    state = models.CharField(
        _("state"), max_length=12, choices=FeedbackState.choices, default=FeedbackState.OPEN
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(_("note"), blank=True, default="")

    class Meta:
        verbose_name = _("step feedback")
        verbose_name_plural = _("step feedback")
        ordering = ["-id"]
        indexes = [models.Index(fields=["sop", "step_key", "state"], name="sop_feedback_step")]

    def __str__(self) -> str:
        return f"{self.step_key}: {self.kind}"


class ProposalState(models.TextChoices):
    OPEN = "open", _("Open")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")


class Proposal(models.Model):
    """A change someone proposes; accepted, it becomes a draft revision that credits them."""

    sop = models.ForeignKey(Sop, on_delete=models.CASCADE, related_name="proposals")
    based_on = models.ForeignKey(
        Revision, verbose_name=_("based on"), on_delete=models.CASCADE, related_name="+"
    )
    step_key = models.CharField(_("step"), max_length=40, blank=True, default="")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("proposed by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="sop_proposals",
    )
    text = models.TextField(_("what to change and why"))
    task_id = models.BigIntegerField(null=True, blank=True)
    run_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    state = models.CharField(
        _("state"), max_length=12, choices=ProposalState.choices, default=ProposalState.OPEN
    )
    # The draft it became (accepted): the credit follows that revision to publication.
    draft = models.ForeignKey(
        Revision,
        verbose_name=_("draft"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="proposals",
    )
    decline_reason = models.TextField(_("why not"), blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("proposal")
        ordering = ["-id"]
        indexes = [models.Index(fields=["sop", "state"], name="sop_proposal_state")]

    def __str__(self) -> str:
        return f"{self.sop_id}: {self.text[:40]}"


class Acknowledgement(models.Model):
    """A person read this revision and said so."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sop_acknowledgements"
    )
    revision = models.ForeignKey(
        Revision, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), default=timezone.now)

    class Meta:
        verbose_name = _("acknowledgement")
        constraints = [
            models.UniqueConstraint(fields=["user", "revision"], name="sop_acknowledged_once")
        ]
        indexes = [models.Index(fields=["revision", "user"], name="sop_ack_revision")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.revision_id}"
