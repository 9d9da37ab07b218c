"""Leads: created, imported from a file, submitted by a form; contacted, qualified
(into a deal) or disqualified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.core.actors import actor_id_of
from procedo.core.bounds import LONG_TEXT, moment_check
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.customers import normalise
from procedo.customers.models import ConsentState
from procedo.customers.services.customers import customer_find_or_create
from procedo.sales.models import (
    UTM_FIELDS,
    UTM_MAX,
    ContactKind,
    Deal,
    Lead,
    LeadContact,
    LeadForm,
    LeadOrigin,
    LeadStatus,
    LeadSubmission,
    SubmissionState,
)
from procedo.sales.services._common import (
    TEXT_MAX,
    _csv_rows,
    _line_error,
    _record,
    _text,
    _user,
    source_clean,
)
from procedo.sales.services.deals import _deal_insert
from procedo.sales.services.pipelines import _pipeline

MESSAGE_MAX = 2000


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
