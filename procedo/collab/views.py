"""Comments posted from any card (htmx swaps the thread), the notifications page and the bell."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from procedo.accounts.decorators import requires
from procedo.collab import selectors, services
from procedo.collab.forms import CommentForm, NotificationSettingForm
from procedo.collab.models import Comment
from procedo.collab.panel import panel_context
from procedo.collab.subjects import comment_subject_get
from procedo.core.errors import DomainError
from procedo.core.forms import refusal_add


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _back(request: HttpRequest, subject_type: str, subject_id: int) -> HttpResponse:
    subject = comment_subject_get(subject_type)
    url = subject.url(subject_id) if subject else ""
    return redirect(url or "collab:notifications")


def _panel(
    request: HttpRequest,
    subject_type: str,
    subject_id: int,
    *,
    form: CommentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = panel_context(
        user=request.user, subject_type=subject_type, subject_id=subject_id, form=form
    )
    return render(request, "collab/_panel.html", context, status=status)


@require_POST
@requires("collab.comment")
def comment_create(request: HttpRequest, subject_type: str, subject_id: int) -> HttpResponse:
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.comment_create(
                subject_type=subject_type,
                subject_id=subject_id,
                body=form.cleaned_data["body"],
                urgent=form.cleaned_data["urgent"],
                urgent_reason=form.cleaned_data["urgent_reason"],
                actor=request.user,
                idempotency_key=f"ui:{form.cleaned_data['form_token']}",
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            form = CommentForm()  # a fresh token for the next comment
    failed = bool(form.errors)
    if not _htmx(request):
        if failed:
            for errors in form.errors.values():
                messages.error(request, " ".join(str(error) for error in errors))
        return _back(request, subject_type, subject_id)
    return _panel(request, subject_type, subject_id, form=form, status=422 if failed else 200)


@require_POST
@requires("collab.comment")
def comment_delete(request: HttpRequest, comment_id: int) -> HttpResponse:
    comment = Comment.objects.filter(pk=comment_id).first()
    if comment is None:
        raise Http404(_("No such comment."))
    status = 200
    try:
        services.comment_delete(comment_id=comment_id, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        status = 403
    if not _htmx(request):
        return _back(request, comment.subject_type, comment.subject_id)
    return _panel(request, comment.subject_type, comment.subject_id, status=status)


@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The polled bell. Logged out: 204, so htmx swaps nothing (never a login page in the bar)."""
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    counts = selectors.notifications_unread_counts(user=request.user)
    context = {"unread": counts.unread, "urgent": counts.urgent, "with_styles": False}
    return render(request, "collab/_bell.html", context)


@requires("notifications.view")
def notification_list(request: HttpRequest) -> HttpResponse:
    unread = request.GET.get("unread") == "1"
    try:
        page = selectors.notifications_page(
            user=request.user, unread=unread, cursor=request.GET.get("cursor") or None
        )
    except DomainError:
        page = selectors.notifications_page(user=request.user, unread=unread)
    counts = selectors.notifications_unread_counts(user=request.user)
    context = {
        "page": page,
        "unread_only": unread,
        "unread": counts.unread,
        "newest_id": max((n.pk for n in page.items), default=None),
        "setting_form": NotificationSettingForm(
            initial={"notify_by_email": selectors.notification_email_on(user=request.user)}
        ),
    }
    return render(request, "collab/notifications.html", context)


@require_POST
@requires("notifications.view")
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    try:
        notification = services.notification_read(
            notification_id=notification_id, user=request.user
        )
    except DomainError as exc:
        raise Http404(exc.message) from exc
    if not _htmx(request):
        return redirect("collab:notifications")
    response = render(request, "collab/_notification.html", {"notification": notification})
    response["HX-Trigger"] = "notifications-changed"
    return response


@require_POST
@requires("notifications.view")
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("up_to_id", "")
    marked = services.notifications_read_all(
        user=request.user, up_to_id=int(raw) if raw.isdigit() else None
    )
    if marked:
        messages.success(request, _("%(n)s marked read.") % {"n": marked})
    return redirect(request.POST.get("next") or "collab:notifications")


@require_GET
@requires("notifications.view")
def notification_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Follow a notification's link; opening it is reading it."""
    try:
        notification = services.notification_read(
            notification_id=notification_id, user=request.user
        )
    except DomainError as exc:
        raise Http404(exc.message) from exc
    target = notification.url
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect("collab:notifications")
    return redirect(target)


@require_POST
@requires("notifications.view")
def notification_setting_set(request: HttpRequest) -> HttpResponse:
    form = NotificationSettingForm(request.POST)
    if form.is_valid():
        services.notification_setting_set(
            user=request.user, notify_by_email=form.cleaned_data["notify_by_email"]
        )
        messages.success(request, _("Saved."))
    return redirect("collab:notifications")
