"""Every write of sales: leads and their contacts, deals and their moves, pipelines, spend.

Each service is one transaction that records its event. A deal's move is a
compare-and-set on its stage, so two people dragging the same card at once see
one move and one "reload" (409), never two histories.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from procedo.accounts.actors import Actor, actor_person
from procedo.accounts.models import User
from procedo.business.selectors import business_get
from procedo.collab.models import NotificationKind
from procedo.collab.services import notify
from procedo.core.actors import actor_id_of
from procedo.core.bounds import LONG_TEXT, moment_check
from procedo.core.errors import Conflict, DomainError, NotFound, TooLarge
from procedo.core.idempotency import idempotent
from procedo.core.money import amount_clean
from procedo.customers import normalise
from procedo.customers.models import ConsentState, Customer, Identity, IdentityKind
from procedo.customers.services.customers import customer_find_or_create
from procedo.events.services import event_record
from procedo.messaging.models import Channel
from procedo.messaging.services.queueing import message_queue
from procedo.sales.models import (
    SOURCE_MAX,
    UTM_FIELDS,
    UTM_MAX,
    ChannelSpend,
    ContactKind,
    Deal,
    Lead,
    LeadContact,
    LeadForm,
    LeadOrigin,
    LeadStatus,
    LeadSubmission,
    LostReason,
    Meeting,
    Pipeline,
    Stage,
    StageKind,
    StageVisit,
    SubmissionState,
)
from procedo.work.models import Priority
from procedo.work.services.lifecycle import task_create

NAME_MAX = 100
TEXT_MAX = 200
MESSAGE_MAX = 2000
# The customer hears of a meeting when it is booked and again within this time of it.
REMIND_BEFORE = timedelta(hours=24)
SPEND_FILE_MAX = 1024 * 1024
SPEND_ROWS_MAX = 5000


def _record(
    event_type: str,
    subject: Any,
    *,
    actor: Actor,
    payload: Mapping[str, Any] | None = None,
    customer_id: int | None = None,
    idempotency_key: str | None = None,
) -> None:
    event_record(
        event_type=event_type,
        subject=subject,
        customer_id=customer_id,
        actor=actor,
        payload=payload,
        idempotency_key=idempotency_key,
    )


def _text(field: str, raw: Any, limit: int, *, required: bool = False) -> str:
    """Trimmed text; too long is refused (never cut short), empty refused when required."""
    value = " ".join(str(raw or "").split()) if limit <= TEXT_MAX else str(raw or "").strip()
    if len(value) > limit:
        raise DomainError(
            field=field,
            code="too_large",
            message=_("At most %(n)d characters.") % {"n": limit},
        )
    if required and not value:
        raise DomainError(field=field, message=_("This field is required."))
    return value


def source_clean(raw: Any, *, field: str = "source") -> str:
    """A source as spend and leads share it: lower case, single spaces ("google ads")."""
    return _text(field, raw, SOURCE_MAX, required=True).casefold()


def _user(user_id: int | None, *, field: str = "owner_id") -> int | None:
    if user_id is None:
        return None
    if not User.objects.filter(pk=user_id, is_active=True).exists():
        raise NotFound(field=field, message=_("No active person with id %(id)s.") % {"id": user_id})
    return user_id


# ---------------------------------------------------------------- pipelines


# In the language of whoever installs them (as the SOP library is): the store's own words
# from then on, renamed as it likes.
DEFAULT_STAGES = (
    (gettext_lazy("New"), StageKind.OPEN),
    (gettext_lazy("Needs meeting"), StageKind.OPEN),
    (gettext_lazy("Proposal"), StageKind.OPEN),
    (gettext_lazy("Won"), StageKind.WON),
    # A stage, not the "lost customers" of analytics: its own words beside "Won".
    (pgettext_lazy("deal stage", "Lost"), StageKind.LOST),
)
DEFAULT_LOST_REASONS = (
    gettext_lazy("Too expensive"),
    gettext_lazy("Chose a competitor"),
    gettext_lazy("No answer"),
)


def pipeline_default() -> Pipeline:
    """The first pipeline; a store without one gets "Sales" with the usual stages.

    Installing the defaults is what a data migration would do (as the order pipeline's
    defaults are installed), not anyone's change: it records no event, so a first read
    of the board or the API stays a read.
    """
    pipeline = Pipeline.objects.order_by("position", "id").first()
    if pipeline is not None:
        return pipeline
    with transaction.atomic():
        pipeline, created = Pipeline.objects.get_or_create(name=str(_("Sales")))
        if created:
            Stage.objects.bulk_create(
                Stage(pipeline=pipeline, name=str(name), kind=kind, position=i)
                for i, (name, kind) in enumerate(DEFAULT_STAGES)
            )
            if not LostReason.objects.exists():
                LostReason.objects.bulk_create(
                    LostReason(name=str(name), position=i)
                    for i, name in enumerate(DEFAULT_LOST_REASONS)
                )
    return pipeline


def _pipeline(pipeline_id: int | None) -> Pipeline:
    if pipeline_id is None:
        return pipeline_default()
    pipeline = Pipeline.objects.filter(pk=pipeline_id).first()
    if pipeline is None:
        raise NotFound(field="pipeline_id", message=_("No such pipeline."))
    return pipeline


@transaction.atomic
def pipeline_create(*, name: str, actor: Actor) -> Pipeline:
    """A pipeline with the default stages, to rename and reorder."""
    clean = _text("name", name, NAME_MAX, required=True)
    if Pipeline.objects.filter(name__iexact=clean).exists():
        raise Conflict(field="name", code="duplicate", message=_("A pipeline has this name."))
    position = (Pipeline.objects.aggregate(top=Max("position"))["top"] or 0) + 1
    pipeline = Pipeline.objects.create(name=clean, position=position)
    Stage.objects.bulk_create(
        Stage(pipeline=pipeline, name=str(stage), kind=kind, position=i)
        for i, (stage, kind) in enumerate(DEFAULT_STAGES)
    )
    _record("pipeline.created", pipeline, actor=actor, payload={"name": clean})
    return pipeline


def _stage_name(pipeline_id: int, name: str, *, other_than: int | None = None) -> str:
    clean = _text("name", name, NAME_MAX, required=True)
    taken = Stage.objects.filter(pipeline_id=pipeline_id, name__iexact=clean)
    if other_than is not None:
        taken = taken.exclude(pk=other_than)
    if taken.exists():
        raise Conflict(field="name", code="duplicate", message=_("This pipeline has that stage."))
    return clean


def _kind(kind: str) -> str:
    if kind not in StageKind.values:
        raise DomainError(field="kind", message=_("A stage is open, closed won or closed lost."))
    return kind


@transaction.atomic
def stage_create(*, pipeline_id: int, name: str, kind: str, actor: Actor) -> Stage:
    pipeline = _pipeline(pipeline_id)
    clean = _stage_name(pipeline.pk, name)
    # A new open stage goes before the closing ones; a closing one at the end.
    closing = Stage.objects.filter(pipeline=pipeline).exclude(kind=StageKind.OPEN)
    if _kind(kind) == StageKind.OPEN and closing.exists():
        position = min(closing.values_list("position", flat=True))
        Stage.objects.filter(pipeline=pipeline, position__gte=position).update(
            position=F("position") + 1
        )
    else:
        top = Stage.objects.filter(pipeline=pipeline).aggregate(top=Max("position"))["top"]
        position = -1 if top is None else top
        position += 1
    stage = Stage.objects.create(pipeline=pipeline, name=clean, kind=kind, position=position)
    _record("stage.created", stage, actor=actor, payload={"name": clean, "kind": kind})
    return stage


def _stage(stage_id: int, *, field: str = "stage_id") -> Stage:
    stage = Stage.objects.select_related("pipeline").filter(pk=stage_id).first()
    if stage is None:
        raise NotFound(field=field, message=_("No such stage."))
    return stage


@transaction.atomic
def stage_update(*, stage_id: int, name: str | None, kind: str | None, actor: Actor) -> Stage:
    """Rename a stage or change whether it closes deals won or lost."""
    stage = _stage(stage_id)
    changes: dict[str, Any] = {}
    if name is not None:
        clean = _stage_name(stage.pipeline_id, name, other_than=stage.pk)
        if clean != stage.name:
            changes["name"] = clean
    if kind is not None and _kind(kind) != stage.kind:
        if stage.deals.exists():
            raise Conflict(
                field="kind",
                message=_("Deals stand in this stage; move them before changing its kind."),
            )
        changes["kind"] = kind
    if changes:
        Stage.objects.filter(pk=stage.pk).update(**changes)
        for key, value in changes.items():
            setattr(stage, key, value)
        _record("stage.updated", stage, actor=actor, payload=changes)
    return stage


@transaction.atomic
def stages_reorder(*, pipeline_id: int, stage_ids: Sequence[int], actor: Actor) -> list[Stage]:
    """The pipeline's stages in the order given; every stage of it exactly once."""
    pipeline = _pipeline(pipeline_id)
    current = {stage.pk: stage for stage in Stage.objects.filter(pipeline=pipeline)}
    if sorted(stage_ids) != sorted(current):
        raise DomainError(
            field="stage_ids",
            message=_("Give every stage of this pipeline once, and none of another."),
        )
    moved = []
    for position, pk in enumerate(stage_ids):
        if current[pk].position != position:
            current[pk].position = position
            moved.append(current[pk])
    Stage.objects.bulk_update(moved, ["position"])
    _record("stages.reordered", pipeline, actor=actor, payload={"order": list(stage_ids)})
    return [current[pk] for pk in stage_ids]


