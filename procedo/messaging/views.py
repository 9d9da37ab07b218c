"""Messaging pages (thin: services and selectors do the work)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from csp.decorators import csp_update
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.core.errors import DomainError
from procedo.core.exports import export_format, filters_known
from procedo.core.forms import filters_valid, refusal_add
from procedo.events.exports import export_stream
from procedo.messaging import selectors
from procedo.messaging.forms import MessageDecisionForm, MessageFilterForm, TemplateForm
from procedo.messaging.models import Message
from procedo.messaging.services import delivery_status, unsubscribe
from procedo.messaging.services import inbound as inbound_services
from procedo.messaging.services import queueing as queue_services
from procedo.messaging.services import templates as template_services
from procedo.messaging.services.sending import resent_automatically
from procedo.messaging.transports import message_mime


@requires("messaging.view")
def messages_list(request: HttpRequest) -> HttpResponse:
    form = MessageFilterForm(request.GET or None, sops=selectors.sops_for_filter())
    filters = selectors.MessageFilters()
    received = False
    if form.is_valid():
        received = form.cleaned_data["direction"] == "inbound"
        filters = form.filters()
    cursor = request.GET.get("cursor")
    try:
        page: Any = (
            selectors.inbound_list(customer_id=filters.customer_id, cursor=cursor)
            if received
            else selectors.messages_list(filters=filters, cursor=cursor)
        )
    except DomainError as exc:
        refusal_add(form, "", exc.message)
        page = selectors.messages_list(filters=filters)
    query = request.GET.copy()
    query.pop("cursor", None)
    direction = form.cleaned_data.get("direction", "") if form.is_bound and form.is_valid() else ""
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "received": received,
        "direction": direction,
    }
    template = "messaging/messages_list.html"
    if getattr(request, "htmx", False):
        template += "#rows"
    else:
        context["decision_count"] = selectors.messages_needing_decision_count()
        context["outbox"] = selectors.email_outbox()
    return render(request, template, context)


@requires("messaging.view")
def messages_export(request: HttpRequest) -> StreamingHttpResponse:
    """The message log as a file (`?format=csv|xlsx`), with the page's filters."""
    fmt = export_format(request.GET.get("format"))
    applied = filters_known(request.GET, MessageFilterForm.base_fields)
    form = MessageFilterForm(request.GET, sops=selectors.sops_for_filter())
    filters_valid(form)
    if form.cleaned_data["direction"] == "inbound":
        raise DomainError(
            field="direction", message=_("Messages we sent are exported; received ones are not.")
        )
    return export_stream(
        request=request,
        actor=request.user,
        list_name="messages",
        fmt=fmt,
        filters=applied,
        columns=selectors.MESSAGE_COLUMNS,
        rows=selectors.message_export_rows(form.filters()),
    )


@requires("messaging.view")
def inbound_detail(request: HttpRequest, inbound_id: int) -> HttpResponse:
    inbound = selectors.inbound_get(inbound_id=inbound_id)
    if inbound is None:
        raise Http404
    raw = bytes(inbound.raw).decode("utf-8", "replace")
    return render(request, "messaging/inbound_detail.html", {"inbound": inbound, "raw": raw})


_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])


def _email_html_shown(view: _View) -> _View:
    # An email's HTML is shown in a sandboxed srcdoc iframe, which runs no script and takes
    # this page's Content-Security-Policy: let it keep its own inline styles and images.
    return cast(_View, csp_update({"style-src": ["'unsafe-inline'"], "img-src": ["https:"]})(view))


@requires("messaging.view")
@_email_html_shown
def message_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    return _message_page(request, message_id)


def _message_page(
    request: HttpRequest, message_id: int, *, error: str = "", status: int = 200
) -> HttpResponse:
    message = selectors.message_get(message_id=message_id)
    if message is None:
        raise Http404
    raw = ""
    outbox_copy = selectors.message_outbox_copy(message=message)
    if outbox_copy is not None:
        raw = outbox_copy.raw  # the bytes delivered, not a rendering of the row again
    elif message.channel == "email":
        try:
            raw = message_mime(message).decode("utf-8", "replace")
        except Exception as exc:  # shown, not raised: the log must open whatever the row holds
            raw = str(exc)
    context = {
        "message": message,
        "raw": raw,
        "outbox_copy": outbox_copy,
        "resent_automatically": resent_automatically(message),
        "can_decide": user_can(request.user, "messaging.templates"),
        # Two tokens: a decision's key replays only the same decision.
        "mark_form": MessageDecisionForm(),
        "resend_form": MessageDecisionForm(),
        "decision_error": error,
    }
    return render(request, "messaging/message_detail.html", context, status=status)


