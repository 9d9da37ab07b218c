"""Sales pages: thin views over the sales services and selectors.

A refusal re-renders the page (or the board partial, for htmx) with the error
naming the field and status 422; a success redirects or swaps the partial.
Buttons post a hidden form_token (a UUID), the idempotency key of the move:
a double click moves once.

(Over 600 lines: one short view per page of leads, deals, the board, meetings and spend,
sharing the same refusal and idempotency helpers; each view is a few lines.)
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError, NotFound
from procedo.core.forms import refusal_add
from procedo.core.requests import HtmxHttpRequest
from procedo.sales import selectors, throttle
from procedo.sales.forms import (
    ContactForm,
    DealFieldsForm,
    DealFilterForm,
    LeadFilterForm,
    LeadForm,
    LeadFormForm,
    MeetingForm,
    MoveForm,
    NameForm,
    PeriodForm,
    QualifyForm,
    SpendForm,
    SpendImportForm,
    StageForm,
)
from procedo.sales.models import UTM_FIELDS, LeadOrigin, Pipeline, Stage, StageKind
from procedo.sales.services import deals as deal_services
from procedo.sales.services import leads as lead_services
from procedo.sales.services import meetings as meeting_services
from procedo.sales.services import pipelines as pipeline_services
from procedo.sales.services import spend as spend_services

VIEW, CHANGE, CONFIGURE = "sales.view", "sales.change", "sales.configure"
PAGE = 50


def _refusal(exc: DomainError) -> str:
    return f"{exc.field}: {exc.message}"


def _token() -> str:
    return str(uuid.uuid4())


def _pipeline_of(request: HttpRequest) -> Pipeline:
    default = pipeline_services.pipeline_default()
    raw = request.GET.get("pipeline") or request.POST.get("pipeline") or ""
    if raw.isdigit() and len(raw) < 19:
        return Pipeline.objects.filter(pk=int(raw)).first() or default
    return default


# ---------------------------------------------------------------- board


def _board_context(pipeline: Pipeline, *, error: str = "") -> dict[str, Any]:
    board = selectors.board(pipeline=pipeline)
    stages = [column.stage for column in board.columns]
    open_stages = [stage for stage in stages if stage.kind == StageKind.OPEN]
    # The buttons on a card: back and on along the open stages, then won at the end.
    steps: dict[int, tuple[Stage | None, Stage | None]] = {}
    won = next((stage for stage in stages if stage.kind == StageKind.WON), None)
    for i, stage in enumerate(open_stages):
        before = open_stages[i - 1] if i else None
        after = open_stages[i + 1] if i + 1 < len(open_stages) else won
        steps[stage.pk] = (before, after)
    columns = [
        {
            "column": column,
            "back": steps.get(column.stage.pk, (None, None))[0],
            "on": steps.get(column.stage.pk, (None, None))[1],
        }
        for column in board.columns
    ]
    return {
        "board": board,
        "columns": columns,
        "pipelines": selectors.pipelines(),
        "error": error,
        "token": _token(),
    }


@requires(VIEW)
def board(request: HtmxHttpRequest) -> HttpResponse:
    context = _board_context(_pipeline_of(request))
    template = "sales/board.html#board" if request.htmx else "sales/board.html"
    return render(request, template, context)


@require_POST
@requires(CHANGE)
def deal_move(request: HttpRequest, deal_id: int) -> HttpResponse:
    form = MoveForm(request.POST)
    error = ""
    deal = selectors.deal_detail(deal_id=deal_id)
    if deal is None:
        raise Http404
    if form.is_valid():
        try:
            deal_services.deal_move(
                deal_id=deal_id,
                stage_id=form.cleaned_data["stage"],
                lost_reason_id=form.cleaned_data["lost_reason"],
                lost_note=form.cleaned_data["lost_note"] or "",
                actor=request.user,
                idempotency_key=f"ui:{form.cleaned_data['form_token']}",
            )
        except DomainError as exc:
            error = _refusal(exc)
    else:
        field, errors = next(iter(form.errors.items()))
        error = f"{field}: {errors[0]}"
    if form.data.get("view") == "board":
        context = _board_context(deal.pipeline, error=error)
        return render(request, "sales/board.html#board", context, status=422 if error else 200)
    if error:
        return _deal_page(request, deal_id, move_error=error, status=422)
    return redirect("sales:deal", deal_id)


# ---------------------------------------------------------------- deals


def _deal_page(
    request: HttpRequest,
    deal_id: int,
    *,
    fields_form: DealFieldsForm | None = None,
    meeting_form: MeetingForm | None = None,
    move_error: str = "",
    status: int = 200,
) -> HttpResponse:
    deal = selectors.deal_detail(deal_id=deal_id)
    if deal is None:
        raise Http404
    fields_form = fields_form or DealFieldsForm(
        initial={
            "title": deal.title,
            "value": deal.value,
            "expected_close_on": deal.expected_close_on,
            "owner": deal.owner_id or "",
        }
    )
    context = {
        "deal": deal,
        "stages": list(deal.pipeline.stages.order_by("position", "id")),
        "reasons": selectors.lost_reasons(active_only=True),
        "fields_form": fields_form,
        "meeting_form": meeting_form or MeetingForm(),
        "move_error": move_error,
        "token": _token(),
        "cycle": _stays(deal),
    }
    return render(request, "sales/deal.html", context, status=status)


def _stays(deal: Any) -> list[dict[str, Any]]:
    now = timezone.now()
    return [
        {
            "visit": visit,
            "hours": round(
                (
                    visit.seconds
                    if visit.seconds is not None
                    else (now - visit.entered_at).total_seconds()
                )
                / 3600,
                1,
            ),
        }
        for visit in deal.visits.all()
    ]


@requires(VIEW)
def deal_detail(request: HttpRequest, deal_id: int) -> HttpResponse:
    return _deal_page(request, deal_id)


@require_POST
@requires(CHANGE)
def deal_update(request: HttpRequest, deal_id: int) -> HttpResponse:
    form = DealFieldsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            deal_services.deal_update(
                deal_id=deal_id,
                title=data["title"] or None,
                value=data["value"],
                expected_close_on=data["expected_close_on"],
                owner_id=int(data["owner"]) if data["owner"] else None,
                actor=request.user,
            )
            return redirect("sales:deal", deal_id)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _deal_page(request, deal_id, fields_form=form, status=422)


@require_POST
@requires(CHANGE)
def meeting_book(request: HttpRequest, deal_id: int) -> HttpResponse:
    form = MeetingForm(request.POST)
    if form.is_valid():
        try:
            meeting_services.meeting_book(
                deal_id=deal_id,
                starts_at=form.cleaned_data["starts_at"],
                title=form.cleaned_data["title"],
                actor=request.user,
                idempotency_key=f"ui:{form.cleaned_data['form_token']}",
            )
            return redirect("sales:deal", deal_id)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _deal_page(request, deal_id, meeting_form=form, status=422)


@requires(VIEW)
def deal_list(request: HttpRequest) -> HttpResponse:
    filters = DealFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    page = selectors.deals_list(
        filters=selectors.DealFilters(
            pipeline_id=chosen.get("pipeline"),
            stage_id=chosen.get("stage"),
            owner_id=int(chosen["owner"]) if chosen.get("owner") else None,
            state=chosen.get("state") or "",
            q=chosen.get("q") or "",
        ),
        cursor=request.GET.get("cursor", "")[:200] or None,
        limit=PAGE,
    )
    context = {"filters": filters, "page": page, "pipelines": selectors.pipelines()}
    return render(
        request, "sales/deal_list.html", context, status=200 if not filters.errors else 422
    )


# ---------------------------------------------------------------- leads


def _leads_page(
    request: HttpRequest,
    *,
    form: LeadForm | None = None,
    import_form: SpendImportForm | None = None,
    status: int = 200,
) -> HttpResponse:
    filters = LeadFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    try:
        page = selectors.leads_list(
            filters=selectors.LeadFilters(
                status=chosen.get("status") or "",
                source=chosen.get("source") or "",
                q=chosen.get("q") or "",
            ),
            cursor=request.GET.get("cursor", "")[:200] or None,
            limit=PAGE,
        )
    except DomainError:
        raise Http404 from None
    context = {
        "filters": filters,
        "page": page,
        "form": form or LeadForm(),
        "import_form": import_form or SpendImportForm(),
        "sources": selectors.lead_sources(),
    }
    return render(request, "sales/lead_list.html", context, status=status)


@requires(VIEW)
def lead_list(request: HttpRequest) -> HttpResponse:
    return _leads_page(request)


@require_POST
@requires(CHANGE)
def lead_create(request: HttpRequest) -> HttpResponse:
    form = LeadForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            lead = lead_services.lead_create(
                data=lead_services.LeadIn(
                    name=data["name"],
                    email=data["email"],
                    phone=data["phone"],
                    company=data["company"],
                    message=data["message"],
                    source=data["source"],
                    utm={"utm_campaign": data["utm_campaign"]},
                    consent=data["consent"],
                ),
                origin=LeadOrigin.MANUAL,
                owner_id=request.user.pk,
                actor=request.user,
                idempotency_key=f"ui:{data['form_token']}",
            )
            return redirect("sales:lead", lead.pk)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _leads_page(request, form=form, status=422)


@require_POST
@requires(CHANGE)
def leads_import(request: HttpRequest) -> HttpResponse:
    form = SpendImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            upload = form.cleaned_data["file"]
            lead_services.leads_import(
                content=upload.read(lead_services.LEAD_FILE_MAX + 1), actor=request.user
            )
            return redirect("sales:leads")
        except DomainError as exc:
            form.add_error("file", exc.message)
    return _leads_page(request, import_form=form, status=422)


def _lead_page(
    request: HttpRequest,
    lead_id: int,
    *,
    contact_form: ContactForm | None = None,
    qualify_form: QualifyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    lead = selectors.lead_detail(lead_id=lead_id)
    if lead is None:
        raise Http404
    pipelines = selectors.pipelines() or [pipeline_services.pipeline_default()]
    context = {
        "lead": lead,
        "utm": [(key, getattr(lead, key)) for key in UTM_FIELDS if getattr(lead, key)],
        "contacts": list(lead.contacts.all().order_by("contacted_at", "id")),
        "contact_form": contact_form or ContactForm(),
        "qualify_form": qualify_form
        or QualifyForm(
            pipelines=pipelines,
            initial={"title": lead.company or lead.name, "owner": request.user.pk},
        ),
        "deal": getattr(lead, "deal", None) if hasattr(lead, "deal") else None,
    }
    return render(request, "sales/lead.html", context, status=status)


@requires(VIEW)
def lead_detail(request: HttpRequest, lead_id: int) -> HttpResponse:
    return _lead_page(request, lead_id)


@require_POST
@requires(CHANGE)
def lead_contact_log(request: HttpRequest, lead_id: int) -> HttpResponse:
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            lead_services.lead_contact_log(
                lead_id=lead_id,
                kind=form.cleaned_data["kind"],
                note=form.cleaned_data["note"],
                contacted_at=None,
                actor=request.user,
            )
            return redirect("sales:lead", lead_id)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _lead_page(request, lead_id, contact_form=form, status=422)


@require_POST
@requires(CHANGE)
def lead_qualify(request: HttpRequest, lead_id: int) -> HttpResponse:
    form = QualifyForm(request.POST, pipelines=selectors.pipelines())
    if form.is_valid():
        data = form.cleaned_data
        try:
            deal = lead_services.lead_qualify(
                lead_id=lead_id,
                pipeline_id=int(data["pipeline"]),
                title=data["title"],
                value=data["value"] if data["value"] is not None else "0",
                expected_close_on=data["expected_close_on"],
                owner_id=int(data["owner"]) if data["owner"] else None,
                actor=request.user,
                idempotency_key=f"ui:{data['form_token']}",
            )
            return redirect("sales:deal", deal.pk)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _lead_page(request, lead_id, qualify_form=form, status=422)


@require_POST
@requires(CHANGE)
def lead_disqualify(request: HttpRequest, lead_id: int) -> HttpResponse:
    try:
        lead_services.lead_disqualify(lead_id=lead_id, actor=request.user)
    except DomainError as exc:
        return _lead_page_error(request, lead_id, exc)
    return redirect("sales:lead", lead_id)


def _lead_page_error(request: HttpRequest, lead_id: int, exc: DomainError) -> HttpResponse:
    if isinstance(exc, NotFound):
        raise Http404(exc.message)
    form = ContactForm()
    refusal_add(form, exc.field, exc.message)
    return _lead_page(request, lead_id, contact_form=form, status=exc.status_code)


# ---------------------------------------------------------------- the public web form


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "") or request.content_type == (
        "application/json"
    )


# A shop's site posts here from its own pages: no session, no CSRF token. The form's
# key in the address is what authorises it, and all it can do is add a lead.
@csrf_exempt
@require_POST
def form_submit(request: HttpRequest, key: str) -> HttpResponse:
    wait = throttle.form_wait_seconds(address=request.META.get("REMOTE_ADDR"))
    if wait:
        body = {
            "detail": _("Too many submissions; try again later."),
            "field": "",
            "code": "throttled",
        }
        response = JsonResponse(body, status=429)
        response["Retry-After"] = str(wait)
        return response
    if len(request.body) > throttle.BODY_MAX:
        body = {"detail": _("The form is too large."), "field": "body", "code": "too_large"}
        return JsonResponse(body, status=413)
    throttle.form_count(address=request.META.get("REMOTE_ADDR"))
    data = _posted(request)
    try:
        lead_services.lead_form_submit(form_key=key, data=data)
    except DomainError as exc:
        body = {"detail": exc.message, "field": exc.field, "code": exc.code}
        if _wants_json(request):
            return JsonResponse(body, status=exc.status_code)
        return render(request, "sales/form_done.html", {"error": exc}, status=exc.status_code)
    if _wants_json(request):
        return JsonResponse({"detail": _("Thank you: we will be in touch soon.")}, status=201)
    return render(request, "sales/form_done.html", {"business": business_get()}, status=201)


def _posted(request: HttpRequest) -> dict[str, str]:
    if request.content_type == "application/json":
        import json

        try:
            raw = json.loads(request.body or b"{}")
        except ValueError:
            raw = {}
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    return {key: request.POST.get(key, "") for key in request.POST}


# ---------------------------------------------------------------- settings


def _settings_page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    pipeline_services.pipeline_default()
    forms = selectors.lead_forms()
    context = {
        "pipelines": selectors.pipelines(),
        "reasons": selectors.lost_reasons(),
        "forms": [
            (form, request.build_absolute_uri(reverse("sales:form-submit", args=[form.key])))
            for form in forms
        ],
        "refused": selectors.submissions_refused(),
        "kinds": StageKind.choices,
        "error": error,
    }
    return render(request, "sales/settings.html", context, status=status)


@requires(CONFIGURE)
def sales_settings(request: HttpRequest) -> HttpResponse:
    return _settings_page(request)


def _settings_action(request: HttpRequest, action: Any) -> HttpResponse:
    try:
        action()
    except DomainError as exc:
        return _settings_page(request, error=_refusal(exc), status=exc.status_code)
    return redirect("sales:settings")


def _form_error(form: Any) -> DomainError:
    field, errors = next(iter(form.errors.items()))
    return DomainError(field=field, message=str(errors[0]))


def _valid(form: Any) -> dict[str, Any]:
    if not form.is_valid():
        raise _form_error(form)
    return dict(form.cleaned_data)


@require_POST
@requires(CONFIGURE)
def pipeline_create(request: HttpRequest) -> HttpResponse:
    return _settings_action(
        request,
        lambda: pipeline_services.pipeline_create(
            name=_valid(NameForm(request.POST))["name"], actor=request.user
        ),
    )


@require_POST
@requires(CONFIGURE)
def stage_create(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    def act() -> None:
        data = _valid(StageForm(request.POST))
        pipeline_services.stage_create(
            pipeline_id=pipeline_id, name=data["name"], kind=data["kind"], actor=request.user
        )

    return _settings_action(request, act)


@require_POST
@requires(CONFIGURE)
def stage_update(request: HttpRequest, stage_id: int) -> HttpResponse:
    def act() -> None:
        data = _valid(StageForm(request.POST))
        pipeline_services.stage_update(
            stage_id=stage_id, name=data["name"], kind=data["kind"], actor=request.user
        )

    return _settings_action(request, act)


@require_POST
@requires(CONFIGURE)
def stage_shift(request: HttpRequest, stage_id: int) -> HttpResponse:
    """One place up or down: the whole order goes to the service, as the API sends it."""

    def act() -> None:
        stage = Stage.objects.filter(pk=stage_id).first()
        if stage is None:
            raise DomainError(field="stage_id", message=_("No such stage."))
        ids = list(
            Stage.objects.filter(pipeline_id=stage.pipeline_id)
            .order_by("position", "id")
            .values_list("pk", flat=True)
        )
        i = ids.index(stage.pk)
        j = i - 1 if request.POST.get("direction") == "up" else i + 1
        if 0 <= j < len(ids):
            ids[i], ids[j] = ids[j], ids[i]
        pipeline_services.stages_reorder(
            pipeline_id=stage.pipeline_id, stage_ids=ids, actor=request.user
        )

    return _settings_action(request, act)


@require_POST
@requires(CONFIGURE)
def stage_delete(request: HttpRequest, stage_id: int) -> HttpResponse:
    return _settings_action(
        request, lambda: pipeline_services.stage_delete(stage_id=stage_id, actor=request.user)
    )


@require_POST
@requires(CONFIGURE)
def lost_reason_create(request: HttpRequest) -> HttpResponse:
    return _settings_action(
        request,
        lambda: pipeline_services.lost_reason_create(
            name=_valid(NameForm(request.POST))["name"], actor=request.user
        ),
    )


@require_POST
@requires(CONFIGURE)
def lost_reason_set_active(request: HttpRequest, reason_id: int) -> HttpResponse:
    return _settings_action(
        request,
        lambda: pipeline_services.lost_reason_set_active(
            reason_id=reason_id, is_active=request.POST.get("is_active") == "1", actor=request.user
        ),
    )


@require_POST
@requires(CONFIGURE)
def lead_form_create(request: HttpRequest) -> HttpResponse:
    def act() -> None:
        data = _valid(LeadFormForm(request.POST))
        pipeline_services.lead_form_create(
            name=data["name"], source=data["source"], actor=request.user
        )

    return _settings_action(request, act)


@require_POST
@requires(CONFIGURE)
def lead_form_set_active(request: HttpRequest, form_id: int) -> HttpResponse:
    return _settings_action(
        request,
        lambda: pipeline_services.lead_form_set_active(
            form_id=form_id, is_active=request.POST.get("is_active") == "1", actor=request.user
        ),
    )


# ---------------------------------------------------------------- figures and spend


def _figures_page(
    request: HttpRequest,
    *,
    spend_form: SpendForm | None = None,
    import_form: SpendImportForm | None = None,
    status: int = 200,
) -> HttpResponse:
    today = timezone.localdate(timezone=business_get().zone)
    period = PeriodForm(request.GET or None, initial={"first": today.replace(day=1), "last": today})
    first, last = today.replace(day=1), today
    if period.is_bound and period.is_valid():
        first, last = period.cleaned_data["first"], period.cleaned_data["last"]
        if last < first or (last - first).days > 3700:
            period.add_error("last", _("The last day is before the first or too far from it."))
            first, last = today.replace(day=1), today
    pipeline = _pipeline_of(request)
    start, end = selectors.day_bounds(first, last)
    response_minutes, responded = selectors.lead_response_minutes(start=start, end=end)
    context = {
        "period": period if period.is_bound else PeriodForm(initial={"first": first, "last": last}),
        "first": first,
        "last": last,
        "total": selectors.acquisition(first=first, last=last),
        "by_source": selectors.acquisition_by_source(first=first, last=last),
        "pipeline": pipeline,
        "pipelines": selectors.pipelines(),
        "cycle": selectors.stage_cycle_times(pipeline=pipeline),
        "response_minutes": response_minutes,
        "responded": responded,
        "spends": selectors.spends(),
        "spend_form": spend_form or SpendForm(initial={"month": date.today().strftime("%Y-%m")}),
        "import_form": import_form or SpendImportForm(),
        "currency": business_get().currency,
    }
    return render(request, "sales/figures.html", context, status=status)


@requires(VIEW)
def figures(request: HttpRequest) -> HttpResponse:
    return _figures_page(request)


@require_POST
@requires(CONFIGURE)
def spend_set(request: HttpRequest) -> HttpResponse:
    form = SpendForm(request.POST)
    if form.is_valid():
        try:
            spend_services.spend_set(
                source=form.cleaned_data["source"],
                month=form.cleaned_data["month"],
                amount=form.cleaned_data["amount"],
                actor=request.user,
            )
            return redirect("sales:figures")
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _figures_page(request, spend_form=form, status=422)


@require_POST
@requires(CONFIGURE)
def spend_import(request: HttpRequest) -> HttpResponse:
    form = SpendImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            upload = form.cleaned_data["file"]
            spend_services.spend_import(
                content=upload.read(spend_services.SPEND_FILE_MAX + 1), actor=request.user
            )
            return redirect("sales:figures")
        except DomainError as exc:
            form.add_error("file", exc.message)
    return _figures_page(request, import_form=form, status=422)
