"""The sales REST endpoints: thin over the sales services and selectors.

Errors have one shape, {"detail", "field", "code"}: a lost deal without a reason, a
stage of another pipeline, a negative spend or a UTM value over 200 characters is a
422 naming the field, and nothing is changed.

Over 600 lines on purpose: one router (one tag in the API document) whose thin endpoints
each mirror a service, with the schemas they answer in beside them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from django.urls import reverse
from ninja import Field, File, Query, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.core.bounds import (
    PAGE_LIMIT_DEFAULT,
    Amount,
    Cursor,
    Day,
    EmailText,
    Id,
    LongText,
    Moment,
    PageLimit,
    PathId,
    PhoneText,
    ShortText,
)
from procedo.core.errors import DomainError, NotFound
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import Schema
from procedo.sales import selectors
from procedo.sales.models import (
    SOURCE_MAX,
    UTM_MAX,
    ChannelSpend,
    ContactKind,
    Deal,
    Lead,
    LeadForm,
    LeadOrigin,
    LeadStatus,
    LostReason,
    Pipeline,
    Stage,
    StageKind,
)
from procedo.sales.services import deals as deal_services
from procedo.sales.services import leads as lead_services
from procedo.sales.services import meetings as meeting_services
from procedo.sales.services import pipelines as pipeline_services
from procedo.sales.services import spend as spend_services

router = Router(tags=["sales"])
VIEW, CHANGE, CONFIGURE = "sales.view", "sales.change", "sales.configure"
Utm = Annotated[str, Field(max_length=UTM_MAX)]
Source = Annotated[str, Field(max_length=SOURCE_MAX)]
Name = Annotated[str, Field(min_length=1, max_length=100)]


# --- output -----------------------------------------------------------------------------------


class StageOut(Schema):
    id: int
    name: str
    kind: str
    position: int


class SalesPipelineOut(Schema):
    id: int
    name: str
    stages: list[StageOut]


class LostReasonOut(Schema):
    id: int
    name: str
    is_active: bool


class LeadOut(Schema):
    id: int
    name: str
    email: str
    phone: str
    company: str
    message: str
    origin: str
    source: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    consent: bool
    status: str
    owner_id: int | None
    customer_id: int | None
    created_at: datetime
    first_contact_at: datetime | None
    deal_id: int | None = None


class LeadPageOut(Schema):
    items: list[LeadOut]
    next_cursor: str | None


class ContactOut(Schema):
    id: int
    kind: str
    note: str
    contacted_at: datetime


class StayOut(Schema):
    stage_id: int
    stage: str
    entered_at: datetime
    left_at: datetime | None
    seconds: int | None


class DealOut(Schema):
    id: int
    title: str
    pipeline_id: int
    stage_id: int
    stage: str
    stage_kind: str
    customer_id: int
    lead_id: int | None
    value: Decimal
    currency: str
    expected_close_on: date | None
    owner_id: int | None
    lost_reason_id: int | None
    lost_note: str
    created_at: datetime
    stage_entered_at: datetime
    closed_at: datetime | None


class DealDetailOut(DealOut):
    history: list[StayOut]


class DealPageOut(Schema):
    items: list[DealOut]
    next_cursor: str | None


class ColumnOut(Schema):
    stage: StageOut
    count: int
    value: Decimal
    deals: list[DealOut]


class BoardOut(Schema):
    pipeline_id: int
    currency: str
    columns: list[ColumnOut]


class StageTimeOut(Schema):
    stage: StageOut
    stays: int
    average_hours: Decimal | None
    now_in: int


class MeetingOut(Schema):
    id: int
    deal_id: int
    title: str
    starts_at: datetime
    task_id: int | None


class FormOut(Schema):
    id: int
    name: str
    key: str
    source: str
    is_active: bool
    url: str


class SpendOut(Schema):
    id: int
    source: str
    month: str
    amount: Decimal
    currency: str


class AcquisitionOut(Schema):
    source: str
    spend: Decimal
    leads: int
    customers: int
    cost_per_lead: Decimal | None
    cac: Decimal | None
    currency: str


def _lead_out(lead: Lead) -> dict[str, Any]:
    out = {name: getattr(lead, name) for name in LeadOut.model_fields if name != "deal_id"}
    deal = Deal.objects.filter(lead_id=lead.pk).values_list("pk", flat=True).first()
    return {**out, "deal_id": deal}


def _deal_out(deal: Deal) -> dict[str, Any]:
    fields = {name: getattr(deal, name) for name in DealOut.model_fields if hasattr(deal, name)}
    return {**fields, "stage": deal.stage.name, "stage_kind": deal.stage.kind}


def _stage_out(stage: Stage) -> dict[str, Any]:
    return {"id": stage.pk, "name": stage.name, "kind": stage.kind, "position": stage.position}


def _pipeline_out(pipeline: Pipeline) -> dict[str, Any]:
    stages = pipeline.stages.order_by("position", "id")
    return {"id": pipeline.pk, "name": pipeline.name, "stages": [_stage_out(s) for s in stages]}


def _spend_out(spend: ChannelSpend) -> dict[str, Any]:
    return {
        "id": spend.pk,
        "source": spend.source,
        "month": spend.month.strftime("%Y-%m"),
        "amount": spend.amount,
        "currency": spend.currency,
    }


def _form_out(request: ApiRequest, form: LeadForm) -> dict[str, Any]:
    url = request.build_absolute_uri(reverse("sales:form-submit", args=[form.key]))
    return {
        "id": form.pk,
        "name": form.name,
        "key": form.key,
        "source": form.source,
        "is_active": form.is_active,
        "url": url,
    }


# --- leads ------------------------------------------------------------------------------------


class LeadQuery(Schema):
    status: LeadStatus | None = None
    source: Source = ""
    owner: Id | None = None
    q: ShortText = ""
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


class UtmIn(Schema):
    utm_source: Utm = ""
    utm_medium: Utm = ""
    utm_campaign: Utm = ""
    utm_term: Utm = ""
    utm_content: Utm = ""


class LeadIn(UtmIn):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailText = ""
    phone: PhoneText = ""
    company: ShortText = ""
    message: Annotated[str, Field(max_length=lead_services.MESSAGE_MAX)] = ""
    source: Source = ""
    consent: bool = False
    owner_id: Id | None = None


@router.get("/leads", response=LeadPageOut, auth=requires_api(VIEW))
def lead_list(request: ApiRequest, filters: Query[LeadQuery]) -> dict[str, Any]:
    """Newest first; filter by `status`, `source`, `owner`, `q` (name, email, phone, company)."""
    page = selectors.leads_list(
        filters=selectors.LeadFilters(
            status=filters.status or "",
            source=filters.source,
            owner_id=filters.owner,
            q=filters.q,
        ),
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return {"items": [_lead_out(lead) for lead in page.items], "next_cursor": page.next_cursor}


@router.post("/leads", response={201: LeadOut}, auth=requires_api(CHANGE))
def lead_create(
    request: ApiRequest, payload: LeadIn, idempotency_key: str | None = idempotency_header()
) -> Status[Any]:
    """A lead from a program (origin `api`); its source defaults to `api`."""
    lead = lead_services.lead_create(
        data=lead_services.LeadIn(
            name=payload.name,
            email=payload.email,
            phone=payload.phone,
            company=payload.company,
            message=payload.message,
            source=payload.source,
            utm={key: getattr(payload, key) for key in UtmIn.model_fields},
            consent=payload.consent,
        ),
        origin=LeadOrigin.API,
        owner_id=payload.owner_id,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, _lead_out(lead))


class LeadsImportedOut(Schema):
    created: int


@router.post("/leads/import", response=LeadsImportedOut, auth=requires_api(CHANGE))
def leads_import(request: ApiRequest, file: File[UploadedFile]) -> dict[str, Any]:
    """A CSV of leads (`name`, `email` or `phone`, optionally `company`, `message`, `source`,
    `consent`, `utm_*`): all rows or none, a bad row is a 422 naming its line; the same file
    sent again adds nothing."""
    created = lead_services.leads_import(
        content=file.read(lead_services.LEAD_FILE_MAX + 1), actor=request.auth
    )
    return {"created": created}


def _lead(lead_id: int) -> Lead:
    lead = selectors.lead_detail(lead_id=lead_id)
    if lead is None:
        raise NotFound(field="lead_id", message="no such lead")
    return lead


@router.get("/leads/{lead_id}", response=LeadOut, auth=requires_api(VIEW))
def lead_detail(request: ApiRequest, lead_id: PathId) -> dict[str, Any]:
    return _lead_out(_lead(lead_id))


@router.get("/leads/{lead_id}/contacts", response=list[ContactOut], auth=requires_api(VIEW))
def lead_contact_list(request: ApiRequest, lead_id: PathId) -> list[Any]:
    return list(_lead(lead_id).contacts.order_by("contacted_at", "id"))


class ContactIn(Schema):
    kind: ContactKind
    note: LongText = ""
    contacted_at: Moment | None = None


@router.post("/leads/{lead_id}/contacts", response={201: ContactOut}, auth=requires_api(CHANGE))
def lead_contact_log(request: ApiRequest, lead_id: PathId, payload: ContactIn) -> Status[Any]:
    """A call, email or message to the lead; the first ends its response time."""
    contact = lead_services.lead_contact_log(
        lead_id=lead_id,
        kind=payload.kind,
        note=payload.note,
        contacted_at=payload.contacted_at,
        actor=request.auth,
    )
    return Status(201, contact)


class QualifyIn(Schema):
    pipeline_id: Id | None = None
    title: ShortText = ""
    value: Amount = Decimal(0)
    expected_close_on: Day | None = None
    owner_id: Id | None = None


@router.post("/leads/{lead_id}/qualify", response={201: DealOut}, auth=requires_api(CHANGE))
def lead_qualify(
    request: ApiRequest,
    lead_id: PathId,
    payload: QualifyIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[Any]:
    """The lead becomes a deal in the first open stage, for the customer it is (matched by
    email or phone through the customers' normalisation, or created)."""
    deal = lead_services.lead_qualify(
        lead_id=lead_id,
        pipeline_id=payload.pipeline_id,
        title=payload.title,
        value=payload.value,
        expected_close_on=payload.expected_close_on,
        owner_id=payload.owner_id,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, _deal_out(deal))


@router.post("/leads/{lead_id}/disqualify", response=LeadOut, auth=requires_api(CHANGE))
def lead_disqualify(request: ApiRequest, lead_id: PathId) -> dict[str, Any]:
    return _lead_out(lead_services.lead_disqualify(lead_id=lead_id, actor=request.auth))


# --- deals ------------------------------------------------------------------------------------


class DealQuery(Schema):
    pipeline: Id | None = None
    stage: Id | None = None
    owner: Id | None = None
    state: StageKind | None = None
    q: ShortText = ""
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


@router.get("/deals", response=DealPageOut, auth=requires_api(VIEW))
def deal_list(request: ApiRequest, filters: Query[DealQuery]) -> dict[str, Any]:
    """Newest first; filter by `pipeline`, `stage`, `owner`, `state` (open, won, lost), `q`."""
    page = selectors.deals_list(
        filters=selectors.DealFilters(
            pipeline_id=filters.pipeline,
            stage_id=filters.stage,
            owner_id=filters.owner,
            state=filters.state or "",
            q=filters.q,
        ),
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return {"items": [_deal_out(deal) for deal in page.items], "next_cursor": page.next_cursor}


class DealIn(Schema):
    customer_id: Id
    title: Annotated[str, Field(min_length=1, max_length=200)]
    pipeline_id: Id | None = None
    value: Amount = Decimal(0)
    expected_close_on: Day | None = None
    owner_id: Id | None = None


@router.post("/deals", response={201: DealOut}, auth=requires_api(CHANGE))
def deal_create(
    request: ApiRequest, payload: DealIn, idempotency_key: str | None = idempotency_header()
) -> Status[Any]:
    deal = deal_services.deal_create(
        customer_id=payload.customer_id,
        title=payload.title,
        pipeline_id=payload.pipeline_id,
        value=payload.value,
        expected_close_on=payload.expected_close_on,
        owner_id=payload.owner_id,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, _deal_out(deal))


@router.get("/deals/{deal_id}", response=DealDetailOut, auth=requires_api(VIEW))
def deal_detail(request: ApiRequest, deal_id: PathId) -> dict[str, Any]:
    """The deal with its stage history (every stay, oldest first)."""
    deal = selectors.deal_detail(deal_id=deal_id)
    if deal is None:
        raise NotFound(field="deal_id", message="no such deal")
    history = [
        {
            "stage_id": visit.stage_id,
            "stage": visit.stage.name,
            "entered_at": visit.entered_at,
            "left_at": visit.left_at,
            "seconds": visit.seconds,
        }
        for visit in deal.visits.all()
    ]
    return {**_deal_out(deal), "history": history}


class DealUpdateIn(Schema):
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    value: Amount | None = None
    expected_close_on: Day | None = None
    owner_id: Id | None = None


@router.patch("/deals/{deal_id}", response=DealOut, auth=requires_api(CHANGE))
def deal_update(request: ApiRequest, deal_id: PathId, payload: DealUpdateIn) -> dict[str, Any]:
    """Change the fields sent (null clears the expected close date or the owner)."""
    sent = payload.model_fields_set
    extra: dict[str, Any] = {}
    if "expected_close_on" in sent:
        extra["expected_close_on"] = payload.expected_close_on
    if "owner_id" in sent:
        extra["owner_id"] = payload.owner_id
    deal = deal_services.deal_update(
        deal_id=deal_id, title=payload.title, value=payload.value, actor=request.auth, **extra
    )
    return _deal_out(deal)


class MoveIn(Schema):
    stage_id: Id
    lost_reason_id: Id | None = None
    lost_note: Annotated[str, Field(max_length=500)] = ""


@router.post("/deals/{deal_id}/stage", response=DealOut, auth=requires_api(CHANGE))
def deal_move(
    request: ApiRequest,
    deal_id: PathId,
    payload: MoveIn,
    idempotency_key: str | None = idempotency_header(),
) -> dict[str, Any]:
    """Move to a stage of the deal's own pipeline (422 naming `stage_id` otherwise); a lost
    stage needs `lost_reason_id` from the managed list (422 naming it)."""
    deal = deal_services.deal_move(
        deal_id=deal_id,
        stage_id=payload.stage_id,
        lost_reason_id=payload.lost_reason_id,
        lost_note=payload.lost_note,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return _deal_out(deal)


class MeetingIn(Schema):
    starts_at: Moment
    title: ShortText = ""


@router.post("/deals/{deal_id}/meetings", response={201: MeetingOut}, auth=requires_api(CHANGE))
def meeting_book(
    request: ApiRequest,
    deal_id: PathId,
    payload: MeetingIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[Any]:
    """A meeting: a task at its time for the deal's owner, a message to the customer if they
    agreed to hear from us, and a reminder to both within 24 hours of it."""
    meeting = meeting_services.meeting_book(
        deal_id=deal_id,
        starts_at=payload.starts_at,
        title=payload.title,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, meeting)


# --- pipelines --------------------------------------------------------------------------------


@router.get("/pipelines", response=list[SalesPipelineOut], auth=requires_api(VIEW))
def pipeline_list(request: ApiRequest) -> list[dict[str, Any]]:
    pipeline_services.pipeline_default()
    return [_pipeline_out(pipeline) for pipeline in selectors.pipelines()]


class PipelineIn(Schema):
    name: Name


@router.post("/pipelines", response={201: SalesPipelineOut}, auth=requires_api(CONFIGURE))
def pipeline_create(request: ApiRequest, payload: PipelineIn) -> Status[Any]:
    pipeline = pipeline_services.pipeline_create(name=payload.name, actor=request.auth)
    return Status(201, _pipeline_out(pipeline))


def _pipeline(pipeline_id: int) -> Pipeline:
    pipeline = Pipeline.objects.filter(pk=pipeline_id).first()
    if pipeline is None:
        raise NotFound(field="pipeline_id", message="no such pipeline")
    return pipeline


@router.get("/pipelines/{pipeline_id}/board", response=BoardOut, auth=requires_api(VIEW))
def board_get(request: ApiRequest, pipeline_id: PathId) -> dict[str, Any]:
    """Each stage with its count, value and newest cards (at most 100 a column)."""
    board = selectors.board(pipeline=_pipeline(pipeline_id))
    return {
        "pipeline_id": board.pipeline.pk,
        "currency": board.currency,
        "columns": [
            {
                "stage": _stage_out(column.stage),
                "count": column.count,
                "value": column.value,
                "deals": [_deal_out(deal) for deal in column.deals],
            }
            for column in board.columns
        ],
    }


@router.get(
    "/pipelines/{pipeline_id}/cycle-times", response=list[StageTimeOut], auth=requires_api(VIEW)
)
def stage_cycle_times(request: ApiRequest, pipeline_id: PathId) -> list[dict[str, Any]]:
    """How long deals stay in each stage (hours, over the stays that ended)."""
    return [
        {
            "stage": _stage_out(row.stage),
            "stays": row.stays,
            "average_hours": row.average_hours,
            "now_in": row.now_in,
        }
        for row in selectors.stage_cycle_times(pipeline=_pipeline(pipeline_id))
    ]


class StageIn(Schema):
    name: Name
    kind: StageKind = StageKind.OPEN


@router.post(
    "/pipelines/{pipeline_id}/stages", response={201: StageOut}, auth=requires_api(CONFIGURE)
)
def stage_create(request: ApiRequest, pipeline_id: PathId, payload: StageIn) -> Status[Any]:
    stage = pipeline_services.stage_create(
        pipeline_id=pipeline_id, name=payload.name, kind=payload.kind, actor=request.auth
    )
    return Status(201, _stage_out(stage))


class StageOrderIn(Schema):
    stage_ids: Annotated[list[Id], Field(min_length=1, max_length=50)]


@router.put(
    "/pipelines/{pipeline_id}/stage-order", response=list[StageOut], auth=requires_api(CONFIGURE)
)
def stages_reorder(
    request: ApiRequest, pipeline_id: PathId, payload: StageOrderIn
) -> list[dict[str, Any]]:
    """Every stage of the pipeline once, in the new order."""
    stages = pipeline_services.stages_reorder(
        pipeline_id=pipeline_id, stage_ids=payload.stage_ids, actor=request.auth
    )
    return [_stage_out(stage) for stage in stages]


class StageUpdateIn(Schema):
    name: Name | None = None
    kind: StageKind | None = None


@router.patch("/stages/{stage_id}", response=StageOut, auth=requires_api(CONFIGURE))
def stage_update(request: ApiRequest, stage_id: PathId, payload: StageUpdateIn) -> dict[str, Any]:
    """Rename, or make it open, closed won or closed lost (only while no deal stands in it)."""
    stage = pipeline_services.stage_update(
        stage_id=stage_id, name=payload.name, kind=payload.kind, actor=request.auth
    )
    return _stage_out(stage)


@router.delete("/stages/{stage_id}", response={204: None}, auth=requires_api(CONFIGURE))
def stage_delete(request: ApiRequest, stage_id: PathId) -> Status[Any]:
    """Only a stage no deal ever stood in (409 otherwise: rename it instead)."""
    pipeline_services.stage_delete(stage_id=stage_id, actor=request.auth)
    return Status(204, None)


@router.get("/lost-reasons", response=list[LostReasonOut], auth=requires_api(VIEW))
def lost_reason_list(request: ApiRequest) -> list[LostReason]:
    pipeline_services.pipeline_default()
    return selectors.lost_reasons()


class LostReasonIn(Schema):
    name: Name


@router.post("/lost-reasons", response={201: LostReasonOut}, auth=requires_api(CONFIGURE))
def lost_reason_create(request: ApiRequest, payload: LostReasonIn) -> Status[Any]:
    return Status(201, pipeline_services.lost_reason_create(name=payload.name, actor=request.auth))


class ActiveIn(Schema):
    is_active: bool


@router.patch("/lost-reasons/{reason_id}", response=LostReasonOut, auth=requires_api(CONFIGURE))
def lost_reason_set_active(request: ApiRequest, reason_id: PathId, payload: ActiveIn) -> LostReason:
    return pipeline_services.lost_reason_set_active(
        reason_id=reason_id, is_active=payload.is_active, actor=request.auth
    )


# --- web forms --------------------------------------------------------------------------------


@router.get("/forms", response=list[FormOut], auth=requires_api(CONFIGURE))
def lead_form_list(request: ApiRequest) -> list[dict[str, Any]]:
    """The web forms, each with the address a shop's site posts its leads to."""
    return [_form_out(request, form) for form in selectors.lead_forms()]


class FormIn(Schema):
    name: Name
    source: Annotated[str, Field(min_length=1, max_length=SOURCE_MAX)] = "website"


@router.post("/forms", response={201: FormOut}, auth=requires_api(CONFIGURE))
def lead_form_create(request: ApiRequest, payload: FormIn) -> Status[Any]:
    form = pipeline_services.lead_form_create(
        name=payload.name, source=payload.source, actor=request.auth
    )
    return Status(201, _form_out(request, form))


@router.patch("/forms/{form_id}", response=FormOut, auth=requires_api(CONFIGURE))
def lead_form_set_active(request: ApiRequest, form_id: PathId, payload: ActiveIn) -> dict[str, Any]:
    form = pipeline_services.lead_form_set_active(
        form_id=form_id, is_active=payload.is_active, actor=request.auth
    )
    return _form_out(request, form)


# --- channel spend ----------------------------------------------------------------------------


@router.get("/spend", response=list[SpendOut], auth=requires_api(VIEW))
def spend_list(request: ApiRequest) -> list[dict[str, Any]]:
    """The latest 200 months × sources entered, newest month first."""
    return [_spend_out(spend) for spend in selectors.spends()]


class SpendIn(Schema):
    source: Annotated[str, Field(min_length=1, max_length=SOURCE_MAX)]
    month: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", description="2026-11")]
    amount: Amount


@router.put("/spend", response=SpendOut, auth=requires_api(CONFIGURE))
def spend_set(request: ApiRequest, payload: SpendIn) -> dict[str, Any]:
    """What a source cost in a month, in the business's currency; sent again, replaced."""
    spend = spend_services.spend_set(
        source=payload.source, month=payload.month, amount=payload.amount, actor=request.auth
    )
    return _spend_out(spend)


class ImportedOut(Schema):
    rows: int


@router.post("/spend/import", response=ImportedOut, auth=requires_api(CONFIGURE))
def spend_import(request: ApiRequest, file: File[UploadedFile]) -> dict[str, Any]:
    """A CSV with the columns `source,month,amount` (month as 2026-11): all rows or none;
    a bad row is a 422 naming its line."""
    rows = spend_services.spend_import(
        content=file.read(spend_services.SPEND_FILE_MAX + 1), actor=request.auth
    )
    return {"rows": rows}


class AcquisitionPeriodQuery(Schema):
    first: Day
    last: Day


@router.get("/acquisition", response=list[AcquisitionOut], auth=requires_api(VIEW))
def acquisition_get(
    request: ApiRequest, period: Query[AcquisitionPeriodQuery]
) -> list[dict[str, Any]]:
    """Cost per lead and CAC of the days `first`..`last`: all sources (`source` ""), then each."""
    if period.last < period.first or (period.last - period.first).days > 3700:
        raise DomainError(field="last", message="the last day is before the first or too far")
    rows = [("", selectors.acquisition(first=period.first, last=period.last))]
    rows += selectors.acquisition_by_source(first=period.first, last=period.last)
    return [
        {
            "source": source,
            "spend": figures.spend,
            "leads": figures.leads,
            "customers": figures.customers,
            "cost_per_lead": figures.cost_per_lead,
            "cac": figures.cac,
            "currency": figures.currency,
        }
        for source, figures in rows
    ]
