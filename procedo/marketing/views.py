"""Thin pages over the marketing services and selectors."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.core.forms import refusal_add
from procedo.marketing import rules, selectors
from procedo.marketing.forms import (
    CampaignForm,
    LadderForm,
    SegmentForm,
    field_choices,
    rule_rows,
    rules_from_post,
)
from procedo.marketing.models import RfmGroup, Segment
from procedo.marketing.services import campaigns as campaigns_services
from procedo.marketing.services import ladder as ladder_services
from procedo.marketing.services import rfm as rfm_services
from procedo.marketing.services import segments as segments_services


def _editor(
    request: HttpRequest,
    *,
    segment: Segment | None,
    form: SegmentForm,
    rule_list: list[dict[str, Any]],
    status: int = 200,
) -> HttpResponse:
    context = {
        "segment": segment,
        "form": form,
        "rows": rule_rows(rule_list),
        "fields": field_choices(),
        "preview": _preview(rule_list, form.data.get("match", segment.match if segment else "all")),
    }
    return render(request, "marketing/segment_edit.html", context, status=status)


def _preview(rule_list: list[dict[str, Any]], match: str) -> dict[str, Any]:
    try:
        cleaned = rules.rules_clean(rule_list)
    except DomainError as refused:
        return {"error": refused.message, "field": refused.field}
    found = selectors.customers_preview(cleaned, "any" if match == "any" else "all")
    return {"count": found.count, "sample": found.sample}


@requires("marketing.view")
def segments(request: HttpRequest) -> HttpResponse:
    """The segments with their sizes now, and the RFM groups."""
    listed = [
        (segment, selectors.segment_customers(segment).count())
        for segment in selectors.segments_list()[:100]
    ]
    groups = selectors.rfm_groups_count()
    context = {
        "segments": listed,
        "groups": [(value, label, groups.get(value, 0)) for value, label in RfmGroup.choices],
        "may_manage": user_can(request.user, "marketing.manage"),
    }
    return render(request, "marketing/segments.html", context)


@requires("marketing.manage")
def segment_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        starter = [{"field": "orders_count", "op": "gte", "value": "1"}]
        return _editor(
            request, segment=None, form=SegmentForm(initial={"match": "all"}), rule_list=starter
        )
    return _segment_save(request, None)


@requires("marketing.manage")
def segment_edit(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = selectors.segment_get(segment_id)
    if request.method != "POST":
        form = SegmentForm(initial={"name": segment.name, "match": segment.match})
        return _editor(request, segment=segment, form=form, rule_list=list(segment.rules))
    return _segment_save(request, segment)


def _segment_save(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    form = SegmentForm(request.POST)
    rule_list = rules_from_post(request.POST)
    if form.is_valid():
        values = {
            "name": form.cleaned_data["name"],
            "match": form.cleaned_data["match"],
            "rules_": rule_list,
            "actor": request.user,
        }
        try:
            if segment is None:
                saved = segments_services.segment_create(**values)
            else:
                saved = segments_services.segment_update(segment_id=segment.pk, **values)
        except DomainError as refused:
            refusal_add(form, refused.field, refused.message)
        else:
            messages.success(request, _("Segment saved."))
            return redirect("marketing:segment-edit", saved.pk)
    return _editor(request, segment=segment, form=form, rule_list=rule_list, status=422)


@require_POST
@requires("marketing.view")
def segment_preview(request: HttpRequest) -> HttpResponse:
    """The live count and sample while the rules are edited (htmx)."""
    context = {"preview": _preview(rules_from_post(request.POST), request.POST.get("match", ""))}
    return render(request, "marketing/segment_edit.html#preview", context)


@require_POST
@requires("marketing.view")
def segment_rules(request: HttpRequest) -> HttpResponse:
    """The rule rows again after a field changed, a row was added or removed (htmx)."""
    rule_list = rules_from_post(request.POST)
    remove = request.POST.get("remove", "")
    if remove.isdigit() and int(remove) < len(rule_list):
        rule_list.pop(int(remove))
    if request.POST.get("add") and len(rule_list) < rules.MAX_RULES:
        rule_list.append({"field": "", "op": "", "value": ""})
    for rule in rule_list:  # a field just changed keeps no operator of the field before
        spec = rules.rule_fields().get(rule["field"])
        if spec is not None and rule["op"] not in rules.OPERATORS[spec.type]:
            rule["op"], rule["value"] = rules.OPERATORS[spec.type][0], ""
    context = {"rows": rule_rows(rule_list), "fields": field_choices()}
    return render(request, "marketing/segment_edit.html#rules", context)


@require_POST
@requires("marketing.manage")
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    try:
        segments_services.segment_delete(segment_id=segment_id, actor=request.user)
    except DomainError as refused:
        messages.error(request, refused.message)
        return redirect("marketing:segment-edit", segment_id)
    messages.success(request, _("Segment deleted."))
    return redirect("marketing:segments")


@require_POST
@requires("marketing.manage")
def rfm_refresh(request: HttpRequest) -> HttpResponse:
    result = rfm_services.rfm_refresh()
    messages.success(
        request,
        _("RFM scores computed for %(scored)s customers (%(changed)s changed).") % result,
    )
    return redirect("marketing:segments")


# ---------------------------------------------------------------- campaigns


def _campaigns_page(request: HttpRequest, form: CampaignForm, status: int = 200) -> HttpResponse:
    context = {
        "campaigns": selectors.campaigns_list(),
        "form": form,
        "may_manage": user_can(request.user, "marketing.manage"),
    }
    return render(request, "marketing/campaigns.html", context, status=status)


@requires("marketing.view")
def campaigns(request: HttpRequest) -> HttpResponse:
    return _campaigns_page(request, CampaignForm())


@require_POST
@requires("marketing.manage")
def campaign_create(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            campaign = campaigns_services.campaign_create(
                name=data["name"],
                segment_id=data["segment"].pk,
                template_id=data["template"].pk,
                scheduled_at=data["scheduled_at"],
                holdout_percent=data["holdout_percent"],
                attribution_days=data["attribution_days"],
                actor=request.user,
                idempotency_key=f"ui:{data['form_token']}",
            )
        except DomainError as refused:
            field = {"segment_id": "segment", "template_id": "template"}.get(
                refused.field, refused.field
            )
            refusal_add(form, field, refused.message)
        else:
            return redirect("marketing:campaign", campaign.pk)
    return _campaigns_page(request, form, status=422)


@requires("marketing.view")
def campaign(request: HttpRequest, campaign_id: int) -> HttpResponse:
    found = selectors.campaign_get(campaign_id)
    context = {
        "campaign": found,
        "counts": selectors.campaign_counts(found),
        "currency": business_get().currency,
        "may_manage": user_can(request.user, "marketing.manage"),
    }
    return render(request, "marketing/campaign.html", context)


@require_POST
@requires("marketing.manage")
def campaign_send(request: HttpRequest, campaign_id: int) -> HttpResponse:
    try:
        campaigns_services.campaign_send(
            campaign_id=campaign_id,
            actor=request.user,
            idempotency_key=f"ui:campaign:{campaign_id}:send",
        )
    except DomainError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("The campaign is on its way."))
    return redirect("marketing:campaign", campaign_id)


@require_POST
@requires("marketing.manage")
def campaign_cancel(request: HttpRequest, campaign_id: int) -> HttpResponse:
    try:
        campaigns_services.campaign_cancel(campaign_id=campaign_id, actor=request.user)
    except DomainError as refused:
        messages.error(request, refused.message)
    return redirect("marketing:campaign", campaign_id)


# ---------------------------------------------------------------- the product ladder


def _ladder_page(request: HttpRequest, form: LadderForm, status: int = 200) -> HttpResponse:
    context = {
        "steps": selectors.ladders_top(),
        "manual": selectors.ladders_manual(),
        "form": form,
        "may_manage": user_can(request.user, "marketing.manage"),
    }
    return render(request, "marketing/ladder.html", context, status=status)


@requires("marketing.view")
def ladder(request: HttpRequest) -> HttpResponse:
    return _ladder_page(request, LadderForm())


@require_POST
@requires("marketing.manage")
def ladder_compute(request: HttpRequest) -> HttpResponse:
    steps = ladder_services.ladder_compute()
    messages.success(request, _("The ladder was computed: %(n)s steps.") % {"n": steps})
    return redirect("marketing:ladder")


@require_POST
@requires("marketing.manage")
def ladder_set(request: HttpRequest) -> HttpResponse:
    form = LadderForm(request.POST)
    if form.is_valid():
        try:
            ladder_services.ladder_set(
                product_id=form.cleaned_data["product"].pk,
                next_product_ids=[p.pk for p in form.cleaned_data["next_products"]],
                actor=request.user,
            )
        except DomainError as refused:
            field = {"next_product_ids": "next_products", "product_id": "product"}
            refusal_add(form, field.get(refused.field, refused.field), refused.message)
        else:
            messages.success(request, _("The ladder was set."))
            return redirect("marketing:ladder")
    return _ladder_page(request, form, status=422)
