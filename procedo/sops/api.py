"""The SOPs' REST endpoints: the same list, card, revisions, workflow and preview as the pages.

Over 600 lines on purpose: one router (one tag in the API document) whose thin endpoints
each mirror a service, with the schemas they answer in beside them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.utils.translation import gettext as _
from ninja import Field, Path, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.analytics.kpis import KPIS
from procedo.core.bounds import Id, KpiTarget, LongText, PathId, ShortText, StepKey
from procedo.core.errors import NotFound
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import Schema
from procedo.sops import subjects
from procedo.sops.kinds import STEP_KINDS, TRIGGER_KINDS, kind_catalog
from procedo.sops.models import Proposal, Revision, Sop, StepFeedback
from procedo.sops.selectors import audience as audience_selectors
from procedo.sops.selectors import feedback as feedback_selectors
from procedo.sops.selectors import messages as message_selectors
from procedo.sops.selectors import sops as sop_selectors
from procedo.sops.services import acknowledgement as acknowledgement_services
from procedo.sops.services import feedback as feedback_services
from procedo.sops.services import messages as message_services
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services

router = Router(tags=["sops"])


class SopListOut(Schema):
    id: int
    name: str
    subject_type: str
    owner_id: int
    kpi: str
    kpi_label: str
    kpi_target: Decimal | None
    state: str
    published_revision: int | None
    pilot_revision: int | None
    runs_in_flight: int
    updated_at: datetime


class RevisionTransitionOut(Schema):
    from_state: str
    to_state: str
    actor_id: int | None
    comment: str
    backlog: str = Field(description="start, skip, or empty: the backlog choice of this move")
    backlog_count: int | None
    created_at: datetime

    @staticmethod
    def resolve_comment(obj: Any) -> str:
        return str(obj.comment_display)  # the system's own comments in the reader's language


class RevisionOut(Schema):
    id: int
    sop_id: int
    number: int
    state: str
    note: str
    based_on_id: int | None
    author_id: int | None
    pilot_team_id: int | None
    pilot_percent: int | None
    created_at: datetime
    updated_at: datetime
    definition: dict[str, Any]
    description: list[str]
    transitions: list[RevisionTransitionOut]
    backlog: str = Field(description="start: the date triggers reached the backlog too; skip: not")
    backlog_at: datetime | None
    runs_moved: list[int] = Field(default_factory=list, description="Moved onto it at publish.")
    runs_stayed: list[int] = Field(default_factory=list, description="Stayed on their revision.")


class RevisionSummaryOut(Schema):
    id: int
    number: int
    state: str
    note: str
    updated_at: datetime


class SopOut(Schema):
    id: int
    name: str
    subject_type: str
    owner_id: int
    goal: str
    why: str
    kpi: str
    kpi_label: str
    kpi_target: Decimal | None
    kpi_window_days: int | None
    holdout_percent: int
    pace_limit: int | None
    pace_period: str
    pace_per_assignee: bool
    serves_id: int | None = Field(description="The goal it serves (GET /api/analytics/goals).")
    runs_in_flight: int
    runs_by_state: dict[str, int]
    updated_at: datetime
    current_revision_id: int
    current_description: list[str]
    revisions: list[RevisionSummaryOut]


class SopIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    subject_type: ShortText = Field(description="order, customer or business")
    owner_id: Id
    kpi: ShortText = Field(description="A code from GET /sops/catalog")
    goal: LongText = ""
    why: LongText = ""
    kpi_target: KpiTarget | None = None
    kpi_window_days: int | None = Field(default=None, ge=1, le=3650)
    holdout_percent: int = Field(default=0, ge=0, le=50)
    serves_id: Id | None = None


class SopPatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    owner_id: Id | None = None
    goal: LongText | None = None
    why: LongText | None = None
    kpi: ShortText | None = None
    kpi_target: KpiTarget | None = None
    kpi_window_days: int | None = Field(default=None, ge=1, le=3650)
    holdout_percent: int | None = Field(default=None, ge=0, le=50)
    serves_id: Id | None = None


class DraftIn(Schema):
    based_on_id: Id | None = None
    note: LongText = ""


class DefinitionIn(Schema):
    definition: dict[str, Any] = Field(
        description="triggers, cancel_on and steps; see GET /sops/catalog for kinds and fields"
    )
    note: LongText | None = None


class RevisionTransitionIn(Schema):
    to_state: ShortText
    comment: LongText = ""
    pilot_team_id: Id | None = None
    pilot_percent: int | None = Field(default=None, ge=1, le=100)
    backlog: Literal["", "start", "skip"] = Field(
        default="",
        description="Going live: start for the subjects already past a date trigger's mark"
        " beyond its catch-up window too, or only for those reaching it from now on.",
    )
    move_runs: bool = Field(
        default=False,
        description="Publishing: move every run in flight that has not started its next step"
        " onto this revision, where that step exists in it.",
    )
    move_run_ids: list[Id] | None = Field(
        default=None, max_length=1000, description="Publishing: move exactly these runs."
    )


class PaceIn(Schema):
    pace_limit: int | None = Field(
        default=None, le=100_000, description="Swept starts per period; null: no limit."
    )
    pace_period: Literal["hour", "day"] = "hour"
    pace_per_assignee: bool = False


class DiffLineOut(Schema):
    op: str
    text: str


class TriggerPreviewOut(Schema):
    count: int
    more: bool
    sample: list[tuple[int, str]]
    note: str


def _sop_out(sop_id: int) -> dict[str, Any]:
    card = sop_selectors.sop_card(sop_id=sop_id)
    sop = card.sop
    return {
        "id": sop.pk,
        "name": sop.name,
        "subject_type": sop.subject_type,
        "owner_id": sop.owner_id,
        "goal": sop.goal,
        "why": sop.why,
        "kpi": sop.kpi,
        "kpi_label": card.kpi_label,
        "kpi_target": sop.kpi_target,
        "kpi_window_days": sop.kpi_window_days,
        "holdout_percent": sop.holdout_percent,
        "pace_limit": sop.pace_limit,
        "pace_period": sop.pace_period,
        "pace_per_assignee": sop.pace_per_assignee,
        "serves_id": sop.serves_id,
        "runs_in_flight": card.in_flight,
        "runs_by_state": card.runs_by_state,
        "updated_at": sop.updated_at,
        "current_revision_id": card.current.pk,
        "current_description": card.current_lines,
        "revisions": card.revisions,
    }


def _revision_out(revision_id: int) -> dict[str, Any]:
    from procedo.sops.describe import definition_lines

    revision: Revision = sop_selectors.revision_get(revision_id=revision_id)
    return {
        "id": revision.pk,
        "sop_id": revision.sop_id,
        "number": revision.number,
        "state": revision.state,
        "note": revision.note_display,
        "based_on_id": revision.based_on_id,
        "author_id": revision.author_id,
        "pilot_team_id": revision.pilot_team_id,
        "pilot_percent": revision.pilot_percent,
        "created_at": revision.created_at,
        "updated_at": revision.updated_at,
        "definition": revision.definition,
        "description": definition_lines(
            revision.definition, subject_type=revision.sop.subject_type
        ),
        "transitions": list(revision.transitions.order_by("id")),
        "backlog": revision.backlog,
        "backlog_at": revision.backlog_at,
    }


@router.get("", response=list[SopListOut], auth=requires_api("sops.view"))
def sop_list(request: ApiRequest) -> list[dict[str, Any]]:
    """Every SOP: its state, KPI, runs in flight and last change."""
    return [
        {
            "id": row.sop.pk,
            "name": row.sop.name,
            "subject_type": row.sop.subject_type,
            "owner_id": row.sop.owner_id,
            "kpi": row.sop.kpi,
            "kpi_label": row.kpi_label,
            "kpi_target": row.sop.kpi_target,
            "state": row.state,
            "published_revision": row.published,
            "pilot_revision": row.pilot,
            "runs_in_flight": row.in_flight,
            "updated_at": row.sop.updated_at,
        }
        for row in sop_selectors.sop_list()
    ]


@router.get("/catalog", auth=requires_api("sops.view"))
def sop_catalog(request: ApiRequest) -> dict[str, Any]:
    """What a definition may use: KPIs, subjects and their condition fields, events, kinds.

    `kinds` documents every trigger and step kind: its label and its fields (JSON Schema).
    """
    return {
        "kpis": [
            {"code": k.code, "label": str(k.label), "needs_window": k.needs_window}
            for k in KPIS.values()
        ],
        "subjects": {
            name: {
                "fields": {
                    f.name: {
                        "type": f.type,
                        "label": str(f.label),
                        "operators": subjects.OPERATORS[f.type],
                    }
                    for f in subject.fields.values()
                }
            }
            for name, subject in subjects.SUBJECTS.items()
        },
        "events": {
            spec.event_type: {
                "subject": spec.subject,
                "label": str(spec.label),
                "payload": {name: f.type for name, f in spec.payload.items()},
            }
            for spec in subjects.EVENTS.values()
        },
        "trigger_kinds": list(TRIGGER_KINDS),
        "step_kinds": list(STEP_KINDS),
        # Each kind's label and the JSON schema of its fields, as a definition writes them.
        "kinds": {
            "triggers": {key: kind_catalog(kind) for key, kind in TRIGGER_KINDS.items()},
            "steps": {key: kind_catalog(kind) for key, kind in STEP_KINDS.items()},
        },
    }


class OnboardingOut(Schema):
    sop_id: int
    sop_name: str
    revision_id: int
    revision: int
    confirmed: bool
    confirmed_revision: int | None
    confirmed_at: datetime | None
    changes: list[DiffLineOut]


@router.get("/mine", response=list[OnboardingOut], auth=requires_api("sops.view"))
def onboarding_list(request: ApiRequest) -> list[dict[str, Any]]:
    """The published SOPs the caller's role and teams run; confirmed or not; changes since."""
    return [
        {
            "sop_id": item.sop.pk,
            "sop_name": item.sop.name,
            "revision_id": item.revision.pk,
            "revision": item.revision.number,
            "confirmed": item.confirmed,
            "confirmed_revision": item.confirmed_number,
            "confirmed_at": item.confirmed_at,
            "changes": item.changes,
        }
        for item in audience_selectors.onboarding_list(user=request.auth)
    ]


