"""The loyalty pages: the programme (terms, tiers, membership) and the referrals."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.core.forms import refusal_add
from procedo.core.money import money_format
from procedo.loyalty import selectors
from procedo.loyalty.forms import (
    AttributeForm,
    ProgramForm,
    RedeemForm,
    TierForm,
    TierFormSet,
    YearForm,
)
from procedo.loyalty.models import Reward
from procedo.loyalty.services import programme as programme_services
from procedo.loyalty.services import referrals as referral_services
from procedo.loyalty.services import rewards as reward_services
from procedo.orders import selectors as order_selectors


def _program_initial() -> dict[str, Any]:
    program = selectors.program_get()
    return {
        name: getattr(program, name) for name in ProgramForm.base_fields if hasattr(program, name)
    }


def _program_page(
    request: HttpRequest, *, form: ProgramForm | None = None, tiers: Any = None
) -> HttpResponse:
    tier_rows = selectors.tiers_list()
    form = form or ProgramForm(initial=_program_initial())
    tiers = tiers or TierFormSet(
        initial=[
            {"code": t.code, "name": t.name, "min_spend": t.min_spend, "benefits": t.benefits}
            for t in tier_rows
        ],
        prefix="tiers",
    )
    program = selectors.program_get()
    failed = form.errors or any(f.errors for f in tiers.forms) or tiers.non_form_errors()
    return render(
        request,
        "loyalty/program.html",
        {
            "program": program,
            "rewards": selectors.rewards_get(program),
            "tiers": tier_rows,
            "members": selectors.members_count(),
            "currency": business_get().currency,
            "form": form,
            "tier_forms": tiers,
            "may_manage": user_can(request.user, "loyalty.manage"),
        },
        status=422 if failed else 200,
    )


@requires("loyalty.view")
def program(request: HttpRequest) -> HttpResponse:
    """The programme: tiers with their thresholds and holders, the membership, the terms."""
    return _program_page(request)


@require_POST
@requires("loyalty.manage")
def program_update(request: HttpRequest) -> HttpResponse:
    form = ProgramForm(request.POST)
    if form.is_valid():
        try:
            programme_services.program_update(actor=request.user, **form.cleaned_data)
        except DomainError as refused:
            field = refused.field.removesuffix("_value").removesuffix("_kind")
            refusal_add(
                form, refused.field if refused.field in form.fields else field, refused.message
            )
        else:
            messages.success(request, _("The terms are saved."))
            return redirect("loyalty:program")
    return _program_page(request, form=form)


@require_POST
@requires("loyalty.manage")
def tiers_set(request: HttpRequest) -> HttpResponse:
    formset = TierFormSet(request.POST, prefix="tiers")
    if formset.is_valid():
        filled: list[TierForm] = [f for f in formset.forms if not f.is_blank()]
        try:
            programme_services.tiers_set(
                tiers=[
                    programme_services.TierIn(
                        code=f.cleaned_data["code"] or "",
                        name=f.cleaned_data["name"] or "",
                        min_spend=f.cleaned_data["min_spend"]
                        if f.cleaned_data["min_spend"] is not None
                        else "",
                        benefits=f.cleaned_data["benefits"] or "",
                    )
                    for f in filled
                ],
                actor=request.user,
            )
        except DomainError as refused:
            # "tiers.2.min_spend": the third filled row's field.
            parts = refused.field.split(".")
            if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(filled):
                refusal_add(filled[int(parts[1])], parts[2], refused.message)
            else:
                refusal_add(filled[0] if filled else formset.forms[0], "", refused.message)
        else:
            messages.success(request, _("The tiers are saved; every customer's tier is updated."))
            return redirect("loyalty:program")
    return _program_page(request, tiers=formset)


def _referrals_page(
    request: HttpRequest, *, attribute: AttributeForm | None = None
) -> HttpResponse:
    # The year field shows the year shown, this one unless another was asked for.
    form = YearForm(request.GET if "year" in request.GET else {"year": timezone.localdate().year})
    year = None
    if form.is_valid():
        try:
            year = selectors.year_clean(form.cleaned_data["year"])
        except DomainError as refused:
            refusal_add(form, refused.field, refused.message)
    chosen = year or timezone.localdate().year
    top = selectors.referrers_top(year=chosen)
    return render(
        request,
        "loyalty/referrals.html",
        {
            "year_form": form,
            "year": chosen,
            "numbers": selectors.referral_numbers(year=chosen),
            "goal": selectors.REFERRALS_A_YEAR,
            "top": top,
            "rewards": selectors.rewards_get(),
            "attribute": attribute or AttributeForm(),
            "may_attribute": user_can(request.user, "orders.change"),
        },
        status=422 if form.errors or (attribute and attribute.errors) else 200,
    )


@requires("loyalty.view")
def referrals(request: HttpRequest) -> HttpResponse:
    """The year's referral numbers, who referred most and how far each is from two."""
    return _referrals_page(request)


@require_POST
@requires("orders.change")
def referral_attribute(request: HttpRequest) -> HttpResponse:
    form = AttributeForm(request.POST)
    if form.is_valid():
        try:
            order_id = order_selectors.order_id_by_number(form.cleaned_data["order"])
            referral_services.referral_attribute(
                order_id=order_id,
                code=form.cleaned_data["code"],
                actor=request.user,
                idempotency_key=f"ui:{form.cleaned_data['form_token']}",
            )
        except DomainError as refused:
            field = {"order_id": "order", "customer_id": "order"}.get(refused.field, refused.field)
            refusal_add(form, field, refused.message)
        else:
            messages.success(request, _("The order is counted as a referral."))
            return redirect("loyalty:referrals")
    return _referrals_page(request, attribute=form)


@require_POST
@requires("customers.change")
def referral_code_issue(request: HttpRequest, customer_id: int) -> HttpResponse:
    try:
        referral_services.referral_code_issue(customer_id=customer_id, actor=request.user)
    except DomainError as refused:
        messages.error(request, refused.message)
    return redirect("customers:card", customer_id)


@require_POST
@requires("orders.change")
def reward_redeem(request: HttpRequest, reward_id: int) -> HttpResponse:
    """Use a reward on an order typed by its number; back to the customer's card either way."""
    reward = get_object_or_404(Reward, pk=reward_id)
    form = RedeemForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Type the number of the order to use the reward on."))
        return redirect("customers:card", reward.customer_id)
    try:
        order_id = order_selectors.order_id_by_number(form.cleaned_data["order"])
        used = reward_services.reward_redeem(
            reward_id=reward.pk,
            order_id=order_id,
            actor=request.user,
            idempotency_key=f"ui:{form.cleaned_data['form_token']}",
        )
    except DomainError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(
            request,
            _("%(amount)s taken off order %(order)s.")
            % {
                "amount": money_format(used.amount or 0, used.currency),
                "order": used.order.number if used.order else "",
            },
        )
    return redirect("customers:card", reward.customer_id)