@transaction.atomic
def stage_delete(*, stage_id: int, actor: Actor) -> None:
    stage = _stage(stage_id)
    if stage.deals.exists() or stage.visits.exists():
        raise Conflict(
            field="stage_id",
            message=_("Deals stood in this stage; rename it rather than remove it."),
        )
    if not Stage.objects.filter(pipeline_id=stage.pipeline_id).exclude(pk=stage.pk).exists():
        raise Conflict(field="stage_id", message=_("A pipeline keeps at least one stage."))
    _record("stage.deleted", stage, actor=actor, payload={"name": stage.name})
    stage.delete()


@transaction.atomic
def lost_reason_create(*, name: str, actor: Actor) -> LostReason:
    clean = _text("name", name, NAME_MAX, required=True)
    if LostReason.objects.filter(name__iexact=clean).exists():
        raise Conflict(field="name", code="duplicate", message=_("This reason is listed."))
    position = (LostReason.objects.aggregate(top=Max("position"))["top"] or 0) + 1
    reason = LostReason.objects.create(name=clean, position=position)
    _record("lost_reason.created", reason, actor=actor, payload={"name": clean})
    return reason


@transaction.atomic
def lost_reason_set_active(*, reason_id: int, is_active: bool, actor: Actor) -> LostReason:
    """Retire a reason (old deals keep it) or bring it back."""
    reason = LostReason.objects.filter(pk=reason_id).first()
    if reason is None:
        raise NotFound(field="reason_id", message=_("No such lost reason."))
    if reason.is_active != is_active:
        LostReason.objects.filter(pk=reason.pk).update(is_active=is_active)
        reason.is_active = is_active
        _record("lost_reason.updated", reason, actor=actor, payload={"is_active": is_active})
    return reason


