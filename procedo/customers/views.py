"""The customer pages. Thin: a form checks shape, a service or selector does the work.

A POST from the card answers htmx with the card part it changed (422 with the
form's errors when a rule said no); without htmx it redirects to the card.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError, NotFound
from procedo.core.exports import export_format, filters_known
from procedo.core.forms import filters_valid, refusal_add
from procedo.core.paging import Page
from procedo.customers import selectors
from procedo.customers.forms import (
    AddressForm,
    ConsentForm,
    CustomerCreateForm,
    CustomerEditForm,
    CustomerFilterForm,
    DismissForm,
    IdentityForm,
    MergeForm,
    NoteForm,
    TagForm,
)
from procedo.customers.models import ConsentState
from procedo.customers.registry import card_sections
from procedo.customers.services import customers as customer_services
from procedo.customers.services import details as detail_services
from procedo.customers.services import identities as identity_services
from procedo.customers.services import merging as merge_services
from procedo.events.exports import export_stream
from procedo.events.selectors import timeline_for_customer

LIST_PAGE = 50
TIMELINE_PAGE = 25


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def _htmx(request: HttpRequest) -> Any:
    return getattr(request, "htmx", None)


# ---------------------------------------------------------------- list


@requires("customers.view")
def customer_list(request: HttpRequest) -> HttpResponse:
    form = CustomerFilterForm(request.GET, tags=selectors.tags_all())
    page: Page[selectors.ListedCustomer] = Page(items=[], next_cursor=None)
    if form.is_valid():
        try:
            page = selectors.customer_list(
                **form.filters(), cursor=request.GET.get("cursor") or None, limit=LIST_PAGE
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    next_query = ""
    if page.next_cursor:
        params = {key: value for key, value in request.GET.items() if key != "cursor" and value}
        next_query = urlencode({**params, "cursor": page.next_cursor})
    context = {
        "form": form,
        "page": page,
        "next_query": next_query,
        "currency": business_get().currency,
        "can_change": user_can(request.user, "customers.change"),
    }
    htmx = _htmx(request)
    template = "customers/list.html"
    if htmx:
        template += "#rows" if htmx.target == "more-row" else "#results"
    return render(request, template, context, status=422 if form.errors else 200)


@requires("customers.view")
def customer_export(request: HttpRequest) -> StreamingHttpResponse:
    """The list as a file, with the filters the page has applied (`?format=csv|xlsx`)."""
    fmt = export_format(request.GET.get("format"))
    applied = filters_known(request.GET, CustomerFilterForm.base_fields)
    form = CustomerFilterForm(request.GET, tags=selectors.tags_all())
    filters_valid(form)
    return export_stream(
        request=request,
        actor=request.user,
        list_name="customers",
        fmt=fmt,
        filters=applied,
        columns=selectors.CUSTOMER_COLUMNS,
        rows=selectors.customer_export_rows(**form.filters()),
    )


@requires("customers.change")
def customer_create(request: HttpRequest) -> HttpResponse:
    form = CustomerCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            customer = customer_services.customer_create(
                first_name=data["first_name"],
                last_name=data["last_name"],
                company=data["company"],
                country=data["country"],
                source=data["source"],
                emails=[data["email"]] if data["email"] else [],
                phones=[data["phone"]] if data["phone"] else [],
                actor=request.user,
                idempotency_key=f"ui:{data['form_token']}",
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            messages.success(request, _("Customer %(name)s created.") % {"name": customer})
            return redirect("customers:card", customer.pk)
    return render(
        request, "customers/create.html", {"form": form}, status=422 if form.errors else 200
    )


# ---------------------------------------------------------------- card


def _card_or_404(customer_id: int) -> selectors.CustomerCard:
    try:
        return selectors.customer_card(customer_id=customer_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _card_context(
    request: HttpRequest, card: selectors.CustomerCard, *, full: bool, **extra: Any
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "card": card,
        "customer": card.customer,
        "customer_id": card.customer.pk,
        "can_change": user_can(request.user, "customers.change"),
        "consent_states": ConsentState.choices,
        "identity_form": IdentityForm(),
        "address_form": AddressForm(),
        "tag_form": TagForm(),
        "note_form": NoteForm(),
        "consent_errors": {},
        **extra,
    }
    if full:
        customer_id = card.customer.pk
        context["currency"] = business_get().currency
        context["timeline"] = timeline_for_customer(customer_id=customer_id, limit=TIMELINE_PAGE)
        context["known_tags"] = selectors.tags_all()
        context["sections"] = [
            {
                "title": section.title,
                "html": render_to_string(
                    section.template,
                    {**section.context(customer_id), "customer": card.customer},
                    request=request,
                ),
            }
            for section in card_sections()
            if user_can(request.user, section.permission)
        ]
    return context


@requires("customers.view")
def customer_card(request: HttpRequest, customer_id: int) -> HttpResponse:
    card = _card_or_404(customer_id)
    if card.customer.merged_into_id is not None:
        messages.info(
            request,
            _("Customer #%(id)s was merged into this one.") % {"id": customer_id},
        )
        return redirect("customers:card", card.customer.merged_into_id)
    return render(request, "customers/card.html", _card_context(request, card, full=True))


def _card_part(
    request: HttpRequest, customer_id: int, part: str, *, failed: bool, **extra: Any
) -> HttpResponse:
    """After a card POST: htmx gets the changed part; a plain form post gets the page."""
    if not _htmx(request) and not failed:
        return redirect("customers:card", customer_id)
    card = _card_or_404(customer_id)
    status = 422 if failed else 200
    if _htmx(request):
        context = _card_context(request, card, full=False, **extra)
        return render(request, f"customers/card.html#{part}", context, status=status)
    context = _card_context(request, card, full=True, **extra)
    return render(request, "customers/card.html", context, status=status)


@requires("customers.change")
def customer_update(request: HttpRequest, customer_id: int) -> HttpResponse:
    try:
        customer = selectors.customer_get(customer_id=customer_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    initial = {
        field: getattr(customer, field)
        for field in ("first_name", "last_name", "company", "country", "source")
    }
    form = CustomerEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            customer_services.customer_update(
                customer_id=customer_id, actor=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            messages.success(request, _("Saved."))
            return redirect("customers:card", customer_id)
    return render(
        request,
        "customers/edit.html",
        {"form": form, "customer": customer},
        status=422 if form.errors else 200,
    )


@require_POST
@requires("customers.change")
def identity_add(request: HttpRequest, customer_id: int) -> HttpResponse:
    form = IdentityForm(request.POST)
    if form.is_valid():
        try:
            identity_services.identity_add(
                customer_id=customer_id,
                kind=form.cleaned_data["kind"],
                value=form.cleaned_data["value"],
                marketing_consent=form.cleaned_data["marketing_consent"],
                consent_source="staff",
                actor=request.user,
            )
            form = IdentityForm()
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _card_part(
        request, customer_id, "identities", failed=bool(form.errors), identity_form=form
    )


@require_POST
@requires("customers.change")
def identity_remove(request: HttpRequest, customer_id: int, identity_id: int) -> HttpResponse:
    form = IdentityForm()
    try:
        identity_services.identity_remove(
            customer_id=customer_id, identity_id=identity_id, actor=request.user
        )
    except DomainError as exc:
        refusal_add(form, "", exc.message)
    return _card_part(
        request, customer_id, "identities", failed=bool(form.errors), identity_form=form
    )


@require_POST
@requires("customers.change")
def consent_set(request: HttpRequest, customer_id: int, identity_id: int) -> HttpResponse:
    form = ConsentForm(request.POST)
    errors: dict[int, str] = {}
    if form.is_valid():
        try:
            identity_services.consent_set(
                customer_id=customer_id,
                identity_id=identity_id,
                state=form.cleaned_data["state"],
                source=form.cleaned_data["source"] or "staff",
                actor=request.user,
            )
        except DomainError as exc:
            errors[identity_id] = exc.message
    else:
        errors[identity_id] = _("Choose a consent state.")
    return _card_part(
        request, customer_id, "identities", failed=bool(errors), consent_errors=errors
    )


@require_POST
@requires("customers.change")
def address_add(request: HttpRequest, customer_id: int) -> HttpResponse:
    form = AddressForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        token = data.pop("form_token")
        try:
            detail_services.address_add(
                customer_id=customer_id,
                actor=request.user,
                idempotency_key=f"ui:{token}",
                **data,
            )
            form = AddressForm()
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _card_part(
        request, customer_id, "addresses", failed=bool(form.errors), address_form=form
    )


@require_POST
@requires("customers.change")
def address_remove(request: HttpRequest, customer_id: int, address_id: int) -> HttpResponse:
    form = AddressForm()
    try:
        detail_services.address_remove(
            customer_id=customer_id, address_id=address_id, actor=request.user
        )
    except DomainError as exc:
        refusal_add(form, "", exc.message)
    return _card_part(
        request, customer_id, "addresses", failed=bool(form.errors), address_form=form
    )


@require_POST
@requires("customers.change")
def tag_add(request: HttpRequest, customer_id: int) -> HttpResponse:
    form = TagForm(request.POST)
    if form.is_valid():
        try:
            detail_services.tag_add(
                customer_id=customer_id, name=form.cleaned_data["tag"], actor=request.user
            )
            form = TagForm()
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _card_part(request, customer_id, "tags", failed=bool(form.errors), tag_form=form)


@require_POST
@requires("customers.change")
def tag_remove(request: HttpRequest, customer_id: int) -> HttpResponse:
    form = TagForm(request.POST)
    if form.is_valid():
        try:
            detail_services.tag_remove(
                customer_id=customer_id, name=form.cleaned_data["tag"], actor=request.user
            )
            form = TagForm()
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _card_part(request, customer_id, "tags", failed=bool(form.errors), tag_form=form)


@require_POST
@requires("customers.change")
def note_add(request: HttpRequest, customer_id: int) -> HttpResponse:
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            detail_services.note_add(
                customer_id=customer_id,
                body=form.cleaned_data["body"],
                actor=request.user,
                idempotency_key=f"ui:{form.cleaned_data['form_token']}",
            )
            form = NoteForm()  # a fresh token for the next note
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _card_part(request, customer_id, "notes", failed=bool(form.errors), note_form=form)


@requires("customers.view")
def customer_timeline(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Older timeline rows, asked for by the card's "Older events" button."""
    timeline = timeline_for_customer(
        customer_id=customer_id,
        before=_int_or_none(request.GET.get("before")),
        limit=TIMELINE_PAGE,
    )
    return render(
        request,
        "customers/card.html#timeline-rows",
        {"timeline": timeline, "customer_id": customer_id},
    )