def _message_decide(
    request: HttpRequest, message_id: int, service: Callable[..., Message]
) -> HttpResponseBase:
    form = MessageDecisionForm(request.POST)
    if not form.is_valid():
        return _message_page(request, message_id, error=_("Reload the page."), status=422)
    try:
        service(
            message_id=message_id,
            actor=request.user,
            idempotency_key=f"ui:{form.cleaned_data['form_token']}",
        )
    except DomainError as exc:
        return _message_page(request, message_id, error=exc.message, status=exc.status_code)
    return redirect("messaging:detail", message_id=message_id)


@require_POST
@requires("messaging.templates")
def message_mark_sent(request: HttpRequest, message_id: int) -> HttpResponseBase:
    return _message_decide(request, message_id, queue_services.message_mark_sent)


@require_POST
@requires("messaging.templates")
def message_resend(request: HttpRequest, message_id: int) -> HttpResponseBase:
    return _message_decide(request, message_id, queue_services.message_resend)


@requires("messaging.view")
def templates_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "messaging/templates_list.html", {"templates": selectors.templates_list()}
    )


@requires("messaging.templates")
@_email_html_shown
def template_save(request: HttpRequest, template_id: int | None = None) -> HttpResponseBase:
    template = None
    if template_id is not None:
        template = selectors.template_get(template_id=template_id)
        if template is None:
            raise Http404
    if request.method == "POST":
        form = TemplateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                template_services.template_save(
                    template_id=template_id,
                    key=data["key"],
                    name=data["name"],
                    channel=data["channel"],
                    kind=data["kind"],
                    subject=data["subject"],
                    body_text=data["body_text"],
                    body_html=data["body_html"],
                    actor=request.user,
                )
                return redirect("messaging:templates")
            except DomainError as exc:
                refusal_add(form, exc.field, exc.message)
    else:
        initial = {}
        if template is not None:
            initial = {
                f: getattr(template, f)
                for f in ("key", "name", "channel", "kind", "subject", "body_text", "body_html")
            }
        form = TemplateForm(initial=initial)
    context = {"form": form, "template": template}
    return render(
        request, "messaging/template_edit.html", context, status=422 if form.errors else 200
    )


@require_POST
@requires("messaging.templates")
def template_preview(request: HttpRequest) -> HttpResponse:
    form = TemplateForm(request.POST)
    rendered, error = None, ""
    form.is_valid()  # the preview needs the texts only; key and name may still be empty
    data = {**{f: request.POST.get(f, "") for f in form.fields}, **form.cleaned_data}
    try:
        rendered = template_services.template_preview(
            channel=data.get("channel") or "email",
            subject=data.get("subject") or "",
            body_text=data.get("body_text") or "",
            body_html=data.get("body_html") or "",
            customer_id=form.cleaned_data.get("preview_customer"),
            order_id=form.cleaned_data.get("preview_order"),
        )
    except DomainError as exc:
        error = f"{exc.field}: {exc.message}"
    context = {"rendered": rendered, "error": error}
    return render(
        request, "messaging/template_edit.html#preview", context, status=422 if error else 200
    )


# A mail client's one-click POST (RFC 8058) carries no CSRF token; the signed
# token in the URL is what authorises it, and all it can do is withdraw consent.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe_apply(request: HttpRequest, token: str) -> HttpResponse:
    try:
        address = unsubscribe.unsubscribe_address(token)
    except DomainError as exc:
        return render(request, "messaging/unsubscribe.html", {"error": exc.message}, status=400)
    if request.method == "POST":
        unsubscribe.unsubscribe_apply(token=token)
        return render(request, "messaging/unsubscribe.html", {"address": address, "done": True})
    # GET only asks: link scanners and previews open links, and must not unsubscribe anyone.
    return render(request, "messaging/unsubscribe.html", {"address": address, "token": token})


# Twilio's delivery callback: no session, no CSRF token; its HMAC signature over
# the URL we gave it and the parameters is what authenticates it.
@csrf_exempt
@require_POST
def sms_status_apply(request: HttpRequest) -> HttpResponse:
    url = settings.PROCEDO_BASE_URL + request.get_full_path()
    try:
        delivery_status.sms_status_apply(
            url=url,
            params=request.POST.dict(),
            signature=request.headers.get("X-Twilio-Signature", ""),
        )
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain")
    return HttpResponse(status=204)


# Twilio's inbound-SMS webhook: authenticated by its signature, like the status
# callback. The answer is empty TwiML: we store the message and reply nothing.
@csrf_exempt
@require_POST
def inbound_sms_receive(request: HttpRequest) -> HttpResponse:
    url = settings.PROCEDO_BASE_URL + request.get_full_path()
    try:
        inbound_services.inbound_sms_receive(
            url=url,
            params=request.POST.dict(),
            signature=request.headers.get("X-Twilio-Signature", ""),
        )
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain")
    return HttpResponse(TWIML_EMPTY, content_type="text/xml")


TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
