"""Segments, RFM, campaigns and the product ladder over the API: every page's twin."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.utils.translation import gettext as _
from ninja import Field, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.core.bounds import Id, Moment, PathId, ShortText
from procedo.core.errors import NotFound
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import Schema
from procedo.marketing import rules, selectors
from procedo.marketing.models import Campaign, LadderStep, Segment
from procedo.marketing.services import _common as common_services
from procedo.marketing.services import campaigns as campaigns_services
from procedo.marketing.services import ladder as ladder_services
from procedo.marketing.services import rfm as rfm_services
from procedo.marketing.services import segments as segments_services

router = Router(tags=["marketing"])

RuleText = Annotated[str, Field(max_length=rules.MAX_VALUE_LENGTH)]
RuleValue = (
    Annotated[int, Field(ge=-int(rules.MAX_NUMBER), le=int(rules.MAX_NUMBER))]
    | RuleText
    | Annotated[list[RuleText], Field(max_length=100)]
    | None
)


class RuleIn(Schema):
    field: str = Field(max_length=60)
    op: str = Field(max_length=40)
    value: RuleValue = Field(
        default=None, description="A number, a text, a list (is one of) or nothing (is set)."
    )
    days: int | None = Field(
        default=None, ge=1, le=rules.MAX_DAYS, description="N of a rule “in the last N days”."
    )


class SegmentIn(Schema):
    name: ShortText
    match: Literal["all", "any"] = "all"
    rules: list[RuleIn] = Field(default_factory=list, max_length=rules.MAX_RULES)


class RulesIn(Schema):
    match: Literal["all", "any"] = "all"
    rules: list[RuleIn] = Field(default_factory=list, max_length=rules.MAX_RULES)


class SegmentOut(Schema):
    id: int
    name: str
    match: str
    rules: list[dict[str, Any]]
    customers: int


class CustomerBrief(Schema):
    id: int
    name: str
    lifetime_value: Decimal
    orders_count: int


class PreviewOut(Schema):
    customers: int
    sample: list[CustomerBrief]


class RuleFieldOut(Schema):
    name: str
    label: str
    type: str
    operators: list[str]
    period: bool
    period_required: bool = Field(description="false: a rule without `days` asks about all time")
    choices: list[tuple[str, str]] | None


def _segment_out(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.pk,
        "name": segment.name,
        "match": segment.match,
        "rules": segment.rules,
        "customers": selectors.segment_customers(segment).count(),
    }


def _rules(payload: list[RuleIn]) -> list[dict[str, Any]]:
    return [rule.dict() for rule in payload]


@router.get("/rules", response=list[RuleFieldOut], auth=requires_api("marketing.view"))
def rule_catalog(request: ApiRequest) -> list[dict[str, Any]]:
    """What a segment's rules may ask: each field, its operators, its choices."""
    return [
        {
            "name": spec.name,
            "label": str(spec.label),
            "type": spec.type,
            "operators": list(rules.OPERATORS[spec.type]),
            "period": spec.period,
            "period_required": spec.period and spec.period_required,
            "choices": spec.choices() if spec.choices else None,
        }
        for spec in rules.rule_fields().values()
    ]


@router.get("/segments", response=list[SegmentOut], auth=requires_api("marketing.view"))
def segment_list(request: ApiRequest) -> list[dict[str, Any]]:
    return [_segment_out(segment) for segment in selectors.segments_list()]


@router.post("/segments/preview", response=PreviewOut, auth=requires_api("marketing.view"))
def segment_preview(request: ApiRequest, payload: RulesIn) -> dict[str, Any]:
    """Count and sample the customers of unsaved rules (a 422 names a bad rule's part)."""
    preview = selectors.customers_preview(rules.rules_clean(_rules(payload.rules)), payload.match)
    return {
        "customers": preview.count,
        "sample": [
            {
                "id": c.pk,
                "name": str(c),
                "lifetime_value": c.lifetime_value,
                "orders_count": c.orders_count,
            }
            for c in preview.sample
        ],
    }


@router.post("/segments", response={201: SegmentOut}, auth=requires_api("marketing.manage"))
def segment_create(
    request: ApiRequest, payload: SegmentIn, idempotency_key: str | None = idempotency_header()
) -> Status[dict[str, Any]]:
    segment = segments_services.segment_create(
        name=payload.name,
        match=payload.match,
        rules_=_rules(payload.rules),
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, _segment_out(segment))


