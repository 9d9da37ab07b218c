"""An SOP's messages as the customer reads them, for a sample subject, and "Send me a test"
(thin views: the selector writes the messages, the service queues the test)."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.core.bounds import MAX_ID
from procedo.core.errors import DomainError, NotFound
from procedo.core.forms import FormTokenMixin, refusal_add
from procedo.core.requests import HtmxHttpRequest
from procedo.sops.models import Revision
from procedo.sops.selectors import messages as message_selectors
from procedo.sops.selectors import sops as sop_selectors
from procedo.sops.services import messages as message_services

TEMPLATE = "sops/_messages.html"


class TestSendForm(FormTokenMixin):
    sample_id = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)


def _sample_asked(request: HttpRequest) -> int | None:
    raw = request.GET.get("sample", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None


def messages_context(
    request: HttpRequest, revision: Revision, *, sample_id: int | None = None, **extra: Any
) -> dict[str, Any]:
    """What `sops/_messages.html` shows; the SOP and revision pages include it."""
    previews = message_selectors.message_previews(
        revision=revision, sample_id=sample_id if sample_id is not None else _sample_asked(request)
    )
    return {
        "previews": previews,
        # Each button its own token: a double click is one test, two buttons two tests.
        "rows": [(message, uuid.uuid4()) for message in previews.messages],
        "can_test": user_can(request.user, "sops.feedback"),
        "test_form": extra.get("test_form"),
        "tested": extra.get("tested"),
        "test_step": extra.get("test_step", ""),
    }


def _revision(revision_id: int) -> Revision:
    try:
        return sop_selectors.revision_get(revision_id=revision_id)
    except NotFound:
        raise Http404 from None


@require_GET
@requires("sops.view")
def message_previews(request: HttpRequest, revision_id: int) -> HttpResponse:
    """The messages written for another sample (the switcher asks with htmx)."""
    return render(request, TEMPLATE, messages_context(request, _revision(revision_id)))


@require_POST
@requires("sops.feedback")
def message_test_send(request: HtmxHttpRequest, revision_id: int, step_key: str) -> HttpResponse:
    revision = _revision(revision_id)
    form = TestSendForm(request.POST)
    tested, sample_id = None, None
    if form.is_valid():
        sample_id = form.cleaned_data["sample_id"]
        try:
            message = message_services.message_test_send(
                revision_id=revision.pk,
                step_key=step_key,
                sample_id=sample_id,
                actor=request.user,
                idempotency_key=f"ui:{form.cleaned_data['form_token']}",
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            tested = _("Sent to %(address)s: it is on its way.") % {"address": message.recipient}
            form = TestSendForm()  # a fresh token for the next test
    if not request.htmx:
        # A plain POST (no script): the answer is a notice on the SOP's page.
        for error in [str(e) for errors in form.errors.values() for e in errors]:
            messages.error(request, error)
        if tested:
            messages.success(request, tested)
        return redirect(f"{reverse('sops:detail', args=[revision.sop_id])}#messages")
    context = messages_context(
        request,
        revision,
        sample_id=sample_id,
        test_form=form,
        tested=tested,
        test_step=step_key,
    )
    return render(request, TEMPLATE, context, status=422 if form.errors else 200)