@transaction.atomic
def lead_form_create(*, name: str, source: str, actor: Actor) -> LeadForm:
    form = LeadForm.objects.create(
        name=_text("name", name, NAME_MAX, required=True), source=source_clean(source)
    )
    _record("lead_form.created", form, actor=actor, payload={"name": form.name})
    return form


@transaction.atomic
def lead_form_set_active(*, form_id: int, is_active: bool, actor: Actor) -> LeadForm:
    form = LeadForm.objects.filter(pk=form_id).first()
    if form is None:
        raise NotFound(field="form_id", message=_("No such form."))
    if form.is_active != is_active:
        LeadForm.objects.filter(pk=form.pk).update(is_active=is_active)
        form.is_active = is_active
        _record("lead_form.updated", form, actor=actor, payload={"is_active": is_active})
    return form


# ---------------------------------------------------------------- leads


@dataclass(frozen=True)
class LeadIn:
    """A lead as any door brings it (form, API, import, a person)."""

    name: str
    email: str = ""
    phone: str = ""
    company: str = ""
    message: str = ""
    source: str = ""
    utm: Mapping[str, str] | None = None
    consent: bool = False


def _lead_fields(data: LeadIn, *, default_source: str) -> dict[str, Any]:
    email = _text("email", data.email, 254)
    phone = _text("phone", data.phone, 40)
    fields: dict[str, Any] = {
        "name": _text("name", data.name, TEXT_MAX, required=True),
        # Normalised as customers keep them, so qualifying finds the same person.
        "email": normalise.email_normalise(email) if email else "",
        "phone": normalise.phone_normalise(phone).e164 if phone else "",
        "company": _text("company", data.company, TEXT_MAX),
        "message": _text("message", data.message, MESSAGE_MAX),
        "source": source_clean(data.source or default_source),
        "consent": bool(data.consent),
    }
    if not fields["email"] and not fields["phone"]:
        raise DomainError(field="email", message=_("Give an email or a phone to answer on."))
    utm = dict(data.utm or {})
    unknown = set(utm) - set(UTM_FIELDS)
    if unknown:
        raise DomainError(field=sorted(unknown)[0], message=_("Not a UTM parameter."))
    for key in UTM_FIELDS:
        fields[key] = _text(key, utm.get(key, ""), UTM_MAX)
    return fields


def _lead_insert(
    fields: Mapping[str, Any],
    *,
    origin: str,
    owner_id: int | None,
    actor: Actor,
    idempotency_key: str | None,
) -> Lead:
    lead = Lead.objects.create(
        **fields, origin=origin, owner_id=_user(owner_id), idempotency_key=idempotency_key
    )
    _record(
        "lead.created",
        lead,
        actor=actor,
        payload={
            "source": lead.source,
            "origin": origin,
            "utm_campaign": lead.utm_campaign,
            "consent": lead.consent,
        },
    )
    return lead