@router.get("/segments/{int:segment_id}", response=SegmentOut, auth=requires_api("marketing.view"))
def segment_detail(request: ApiRequest, segment_id: PathId) -> dict[str, Any]:
    return _segment_out(selectors.segment_get(segment_id))


@router.put(
    "/segments/{int:segment_id}", response=SegmentOut, auth=requires_api("marketing.manage")
)
def segment_update(request: ApiRequest, segment_id: PathId, payload: SegmentIn) -> dict[str, Any]:
    segment = segments_services.segment_update(
        segment_id=segment_id,
        name=payload.name,
        match=payload.match,
        rules_=_rules(payload.rules),
        actor=request.auth,
    )
    return _segment_out(segment)


@router.delete(
    "/segments/{int:segment_id}", response={204: None}, auth=requires_api("marketing.manage")
)
def segment_delete(request: ApiRequest, segment_id: PathId) -> Status[None]:
    segments_services.segment_delete(segment_id=segment_id, actor=request.auth)
    return Status(204, None)


# ---------------------------------------------------------------- RFM


class RfmOut(Schema):
    customer_id: int
    r: int
    f: int
    m: int
    group: str
    last_order_at: datetime
    frequency: int
    monetary: Decimal
    computed_at: datetime


class RefreshOut(Schema):
    scored: int
    changed: int
    removed: int
    moved: int  # customers moved to another RFM group, one `rfm.group_changed` each


@router.get("/rfm", response=dict[str, int], auth=requires_api("marketing.view"))
def rfm_groups(request: ApiRequest) -> dict[str, int]:
    """How many customers each RFM group holds now."""
    return selectors.rfm_groups_count()


@router.post("/rfm/refresh", response=RefreshOut, auth=requires_api("marketing.manage"))
def rfm_refresh(
    request: ApiRequest, idempotency_key: str = idempotency_header(required=True)
) -> dict[str, int]:
    """Score every customer now (the worker does it every three hours); a repeat is harmless."""
    return rfm_services.rfm_refresh()


@router.get("/rfm/{int:customer_id}", response=RfmOut, auth=requires_api("marketing.view"))
def customer_rfm(request: ApiRequest, customer_id: PathId) -> Any:
    """The customer's scores; a 404 for a customer without an order (or not scored yet)."""
    found = selectors.rfm_of_customer(customer_id)
    if found is None:
        raise NotFound(field="customer_id", message=_("This customer has no RFM score yet."))
    return found


# ---------------------------------------------------------------- campaigns


class CampaignIn(Schema):
    name: ShortText
    segment_id: Id
    template_id: Id
    scheduled_at: Moment | None = None
    holdout_percent: int = Field(default=10, ge=0, le=common_services.MAX_HOLDOUT)
    attribution_days: int = Field(default=14, ge=1, le=common_services.MAX_ATTRIBUTION_DAYS)


class CountsOut(Schema):
    audience: int
    held_out: int
    messages: int
    sent: int
    delivered: int
    failed: int
    suppressed: int
    waiting: int
    unsubscribed: int
    orders: int
    revenue: Decimal
    held_out_orders: int
    held_out_revenue: Decimal
    lift_per_customer: Decimal | None = Field(
        description="Revenue per treated customer minus per held-out one, once both groups "
        "have 30; null before."
    )
    verdict: str


class CampaignOut(Schema):
    id: int
    name: str
    segment_id: int
    template_id: int
    scheduled_at: datetime | None
    holdout_percent: int
    attribution_days: int
    state: str
    started_at: datetime | None
    counts: CountsOut


def _campaign_out(campaign: Campaign) -> dict[str, Any]:
    counts = selectors.campaign_counts(campaign)
    figures = {k: v for k, v in counts.__dict__.items() if k != "lift"}
    figures["lift_per_customer"] = counts.lift.difference if counts.lift is not None else None
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "segment_id": campaign.segment_id,
        "template_id": campaign.template_id,
        "scheduled_at": campaign.scheduled_at,
        "holdout_percent": campaign.holdout_percent,
        "attribution_days": campaign.attribution_days,
        "state": campaign.state,
        "started_at": campaign.started_at,
        "counts": figures,
    }


@router.get("/campaigns", response=list[CampaignOut], auth=requires_api("marketing.view"))
def campaign_list(request: ApiRequest) -> list[dict[str, Any]]:
    return [_campaign_out(campaign) for campaign in selectors.campaigns_list()[:50]]


