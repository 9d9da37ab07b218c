"""The inbox, a conversation, the support settings, the standards, and the two public doors
(Telegram's webhook, the customer's survey link). Thin: services decide."""

from __future__ import annotations

import uuid
from datetime import time, timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.accounts.selectors import teams_all, users_all
from procedo.business import services as business_services
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.orders import selectors as order_selectors
from procedo.support import selectors, telegram
from procedo.support.models import ConversationStatus, Priority
from procedo.support.services import conversations as conversation_services
from procedo.support.services import satisfaction as survey_services
from procedo.support.services import tickets as ticket_services

WEEKDAYS = range(7)


def _int_or_none(raw: str | None, field: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise DomainError(field=field, message=_("Choose one from the list."))
    return int(raw)


def _key(request: HttpRequest) -> str:
    """The form's own token (a fresh one per rendered form): a double submit is one reply."""
    token = (request.POST.get("form_token") or "")[:64]
    try:
        return f"ui:{uuid.UUID(token)}"
    except ValueError:
        return f"ui:{uuid.uuid4()}"


@requires("support.view")
def inbox(request: HttpRequest) -> HttpResponse:
    # Those who run the desk see every conversation first; the others, theirs.
    default = "all" if user_can(request.user, "support.manage") else "mine"
    view = request.GET.get("view") or default
    view = view if view in selectors.VIEWS else default
    status = request.GET.get("status") or ""
    rows = selectors.inbox(user=request.user, view=view, status=status)
    return render(
        request,
        "support/inbox.html",
        {
            "rows": rows,
            "view": view,
            "status": status,
            "views": [
                ("mine", _("Mine and my teams'")),
                ("unassigned", _("Without an owner")),
                ("all", _("All")),
            ],
            "statuses": ConversationStatus.choices,
            "now": timezone.now(),
        },
    )


def _detail(
    request: HttpRequest, conversation_id: int, *, error: DomainError | None = None
) -> HttpResponse:
    found = selectors.conversation_get(conversation_id=conversation_id)
    if found is None:
        raise Http404(_("No conversation %(id)s.") % {"id": conversation_id})
    context: dict[str, Any] = {
        "c": found.conversation,
        "entries": found.entries,
        "ticket": found.ticket,
        "can_work": user_can(request.user, "support.work"),
        "form_token": uuid.uuid4(),
        "users": users_all(),
        "teams": teams_all(),
        "statuses": ConversationStatus.choices,
        "priorities": Priority.choices,
        "categories": selectors.categories(),
        "error": error,
        "now": timezone.now(),
    }
    return render(
        request, "support/conversation.html", context, status=error.status_code if error else 200
    )


@requires("support.view")
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _detail(request, conversation_id)


def _act(request: HttpRequest, conversation_id: int, action: Any, done: str) -> HttpResponse:
    try:
        action()
    except DomainError as exc:
        return _detail(request, conversation_id, error=exc)
    messages.success(request, done)
    return redirect("support:conversation", conversation_id)


@require_POST
@requires("support.work")
def conversation_reply(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _act(
        request,
        conversation_id,
        lambda: conversation_services.conversation_reply(
            conversation_id=conversation_id,
            body=request.POST.get("body", ""),
            actor=request.user,
            idempotency_key=_key(request),
        ),
        _("Reply sent."),
    )


@require_POST
@requires("support.work")
def conversation_note_add(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _act(
        request,
        conversation_id,
        lambda: conversation_services.conversation_note_add(
            conversation_id=conversation_id,
            body=request.POST.get("body", ""),
            actor=request.user,
            idempotency_key=_key(request),
        ),
        _("Note added."),
    )


@require_POST
@requires("support.work")
def conversation_assign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _act(
        request,
        conversation_id,
        lambda: conversation_services.conversation_assign(
            conversation_id=conversation_id,
            assignee_id=_int_or_none(request.POST.get("assignee_id"), "assignee_id"),
            team_id=_int_or_none(request.POST.get("team_id"), "team_id"),
            actor=request.user,
        ),
        _("Owner changed."),
    )


@require_POST
@requires("support.work")
def conversation_change_status(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _act(
        request,
        conversation_id,
        lambda: conversation_services.conversation_change_status(
            conversation_id=conversation_id,
            to_status=request.POST.get("status", ""),
            actor=request.user,
        ),
        _("Status changed."),
    )


@require_POST
@requires("support.work")
def ticket_open(request: HttpRequest, conversation_id: int) -> HttpResponse:
    order_number = request.POST.get("order_number", "").strip()[:41]
    return _act(
        request,
        conversation_id,
        lambda: ticket_services.ticket_open(
            conversation_id=conversation_id,
            priority=request.POST.get("priority", Priority.NORMAL),
            category_id=_int_or_none(request.POST.get("category_id"), "category_id"),
            order_id=(
                order_selectors.order_id_by_number(order_number, field="order_number")
                if order_number
                else None
            ),
            urgent_reason=request.POST.get("urgent_reason", "")[:1000],
            actor=request.user,
        ),
        _("Ticket opened."),
    )


@require_POST
@requires("support.work")
def ticket_priority_set(request: HttpRequest, conversation_id: int) -> HttpResponse:
    ticket_id = selectors.conversation_ticket_id(conversation_id=conversation_id)
    if ticket_id is None:
        raise Http404(_("No ticket in conversation %(id)s.") % {"id": conversation_id})
    return _act(
        request,
        conversation_id,
        lambda: ticket_services.ticket_priority_set(
            ticket_id=ticket_id,
            priority=request.POST.get("priority", ""),
            urgent_reason=request.POST.get("urgent_reason", "")[:1000],
            actor=request.user,
        ),
        _("Priority changed."),
    )


# ---------------------------------------------------------------- settings


def _settings_page(request: HttpRequest, *, error: DomainError | None = None) -> HttpResponse:
    business = business_get()
    context = {
        "policies": selectors.sla_policies(),
        "categories": selectors.categories(),
        "priorities": Priority.choices,
        "teams": teams_all(),
        "standard": selectors.support_settings_get(),
        "business": business,
        "weekdays": [(str(day), _weekday_name(day), str(day) in business.work_days)
                     for day in WEEKDAYS],
        "can_manage": user_can(request.user, "support.manage"),
        "error": error,
        "posted": request.POST if error else {},
    }  # fmt: skip
    return render(
        request, "support/settings.html", context, status=error.status_code if error else 200
    )


def _weekday_name(day: int) -> str:
    from django.utils.dates import WEEKDAYS as NAMES

    return str(NAMES[day])


@requires("support.view")
def support_settings(request: HttpRequest) -> HttpResponse:
    return _settings_page(request)


def _manage(request: HttpRequest, action: Any, done: str) -> HttpResponse:
    try:
        action()
    except DomainError as exc:
        return _settings_page(request, error=exc)
    messages.success(request, done)
    return redirect("support:settings")


@require_POST
@requires("support.manage")
def sla_policy_save(request: HttpRequest) -> HttpResponse:
    post = request.POST
    return _manage(
        request,
        lambda: ticket_services.sla_policy_save(
            priority=post.get("priority", ""),
            category_id=_int_or_none(post.get("category_id"), "category_id"),
            first_response_minutes=post.get("first_response_minutes", ""),
            resolution_minutes=post.get("resolution_minutes", ""),
            escalate_to_id=_int_or_none(post.get("escalate_to_id"), "escalate_to_id"),
            actor=request.user,
        ),
        _("SLA policy saved."),
    )


@require_POST
@requires("support.manage")
def ticket_category_create(request: HttpRequest) -> HttpResponse:
    return _manage(
        request,
        lambda: ticket_services.ticket_category_create(
            name=request.POST.get("name", "")[:200], actor=request.user
        ),
        _("Category added."),
    )


@require_POST
@requires("support.manage")
def support_settings_save(request: HttpRequest) -> HttpResponse:
    return _manage(
        request,
        lambda: ticket_services.support_settings_save(
            first_answer_minutes=request.POST.get("first_answer_minutes", ""),
            default_team_id=_int_or_none(request.POST.get("default_team_id"), "default_team_id"),
            actor=request.user,
        ),
        _("Response standard saved."),
    )


def _time(raw: str | None, field: str) -> time:
    try:
        return time.fromisoformat((raw or "")[:8])
    except ValueError:
        raise DomainError(field=field, message=_("Give a time such as 09:00.")) from None


@require_POST
@requires("support.manage")
def business_calendar_set(request: HttpRequest) -> HttpResponse:
    post = request.POST
    return _manage(
        request,
        lambda: business_services.business_calendar_set(
            country=post.get("country", "")[:10],
            work_days="".join(post.getlist("work_days"))[:7],
            work_start=_time(post.get("work_start"), "work_start"),
            work_end=_time(post.get("work_end"), "work_end"),
            actor_id=request.user.pk,
        ),
        _("Working calendar saved."),
    )


@requires("support.view")
def response_standards(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    since = now - timedelta(days=30)
    return render(
        request,
        "support/standards.html",
        {
            "standards": selectors.response_standards(since=since, now=now),
            "csat": selectors.csat_summary(since=since, until=now),
        },
    )


# ---------------------------------------------------------------- public doors


# Telegram's webhook: no session, no CSRF token; the secret header setWebhook was
# given is what authenticates it. A 2xx tells Telegram to stop redelivering.
@csrf_exempt
@require_POST
def telegram_webhook(request: HttpRequest) -> HttpResponse:
    try:
        telegram.update_receive(
            secret=request.headers.get(telegram.SECRET_HEADER, ""), body=request.body
        )
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain")
    return HttpResponse(status=204)


def survey(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's rating page: the signed link is the only key; it works once."""
    context: dict[str, Any] = {"token": token, "ratings": range(1, 6)}
    status = 200
    try:
        if request.method == "POST":
            context["answered"] = survey_services.survey_answer(
                token=token,
                rating=request.POST.get("rating", ""),
                comment=request.POST.get("comment", "")[: survey_services.COMMENT_MAX + 1],
            )
            context["thanks"] = True
        else:
            ticket = survey_services.survey_ticket(token)
            context["answered"] = ticket if ticket.csat_rating is not None else None
    except DomainError as exc:
        context["error"] = exc
        status = exc.status_code
    return render(request, "support/survey.html", context, status=status)