@idempotent("lead.create", replay=lambda pk: Lead.objects.get(pk=pk))
@transaction.atomic
def lead_create(
    *,
    data: LeadIn,
    origin: str = LeadOrigin.MANUAL,
    owner_id: int | None = None,
    actor: Actor,
    idempotency_key: str | None = None,
) -> Lead:
    if origin not in LeadOrigin.values:
        raise DomainError(field="origin", message=_("No such way for a lead to come."))
    fields = _lead_fields(data, default_source="manual" if origin == LeadOrigin.MANUAL else origin)
    return _lead_insert(
        fields, origin=origin, owner_id=owner_id, actor=actor, idempotency_key=idempotency_key
    )


LEAD_FILE_MAX = 2 * 1024 * 1024
LEAD_ROWS_MAX = 5000


def _csv_rows(content: bytes, *, limit_bytes: int, limit_rows: int, needs: set[str]) -> list[dict]:
    if len(content) > limit_bytes:
        raise TooLarge(
            field="file",
            message=_("At most %(n)d MB.") % {"n": limit_bytes // (1024 * 1024)},
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(field="file", message=_("The file is not UTF-8 text.")) from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not needs <= set(rows[0]):
        raise DomainError(
            field="file",
            message=_("The file needs the columns %(columns)s.")
            % {"columns": ", ".join(sorted(needs))},
        )
    if len(rows) > limit_rows:
        raise TooLarge(field="file", message=_("At most %(n)d rows.") % {"n": limit_rows})
    return rows


def _line_error(line: int, exc: DomainError) -> DomainError:
    return DomainError(
        field="file",
        message=_("Line %(line)d, %(column)s: %(message)s")
        % {"line": line, "column": exc.field, "message": exc.message},
    )


@transaction.atomic
def leads_import(*, content: bytes, actor: Actor) -> int:
    """A CSV of leads (`name` and `email` or `phone`; optionally company, message, source,
    consent and the utm_* columns): every row or none, a bad row named by its line.

    Each row's key is the file's SHA-256 and its line, so sending the same file again
    adds nothing; returns how many leads are new.
    """
    rows = _csv_rows(content, limit_bytes=LEAD_FILE_MAX, limit_rows=LEAD_ROWS_MAX, needs={"name"})
    digest = hashlib.sha256(content).hexdigest()
    created = 0
    for line, row in enumerate(rows, start=2):
        key = f"import:{digest}:{line}"
        if Lead.objects.filter(idempotency_key=key).exists():
            continue
        data = LeadIn(
            name=row.get("name") or "",
            email=row.get("email") or "",
            phone=row.get("phone") or "",
            company=row.get("company") or "",
            message=row.get("message") or "",
            source=row.get("source") or "",
            utm={k: row[k] or "" for k in UTM_FIELDS if k in row},
            consent=(row.get("consent") or "").strip().lower() in ("1", "true", "yes", "так"),
        )
        try:
            fields = _lead_fields(data, default_source="import")
        except DomainError as exc:
            raise _line_error(line, exc) from None
        _lead_insert(
            fields, origin=LeadOrigin.IMPORT, owner_id=None, actor=actor, idempotency_key=key
        )
        created += 1
    return created


FORM_FIELDS = ("name", "email", "phone", "company", "message", "source", "consent", *UTM_FIELDS)
FORM_VALUE_MAX = 4000  # what one field of a stored submission may hold


def lead_form_submit(*, form_key: str, data: Mapping[str, str]) -> LeadSubmission:
    """A shop site's post: stored as it came, then made a lead; a refusal is kept with its
    reason and raised afterwards, so the post is never lost whatever happens to it."""
    form = LeadForm.objects.filter(key=form_key[:64], is_active=True).first()
    if form is None:
        raise NotFound(field="form", message=_("No such form, or it is switched off."))
    payload = {
        key: str(value)[:FORM_VALUE_MAX] for key, value in data.items() if key in FORM_FIELDS
    }
    with transaction.atomic():
        submission = LeadSubmission.objects.create(
            form=form, payload=payload, state=SubmissionState.RECEIVED
        )
        _record("lead_submission.received", submission, actor=None, payload={"form": form.name})
    lead_in = LeadIn(
        name=payload.get("name", ""),
        email=payload.get("email", ""),
        phone=payload.get("phone", ""),
        company=payload.get("company", ""),
        message=payload.get("message", ""),
        source=payload.get("source", ""),
        utm={key: payload[key] for key in UTM_FIELDS if key in payload},
        consent=payload.get("consent", "").strip().lower() in ("1", "true", "yes", "on"),
    )
    try:
        with transaction.atomic():
            lead = _lead_insert(
                _lead_fields(lead_in, default_source=form.source),
                origin=LeadOrigin.FORM,
                owner_id=None,
                actor=None,
                idempotency_key=f"form:{submission.pk}",
            )
            LeadSubmission.objects.filter(pk=submission.pk).update(
                state=SubmissionState.ACCEPTED, lead=lead
            )
    except DomainError as exc:
        LeadSubmission.objects.filter(pk=submission.pk).update(
            state=SubmissionState.REFUSED, error=f"{exc.field}: {exc.message}"[:300]
        )
        raise
    submission.state, submission.lead = SubmissionState.ACCEPTED, lead
    return submission


def _lead(lead_id: int) -> Lead:
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None:
        raise NotFound(field="lead_id", message=_("No such lead."))
    return lead


@transaction.atomic
def lead_contact_log(
    *, lead_id: int, kind: str, note: str, contacted_at: datetime | None, actor: Actor
) -> LeadContact:
    """A call, email or message to the lead; the first one ends its response time."""
    lead = _lead(lead_id)
    if kind not in ContactKind.values:
        raise DomainError(field="kind", message=_("A contact is a call, an email or a message."))
    moment_check(contacted_at, field="contacted_at")
    now = timezone.now()
    at = contacted_at or now
    if at > now + timedelta(minutes=5):
        raise DomainError(field="contacted_at", message=_("A contact cannot be in the future."))
    if at < lead.created_at:
        raise DomainError(
            field="contacted_at", message=_("A contact cannot be before the lead arrived.")
        )
    contact = LeadContact.objects.create(
        lead=lead,
        kind=kind,
        note=_text("note", note, LONG_TEXT),
        contacted_at=at,
        actor=actor_person(actor),
    )
    changes: dict[str, Any] = {}
    if lead.first_contact_at is None or at < lead.first_contact_at:
        changes["first_contact_at"] = at
    if lead.status == LeadStatus.NEW:
        changes["status"] = LeadStatus.CONTACTED
    if changes:
        Lead.objects.filter(pk=lead.pk).update(**changes)
    _record(
        "lead.contacted",
        lead,
        actor=actor,
        customer_id=lead.customer_id,
        payload={"kind": kind, "first": "first_contact_at" in changes},
    )
    return contact


@transaction.atomic
def lead_disqualify(*, lead_id: int, actor: Actor) -> Lead:
    lead = _lead(lead_id)
    if lead.status == LeadStatus.QUALIFIED:
        raise Conflict(field="status", message=_("The lead is a deal already."))
    if lead.status != LeadStatus.DISQUALIFIED:
        Lead.objects.filter(pk=lead.pk).update(status=LeadStatus.DISQUALIFIED)
        lead.status = LeadStatus.DISQUALIFIED
        _record("lead.disqualified", lead, actor=actor)
    return lead


def _first_open_stage(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(kind=StageKind.OPEN).order_by("position", "id").first()
    if stage is None:
        raise Conflict(field="pipeline_id", message=_("This pipeline has no open stage."))
    return stage


@idempotent("lead.qualify", replay=lambda pk: Deal.objects.get(pk=pk))
@transaction.atomic
def lead_qualify(
    *,
    lead_id: int,
    pipeline_id: int | None = None,
    title: str = "",
    value: Any = "0",
    expected_close_on: date | None = None,
    owner_id: int | None = None,
    actor: Actor,
    idempotency_key: str | None = None,
) -> Deal:
    """The lead becomes a deal for the customer it is (found by email or phone, or new)."""
    lead = _lead(lead_id)
    if lead.status == LeadStatus.QUALIFIED:
        raise Conflict(field="lead_id", message=_("The lead is a deal already."))
    if lead.status == LeadStatus.DISQUALIFIED:
        raise Conflict(field="lead_id", message=_("The lead was disqualified."))
    first, _sep, last = lead.name.partition(" ")
    consent = ConsentState.GRANTED if lead.consent else None
    match = customer_find_or_create(
        email=lead.email,
        phone=lead.phone,
        first_name=first,
        last_name=last,
        company=lead.company,
        source=lead.source[:60],
        email_consent=consent if lead.email else None,
        phone_consent=consent if lead.phone else None,
        consent_source=f"lead {lead.pk}",
        actor=actor,
    )
    now = timezone.now()
    Lead.objects.filter(pk=lead.pk, status=lead.status).update(
        status=LeadStatus.QUALIFIED, customer=match.customer, qualified_at=now
    )
    deal = _deal_insert(
        customer=match.customer,
        pipeline=_pipeline(pipeline_id),
        title=title or lead.company or lead.name,
        value=value,
        expected_close_on=expected_close_on,
        # Whoever qualifies a lead nobody owned takes it on.
        owner_id=owner_id or lead.owner_id or actor_id_of(actor),
        lead=lead,
        actor=actor,
        idempotency_key=idempotency_key,
    )
    _record(
        "lead.qualified",
        lead,
        actor=actor,
        customer_id=match.customer.pk,
        payload={"deal_id": deal.pk, "new_customer": match.created},
    )
    return deal


# ---------------------------------------------------------------- deals


def _deal_insert(
    *,
    customer: Customer,
    pipeline: Pipeline,
    title: str,
    value: Any,
    expected_close_on: date | None,
    owner_id: int | None,
    lead: Lead | None,
    actor: Actor,
    idempotency_key: str | None,
) -> Deal:
    currency = business_get().currency
    moment_check(expected_close_on, field="expected_close_on")
    stage = _first_open_stage(pipeline)
    now = timezone.now()
    deal = Deal.objects.create(
        title=_text("title", title, TEXT_MAX, required=True),
        pipeline=pipeline,
        stage=stage,
        customer=customer,
        lead=lead,
        value=amount_clean(value, currency, field="value"),
        currency=currency,
        expected_close_on=expected_close_on,
        owner_id=_user(owner_id),
        created_at=now,
        stage_entered_at=now,
        idempotency_key=idempotency_key,
    )
    StageVisit.objects.create(deal=deal, stage=stage, entered_at=now, actor=actor_person(actor))
    _record(
        "deal.created",
        deal,
        actor=actor,
        customer_id=customer.pk,
        payload={"stage": stage.pk, "value": str(deal.value), "currency": currency},
    )
    return deal


@idempotent("deal.create", replay=lambda pk: Deal.objects.get(pk=pk))
@transaction.atomic
def deal_create(
    *,
    customer_id: int,
    title: str,
    pipeline_id: int | None = None,
    value: Any = "0",
    expected_close_on: date | None = None,
    owner_id: int | None = None,
    actor: Actor,
    idempotency_key: str | None = None,
) -> Deal:
    customer = Customer.objects.filter(pk=customer_id, merged_into__isnull=True).first()
    if customer is None:
        raise NotFound(field="customer_id", message=_("No such customer."))
    return _deal_insert(
        customer=customer,
        pipeline=_pipeline(pipeline_id),
        title=title,
        value=value,
        expected_close_on=expected_close_on,
        owner_id=owner_id,
        lead=None,
        actor=actor,
        idempotency_key=idempotency_key,
    )


def _deal(deal_id: int) -> Deal:
    deal = Deal.objects.select_related("stage", "pipeline").filter(pk=deal_id).first()
    if deal is None:
        raise NotFound(field="deal_id", message=_("No such deal."))
    return deal


_UNSET: Any = object()


@transaction.atomic
def deal_update(
    *,
    deal_id: int,
    actor: Actor,
    title: str | None = None,
    value: Any = None,
    expected_close_on: date | None = _UNSET,
    owner_id: int | None = _UNSET,
) -> Deal:
    """Change what is given; the rest stays."""
    deal = _deal(deal_id)
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = _text("title", title, TEXT_MAX, required=True)
    if value is not None:
        changes["value"] = amount_clean(value, deal.currency, field="value")
    if expected_close_on is not _UNSET:
        moment_check(expected_close_on, field="expected_close_on")
        changes["expected_close_on"] = expected_close_on
    if owner_id is not _UNSET:
        changes["owner_id"] = _user(owner_id)
    changes = {key: v for key, v in changes.items() if getattr(deal, key) != v}
    if changes:
        Deal.objects.filter(pk=deal.pk).update(**changes)
        for key, v in changes.items():
            setattr(deal, key, v)
        _record(
            "deal.updated",
            deal,
            actor=actor,
            customer_id=deal.customer_id,
            payload={key: str(v) if v is not None else None for key, v in changes.items()},
        )
    return deal


@idempotent("deal.move", replay=lambda pk: Deal.objects.get(pk=pk))
@transaction.atomic
def deal_move(
    *,
    deal_id: int,
    stage_id: int,
    lost_reason_id: int | None = None,
    lost_note: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
) -> Deal:
    """Move a deal to a stage of its own pipeline; into a lost stage only with a reason."""
    deal = _deal(deal_id)
    stage = _stage(stage_id)
    if stage.pipeline_id != deal.pipeline_id:
        raise DomainError(
            field="stage_id",
            code="transition_not_allowed",
            message=_("The stage %(stage)s is in another pipeline (%(pipeline)s).")
            % {"stage": stage.name, "pipeline": stage.pipeline.name},
        )
    reason = None
    if stage.kind == StageKind.LOST:
        if lost_reason_id is None:
            raise DomainError(
                field="lost_reason_id", message=_("Say why the deal was lost: choose a reason.")
            )
        reason = LostReason.objects.filter(pk=lost_reason_id, is_active=True).first()
        if reason is None:
            raise DomainError(field="lost_reason_id", message=_("Choose a listed reason."))
    note = _text("lost_note", lost_note, 500) if reason else ""
    if stage.pk == deal.stage_id and reason is None:
        return deal  # a double click or a drop where it stood: nothing moves
    from_stage = deal.stage
    now = timezone.now()
    closed_at = None if stage.kind == StageKind.OPEN else (deal.closed_at or now)
    if from_stage.kind == StageKind.OPEN and stage.kind != StageKind.OPEN:
        closed_at = now
    changed = Deal.objects.filter(pk=deal.pk, stage_id=from_stage.pk).update(
        stage=stage,
        stage_entered_at=now,
        closed_at=closed_at,
        lost_reason=reason,
        lost_note=note,
    )
    if changed != 1:
        raise Conflict(field="stage_id", code="stale", message=_("The deal moved meanwhile."))
    StageVisit.objects.filter(deal=deal, left_at__isnull=True).update(left_at=now)
    # The stay's length in whole seconds, written once so reports sum a plain integer.
    for visit in StageVisit.objects.filter(deal=deal, left_at=now, seconds__isnull=True):
        StageVisit.objects.filter(pk=visit.pk).update(
            seconds=int((now - visit.entered_at).total_seconds())
        )
    StageVisit.objects.create(deal=deal, stage=stage, entered_at=now, actor=actor_person(actor))
    payload = {
        "from": from_stage.pk,
        "to": stage.pk,
        "from_name": from_stage.name,
        "to_name": stage.name,
        "pipeline": deal.pipeline_id,
        "kind": stage.kind,
    }
    _record(
        "deal.stage_changed",
        deal,
        actor=actor,
        customer_id=deal.customer_id,
        payload=payload,
        idempotency_key=idempotency_key,
    )
    if stage.kind != from_stage.kind and stage.kind == StageKind.WON:
        _record(
            "deal.won",
            deal,
            actor=actor,
            customer_id=deal.customer_id,
            payload={"value": str(deal.value), "currency": deal.currency},
        )
    if stage.kind != from_stage.kind and stage.kind == StageKind.LOST and reason is not None:
        _record(
            "deal.lost",
            deal,
            actor=actor,
            customer_id=deal.customer_id,
            payload={"reason": reason.pk, "reason_name": reason.name},
        )
    deal.stage, deal.stage_entered_at, deal.closed_at = stage, now, closed_at
    deal.lost_reason, deal.lost_note = reason, note
    return deal


# ---------------------------------------------------------------- meetings


def _reachable(customer_id: int) -> tuple[str, str] | None:
    """(channel, address) of the customer's identity that agreed to hear from us, if any."""
    identity = (
        Identity.objects.filter(customer_id=customer_id, marketing_consent=ConsentState.GRANTED)
        .order_by("kind", "pk")  # email before phone
        .values_list("kind", "value")
        .first()
    )
    if identity is None:
        return None
    kind, value = identity
    return (Channel.EMAIL if kind == IdentityKind.EMAIL else Channel.SMS), value


def _when(moment: datetime) -> str:
    local = timezone.localtime(moment, business_get().zone)
    return formats.date_format(local, "DATETIME_FORMAT")


def _meeting_message(meeting: Meeting, deal: Deal, *, key: str, reminder: bool) -> None:
    reach = _reachable(deal.customer_id)
    if reach is None:
        return
    channel, address = reach
    business = business_get()
    # In the store's language (dates too), whoever booked it; the worker sends reminders.
    with translation.override(business.language):
        text = (
            _("A reminder: our meeting about %(title)s is at %(when)s. — %(business)s")
            if reminder
            else _("Our meeting about %(title)s is booked for %(when)s. — %(business)s")
        ) % {"title": deal.title, "when": _when(meeting.starts_at), "business": business.name}
        subject = _("Meeting at %(when)s") % {"when": _when(meeting.starts_at)}
    message_queue(
        channel=channel,
        recipient=address,
        subject=subject,
        body=text,
        customer_id=deal.customer_id,
        source=f"deal:{deal.pk}",
        idempotency_key=key,
    )


def _owner_notify(meeting: Meeting, deal: Deal, *, key: str, owner_id: int | None) -> None:
    if owner_id is None:
        return
    notify(
        recipient_ids=[owner_id],
        kind=NotificationKind.ASSIGNED,
        title=_("Meeting on %(title)s at %(when)s")
        % {"title": deal.title, "when": _when(meeting.starts_at)},
        url=reverse("sales:deal", args=[deal.pk]),
        subject_type="deal",
        subject_id=deal.pk,
        key=key,
    )


@idempotent("meeting.book", replay=lambda pk: Meeting.objects.get(pk=pk))
@transaction.atomic
def meeting_book(
    *,
    deal_id: int,
    starts_at: datetime,
    title: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
) -> Meeting:
    """A meeting on a deal: a task at its time for the owner, a word to the customer."""
    deal = _deal(deal_id)
    moment_check(starts_at, field="starts_at")
    if starts_at <= timezone.now():
        raise DomainError(field="starts_at", message=_("A meeting is booked in the future."))
    if deal.closed_at is not None:
        raise Conflict(field="deal_id", message=_("The deal is closed."))
    clean = _text("title", title, TEXT_MAX) or _("Meeting: %(title)s") % {"title": deal.title}
    meeting = Meeting.objects.create(deal=deal, title=clean, starts_at=starts_at)
    owner_id = deal.owner_id or actor_id_of(actor)
    task = task_create(
        title=clean,
        actor=actor,
        subject_type="deal",
        subject_id=deal.pk,
        customer_id=deal.customer_id,
        assignee_user_id=owner_id,
        assignee_role="" if owner_id else "manager",
        due_at=starts_at,
        priority=Priority.HIGH,
        idempotency_key=f"meeting:{meeting.pk}:task",
    )
    Meeting.objects.filter(pk=meeting.pk).update(task_id=task.pk)
    meeting.task_id = task.pk
    _record(
        "meeting.booked",
        deal,
        actor=actor,
        customer_id=deal.customer_id,
        payload={"meeting": meeting.pk, "starts_at": starts_at.isoformat(), "task": task.pk},
    )
    _meeting_message(meeting, deal, key=f"meeting:{meeting.pk}:booked", reminder=False)
    _owner_notify(meeting, deal, key=f"meeting:{meeting.pk}:booked", owner_id=owner_id)
    return meeting


@transaction.atomic
def meeting_reminders_send(*, now: datetime | None = None) -> int:
    """Remind both sides of the meetings starting within REMIND_BEFORE, once each.

    The claim is one UPDATE of the rows not reminded yet; a second worker running
    the same sweep claims nothing, and the message and notification keys make a
    retry after a crash send nothing twice.
    """
    now = now or timezone.now()
    due = list(
        Meeting.objects.filter(
            reminded_at__isnull=True, starts_at__gt=now, starts_at__lte=now + REMIND_BEFORE
        ).values_list("pk", flat=True)[:500]
    )
    claimed = Meeting.objects.filter(pk__in=due, reminded_at__isnull=True).update(reminded_at=now)
    if not claimed:
        return 0
    meetings = Meeting.objects.filter(pk__in=due, reminded_at=now).select_related("deal")
    for meeting in meetings:
        deal = meeting.deal
        if deal.closed_at is not None:
            continue
        key = f"meeting:{meeting.pk}:reminder"
        _meeting_message(meeting, deal, key=key, reminder=True)
        _owner_notify(meeting, deal, key=key, owner_id=deal.owner_id)
        _record(
            "meeting.reminded",
            deal,
            actor=None,
            customer_id=deal.customer_id,
            payload={"meeting": meeting.pk},
        )
    return claimed


# ---------------------------------------------------------------- channel spend


def _month(value: date | str, *, field: str = "month") -> date:
    if isinstance(value, str):
        try:
            year, month = (int(part) for part in value.strip()[:7].split("-"))
            value = date(year, month, 1)
        except ValueError:
            raise DomainError(field=field, message=_("A month is written 2026-11.")) from None
    moment_check(value, field=field)
    return value.replace(day=1)


@transaction.atomic
def spend_set(*, source: str, month: date | str, amount: Any, actor: Actor) -> ChannelSpend:
    """What a source cost in a month (entered again: replaced)."""
    currency = business_get().currency
    clean_source = source_clean(source)
    first_day = _month(month)
    clean_amount = amount_clean(amount, currency, field="amount")
    spend, _created = ChannelSpend.objects.update_or_create(
        source=clean_source,
        month=first_day,
        defaults={"amount": clean_amount, "currency": currency, "updated_at": timezone.now()},
    )
    _record(
        "spend.set",
        spend,
        actor=actor,
        payload={
            "source": clean_source,
            "month": first_day.isoformat(),
            "amount": str(clean_amount),
            "currency": currency,
        },
    )
    return spend


def spend_import(*, content: bytes, actor: Actor) -> int:
    """A CSV of `source,month,amount` rows (a header first): every row or none.

    A bad row is refused naming its line and column, so the file is fixed and
    sent again; a row for a month already entered replaces it.
    """
    rows = _csv_rows(
        content,
        limit_bytes=SPEND_FILE_MAX,
        limit_rows=SPEND_ROWS_MAX,
        needs={"source", "month", "amount"},
    )
    with transaction.atomic():
        for line, row in enumerate(rows, start=2):
            try:
                spend_set(
                    source=row["source"] or "",
                    month=row["month"] or "",
                    amount=(row["amount"] or "").strip(),
                    actor=actor,
                )
            except DomainError as exc:
                raise _line_error(line, exc) from None
    return len(rows)


def deals_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """A merge of customers: the duplicate's deals and leads become the survivor's
    (run inside the merge's transaction, which records its event)."""
    moved = Deal.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
    return moved + Lead.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