@router.post("/campaigns", response={201: CampaignOut}, auth=requires_api("marketing.manage"))
def campaign_create(
    request: ApiRequest, payload: CampaignIn, idempotency_key: str | None = idempotency_header()
) -> Status[dict[str, Any]]:
    """A draft (or scheduled) campaign; a 422 naming `segment_id` when nobody could get it."""
    campaign = campaigns_services.campaign_create(
        **payload.dict(), actor=request.auth, idempotency_key=api_key(idempotency_key)
    )
    return Status(201, _campaign_out(campaign))


@router.get(
    "/campaigns/{int:campaign_id}", response=CampaignOut, auth=requires_api("marketing.view")
)
def campaign_detail(request: ApiRequest, campaign_id: PathId) -> dict[str, Any]:
    return _campaign_out(selectors.campaign_get(campaign_id))


@router.post(
    "/campaigns/{int:campaign_id}/send", response=CampaignOut, auth=requires_api("marketing.manage")
)
def campaign_send(
    request: ApiRequest, campaign_id: PathId, idempotency_key: str | None = idempotency_header()
) -> dict[str, Any]:
    """Send now: each reachable customer of the segment once, the holdout share kept back."""
    campaign = campaigns_services.campaign_send(
        campaign_id=campaign_id, actor=request.auth, idempotency_key=api_key(idempotency_key)
    )
    return _campaign_out(campaign)


@router.post(
    "/campaigns/{int:campaign_id}/cancel",
    response=CampaignOut,
    auth=requires_api("marketing.manage"),
)
def campaign_cancel(request: ApiRequest, campaign_id: PathId) -> dict[str, Any]:
    return _campaign_out(
        campaigns_services.campaign_cancel(campaign_id=campaign_id, actor=request.auth)
    )


# ---------------------------------------------------------------- the product ladder


class LadderStepOut(Schema):
    product_id: int
    next_product_id: int
    next_product: str
    position: int
    manual: bool
    customers: int
    median_days: int | None


class LadderIn(Schema):
    next_product_ids: list[Id] = Field(max_length=common_services.MAX_LADDER)


def _step_out(step: LadderStep) -> dict[str, Any]:
    return {
        "product_id": step.product_id,
        "next_product_id": step.next_product_id,
        "next_product": step.next_product.name,
        "position": step.position,
        "manual": step.manual,
        "customers": step.customers,
        "median_days": step.median_days,
    }


@router.get("/ladder", response=list[LadderStepOut], auth=requires_api("marketing.view"))
def ladder_top(request: ApiRequest) -> list[dict[str, Any]]:
    """The most travelled first steps: product → what its buyers most often buy next."""
    return [_step_out(step) for step in selectors.ladders_top()]


@router.post("/ladder/compute", response=dict[str, int], auth=requires_api("marketing.manage"))
def ladder_compute(
    request: ApiRequest, idempotency_key: str = idempotency_header(required=True)
) -> dict[str, int]:
    """Compute the ladder from the order history now (the worker does it nightly)."""
    return {"steps": ladder_services.ladder_compute()}


@router.get(
    "/ladder/{int:product_id}", response=list[LadderStepOut], auth=requires_api("marketing.view")
)
def ladder_get(request: ApiRequest, product_id: PathId) -> list[dict[str, Any]]:
    return [_step_out(step) for step in selectors.ladder_of(product_id)]


@router.put(
    "/ladder/{int:product_id}", response=list[LadderStepOut], auth=requires_api("marketing.manage")
)
def ladder_set(request: ApiRequest, product_id: PathId, payload: LadderIn) -> list[dict[str, Any]]:
    """Set the product's ladder by hand; an empty list returns it to the computed one."""
    ladder_services.ladder_set(
        product_id=product_id, next_product_ids=payload.next_product_ids, actor=request.auth
    )
    return [_step_out(step) for step in selectors.ladder_of(product_id)]


@router.get(
    "/customers/{int:customer_id}/next-product",
    response=LadderStepOut,
    auth=requires_api("marketing.view"),
)
def next_product(request: ApiRequest, customer_id: PathId) -> dict[str, Any]:
    """The product to offer the customer next, from their last purchase (404: none)."""
    step = selectors.next_product_of_customer(customer_id)
    if step is None:
        raise NotFound(field="customer_id", message=_("No next product for this customer."))
    return _step_out(step)