class RecognitionRowOut(Schema):
    user_id: int
    name: str
    done: int
    on_time: int
    late: int
    on_time_rate: int | None
    credited: int


class RecognitionOut(Schema):
    period: str
    since: datetime
    until: datetime
    rows: list[RecognitionRowOut]


@router.get("/recognition", response=RecognitionOut, auth=requires_api("sops.view"))
def recognition(
    request: ApiRequest, period: Literal["week", "month", "quarter", "year"] = "month"
) -> dict[str, Any]:
    """Per person: SOP tasks done, on time, and proposals published; period week, month,
    last_month or quarter in the business's time zone."""
    board = feedback_selectors.recognition(period=period)
    return {
        "period": board.period,
        "since": board.since,
        "until": board.until,
        "rows": [
            {
                "user_id": row.user.pk,
                "name": str(row.user),
                "done": row.done,
                "on_time": row.on_time,
                "late": row.late,
                "on_time_rate": row.on_time_rate,
                "credited": row.credited,
            }
            for row in board.rows
        ],
    }


@router.post("", response={201: SopOut}, auth=requires_api("sops.author"))
def sop_create(
    request: ApiRequest,
    payload: SopIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[dict[str, Any]]:
    sop = sop_services.sop_create(
        **payload.dict(),
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, _sop_out(sop.pk))


@router.get("/{int:sop_id}", response=SopOut, auth=requires_api("sops.view"))
def sop_detail(request: ApiRequest, sop_id: PathId) -> dict[str, Any]:
    return _sop_out(sop_id)


@router.patch("/{int:sop_id}", response=SopOut, auth=requires_api("sops.author"))
def sop_update(request: ApiRequest, sop_id: PathId, payload: SopPatch) -> dict[str, Any]:
    sop_services.sop_update(sop_id=sop_id, actor=request.auth, **payload.dict(exclude_unset=True))
    return _sop_out(sop_id)


@router.put("/{int:sop_id}/pace", response=SopOut, auth=requires_api("sops.author"))
def sop_pace_set(request: ApiRequest, sop_id: PathId, payload: PaceIn) -> dict[str, Any]:
    """At most N swept starts per hour or day (per assignee of the first task: N for each);
    the rest wait in the SOP's queue (GET /api/sops/{id}/queue)."""
    sop_services.sop_pace_set(
        sop_id=sop_id,
        actor=request.auth,
        limit=payload.pace_limit,
        period=payload.pace_period,
        per_assignee=payload.pace_per_assignee,
    )
    return _sop_out(sop_id)


@router.post(
    "/{int:sop_id}/revisions", response={201: RevisionOut}, auth=requires_api("sops.author")
)
def revision_draft_create(
    request: ApiRequest, sop_id: PathId, payload: DraftIn
) -> Status[dict[str, Any]]:
    draft = revision_services.revision_draft_create(
        sop_id=sop_id, actor=request.auth, based_on_id=payload.based_on_id, note=payload.note
    )
    return Status(201, _revision_out(draft.pk))


@router.get("/revisions/{int:revision_id}", response=RevisionOut, auth=requires_api("sops.view"))
def revision_detail(request: ApiRequest, revision_id: PathId) -> dict[str, Any]:
    return _revision_out(revision_id)


@router.put(
    "/revisions/{int:revision_id}/definition",
    response=RevisionOut,
    auth=requires_api("sops.author"),
)
def revision_update(
    request: ApiRequest, revision_id: PathId, payload: DefinitionIn
) -> dict[str, Any]:
    """Save a definition; a revision out of draft never changes, so this returns a new draft."""
    revision = revision_services.revision_update(
        revision_id=revision_id,
        definition=payload.definition,
        actor=request.auth,
        note=payload.note,
    )
    return _revision_out(revision.pk)


@router.post(
    "/revisions/{int:revision_id}/transition",
    response=RevisionOut,
    auth=requires_api("sops.author"),
)
def revision_transition(
    request: ApiRequest, revision_id: PathId, payload: RevisionTransitionIn
) -> dict[str, Any]:
    revision = revision_services.revision_transition(
        revision_id=revision_id, actor=request.auth, **payload.dict()
    )
    out = _revision_out(revision_id)
    moved = revision.runs_moved
    if moved is not None:
        out |= {"runs_moved": moved.moved, "runs_stayed": moved.stayed}
    return out


@router.get(
    "/revisions/{int:revision_id}/diff/{int:other_id}",
    response=list[DiffLineOut],
    auth=requires_api("sops.view"),
)
def revision_diff(request: ApiRequest, revision_id: PathId, other_id: PathId) -> list[Any]:
    return sop_selectors.revision_diff(revision_id=revision_id, other_id=other_id)


@router.get(
    "/revisions/{int:revision_id}/preview/{trigger_key}",
    response=TriggerPreviewOut,
    auth=requires_api("sops.view"),
)
def trigger_preview(
    request: ApiRequest, revision_id: PathId, trigger_key: Annotated[str, Path(max_length=40)]
) -> Any:
    """Which subjects the trigger would match now (counted up to 1,000)."""
    return sop_selectors.trigger_preview(revision_id=revision_id, trigger_key=trigger_key)


# ---------------------------------------------------------------- messages for a sample


class SampleOut(Schema):
    id: int
    label: str


class MessagePreviewOut(Schema):
    step_key: str = Field(alias="key")
    title: str
    channel: str
    marketing: bool
    to: str
    subject: str
    body: str
    problem: str = Field(description="Why it cannot be written for the sample; empty if it can.")
    body_html: str = Field(description="A stored template's HTML part, if it has one.")


class MessagePreviewsOut(Schema):
    sample: SampleOut | None = Field(description="Whom the messages are written for.")
    samples: list[SampleOut] = Field(description="Others to ask for with `sample_id`.")
    messages: list[MessagePreviewOut]


class MessageTestIn(Schema):
    sample_id: Id | None = Field(default=None, description="Default: the newest sample.")


class MessageTestOut(Schema):
    message_id: int = Field(alias="pk")
    to: str = Field(alias="recipient")
    subject: str
    state: str


@router.get(
    "/revisions/{int:revision_id}/messages",
    response=MessagePreviewsOut,
    auth=requires_api("sops.view"),
)
def message_previews(request: ApiRequest, revision_id: PathId, sample_id: Id | None = None) -> Any:
    """Each email and SMS step written for a real subject the trigger would reach (the
    newest, or `sample_id`), with the same renderer and variables the engine sends with."""
    revision = sop_selectors.revision_get(revision_id=revision_id)
    return message_selectors.message_previews(revision=revision, sample_id=sample_id)


@router.post(
    "/revisions/{int:revision_id}/messages/{step_key}/test",
    response=MessageTestOut,
    auth=requires_api("sops.feedback"),
)
def message_test_send(
    request: ApiRequest,
    revision_id: PathId,
    step_key: Annotated[str, Path(max_length=40)],
    payload: MessageTestIn,
    idempotency_key: str = idempotency_header(required=True),
) -> Any:
    """Send the step's message, written for the sample, to your own email address, marked as
    a test in its subject; the same key again answers with the same message."""
    return message_services.message_test_send(
        revision_id=revision_id,
        step_key=step_key,
        sample_id=payload.sample_id,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )


# ---------------------------------------------------------------- feedback, proposals, reading


class FeedbackIn(Schema):
    step_key: str = Field(min_length=1, max_length=40)
    kind: ShortText = Field(description="slow, trap, faster_way, unclear or other")
    text: str = Field(default="", max_length=4000)
    task_id: Id | None = None
    run_id: Id | None = None
    revision_id: Id | None = None


class FeedbackOut(Schema):
    id: int
    sop_id: int
    revision_id: int
    step_key: str
    author_id: int | None
    kind: str
    text: str
    task_id: int | None
    run_id: int | None
    created_at: datetime
    state: str
    resolved_by_id: int | None
    resolved_at: datetime | None
    resolution: str


class ResolveIn(Schema):
    state: ShortText = Field(description="addressed or dismissed")
    note: str = Field(default="", max_length=4000)


class ProposalIn(Schema):
    text: str = Field(min_length=1, max_length=4000)
    step_key: str = Field(default="", max_length=40)
    task_id: Id | None = None
    run_id: Id | None = None
    revision_id: Id | None = None


class ProposalOut(Schema):
    id: int
    sop_id: int
    based_on_id: int
    step_key: str
    author_id: int | None
    text: str
    state: str
    draft_id: int | None
    decline_reason: str
    decided_by_id: int | None
    decided_at: datetime | None
    created_at: datetime


class AcceptIn(Schema):
    into_draft: bool = Field(
        default=False, description="Add it to the SOP's existing draft instead of refusing"
    )


class DeclineIn(Schema):
    reason: str = Field(min_length=1, max_length=4000)


class AcknowledgementOut(Schema):
    user_id: int
    revision_id: int
    confirmed_at: datetime


class AckPersonOut(Schema):
    user_id: int
    name: str
    confirmed_revision: int | None
    confirmed_at: datetime | None


class AckBoardOut(Schema):
    revision_id: int
    revision: int
    confirmed: list[AckPersonOut]
    pending: list[AckPersonOut]


@router.get("/{int:sop_id}/feedback", response=list[FeedbackOut], auth=requires_api("sops.view"))
def feedback_list(request: ApiRequest, sop_id: PathId, step_key: StepKey = "") -> list[Any]:
    """The SOP's feedback, newest first (at most 300), optionally of one step."""
    rows = StepFeedback.objects.filter(sop_id=sop_id).order_by("-id")
    if step_key:
        rows = rows.filter(step_key=step_key)
    return list(rows[: feedback_selectors.FEEDBACK_SHOWN])


@router.post(
    "/{int:sop_id}/feedback", response={201: FeedbackOut}, auth=requires_api("sops.feedback")
)
def feedback_leave(
    request: ApiRequest,
    sop_id: PathId,
    payload: FeedbackIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[Any]:
    """Feedback on a step of the revision the caller ran (their task's or run's, else the live)."""
    feedback = feedback_services.feedback_leave(
        sop_id=sop_id,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
        **payload.dict(),
    )
    return Status(201, feedback)


@router.post("/feedback/{int:feedback_id}/resolve", response=FeedbackOut)
def feedback_resolve(request: ApiRequest, feedback_id: PathId, payload: ResolveIn) -> Any:
    return feedback_services.feedback_resolve(
        feedback_id=feedback_id, actor=request.auth, **payload.dict()
    )


@router.get("/{int:sop_id}/proposals", response=list[ProposalOut], auth=requires_api("sops.view"))
def proposal_list(request: ApiRequest, sop_id: PathId) -> list[Any]:
    return list(
        Proposal.objects.filter(sop_id=sop_id).order_by("-id")[: feedback_selectors.FEEDBACK_SHOWN]
    )


@router.post(
    "/{int:sop_id}/proposals", response={201: ProposalOut}, auth=requires_api("sops.feedback")
)
def proposal_make(
    request: ApiRequest,
    sop_id: PathId,
    payload: ProposalIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[Any]:
    proposal = feedback_services.proposal_make(
        sop_id=sop_id,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
        **payload.dict(),
    )
    return Status(201, proposal)


@router.post("/proposals/{int:proposal_id}/accept", response=RevisionOut)
def proposal_accept(request: ApiRequest, proposal_id: PathId, payload: AcceptIn) -> dict[str, Any]:
    """The proposal becomes a new draft crediting its author (409 if a draft exists already)."""
    draft = feedback_services.proposal_accept(
        proposal_id=proposal_id, actor=request.auth, into_draft=payload.into_draft
    )
    return _revision_out(draft.pk)


@router.post("/proposals/{int:proposal_id}/decline", response=ProposalOut)
def proposal_decline(request: ApiRequest, proposal_id: PathId, payload: DeclineIn) -> Any:
    return feedback_services.proposal_decline(
        proposal_id=proposal_id, actor=request.auth, reason=payload.reason
    )


@router.post("/revisions/{int:revision_id}/acknowledge", response=AcknowledgementOut)
def acknowledgement_confirm(request: ApiRequest, revision_id: PathId) -> Any:
    """The caller read this published or piloted revision; confirming twice is once."""
    return acknowledgement_services.acknowledgement_confirm(
        revision_id=revision_id, actor=request.auth
    )


@router.get("/{int:sop_id}/acknowledgements", response=AckBoardOut, auth=requires_api("sops.view"))
def acknowledgement_board(request: ApiRequest, sop_id: PathId) -> dict[str, Any]:
    """Who runs the live revision and has confirmed it, and who has not (404: nothing live)."""
    sop = Sop.objects.filter(pk=sop_id).first()
    if sop is None:
        raise NotFound(field="sop_id", message=_("No SOP %(id)s.") % {"id": sop_id})
    board = audience_selectors.acknowledgement_board(sop=sop)
    if board.revision is None:
        raise NotFound(field="revision", message=_("No revision of this SOP is live."))

    def person(row: audience_selectors.AckRow) -> dict[str, Any]:
        return {
            "user_id": row.user.pk,
            "name": str(row.user),
            "confirmed_revision": row.last_number,
            "confirmed_at": row.confirmed_at,
        }

    return {
        "revision_id": board.revision.pk,
        "revision": board.revision.number,
        "confirmed": [person(row) for row in board.confirmed],
        "pending": [person(row) for row in board.pending],
    }


class LibraryEntryOut(Schema):
    key: str
    name: str
    subject_type: str
    goal: str
    why: str
    kpi: str
    definition: dict[str, Any] = Field(description="Triggers, cancel rules and steps, as data.")
    sop_id: int | None = Field(description="The SOP it was installed as; null if not yet.")


class LibraryInstallIn(Schema):
    keys: list[Annotated[str, Field(max_length=80)]] = Field(
        default_factory=list, max_length=100, description="The library keys to install."
    )
    all: bool = Field(default=False, description="Install every entry (`keys` left out).")


class LibraryInstallOut(Schema):
    installed: list[int] = Field(description="SOPs made now, each with a draft to adapt.")
    already: list[int] = Field(description="SOPs installed before, left as they are.")


@router.get("/library", response=list[LibraryEntryOut], auth=requires_api("sops.view"))
def library_list(request: ApiRequest) -> list[dict[str, Any]]:
    """The ready SOPs the store can install, and which are installed already."""
    from procedo.sops import library

    installed = library.library_installed()
    return [
        {
            "key": key,
            "name": str(entry.name),
            "subject_type": entry.subject_type,
            "goal": str(entry.goal),
            "why": str(entry.why),
            "kpi": entry.kpi,
            "definition": dict(entry.definition),
            "sop_id": installed[key].pk if key in installed else None,
        }
        for key, entry in library.LIBRARY.items()
    ]


@router.post("/library/install", response=LibraryInstallOut, auth=requires_api("sops.author"))
def library_install(request: ApiRequest, payload: LibraryInstallIn) -> dict[str, list[int]]:
    """Install library SOPs as drafts owned by the caller. Installing twice makes nothing new;
    an unknown key is a 422 naming `keys` and installs nothing."""
    from procedo.sops import library

    keys = None if payload.all else payload.keys
    result = library.library_install(keys=keys, actor=request.auth)
    return {"installed": [sop.pk for sop in result], "already": [sop.pk for sop in result.already]}