# ---------------------------------------------------------------- duplicates and merging


@requires("customers.view")
def customer_duplicates(request: HttpRequest) -> HttpResponse:
    try:
        page = selectors.customer_duplicates(cursor=request.GET.get("cursor") or None)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    context = {"page": page, "can_change": user_can(request.user, "customers.change")}
    htmx = _htmx(request)
    template = "customers/duplicates.html#rows" if htmx else "customers/duplicates.html"
    return render(request, template, context)


@require_POST
@requires("customers.change")
def duplicate_dismiss(request: HttpRequest) -> HttpResponse:
    form = DismissForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Say which two customers."), status=422)
    try:
        merge_services.duplicate_dismiss(**form.cleaned_data, actor=request.user)
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status_code)
    if _htmx(request):
        return HttpResponse("")  # the row swaps itself away
    messages.success(request, _("They will not be proposed again."))
    return redirect("customers:duplicates")


@requires("customers.change")
def customer_merge(request: HttpRequest) -> HttpResponse:
    """GET compares two customers side by side; POST merges the duplicate into the survivor."""
    if request.method == "POST":
        form = MergeForm(request.POST)
        if form.is_valid():
            try:
                survivor = merge_services.customer_merge(**form.cleaned_data, actor=request.user)
            except DomainError as exc:
                refusal_add(form, exc.field, exc.message)
            else:
                messages.success(
                    request,
                    _("Customer #%(duplicate)s was merged into %(survivor)s.")
                    % {"duplicate": form.cleaned_data["duplicate_id"], "survivor": survivor},
                )
                url = reverse("customers:card", args=[survivor.pk])
                return HttpResponseClientRedirect(url) if _htmx(request) else redirect(url)
        chosen = request.POST
    else:
        chosen = request.GET
        form = MergeForm(initial={key: chosen.get(key) for key in ("survivor_id", "duplicate_id")})
    cards: dict[str, selectors.CustomerCard] = {}
    for key in ("survivor_id", "duplicate_id"):
        customer_id = _int_or_none(chosen.get(key))
        if customer_id is not None:
            try:
                cards[key] = selectors.customer_card(customer_id=customer_id)
            except NotFound as exc:
                refusal_add(form, "", exc.message)
    context = {
        "form": form,
        "survivor": cards.get("survivor_id"),
        "duplicate": cards.get("duplicate_id"),
        "currency": business_get().currency,
    }
    return render(request, "customers/merge.html", context, status=422 if form.errors else 200)
