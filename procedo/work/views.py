"""My work, the open tasks, one task with its checklist, a task by hand (thin views).

htmx: answering a checklist item saves it and swaps the item in place;
"Done" and "Take" on My work swap the row out without leaving the page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.accounts.roles import Role
from procedo.accounts.selectors import teams_all, users_all
from procedo.core.errors import DomainError
from procedo.core.exports import export_format, filters_known
from procedo.core.forms import refusal_add
from procedo.core.requests import HtmxHttpRequest
from procedo.events.exports import export_stream
from procedo.work import selectors
from procedo.work.forms import TaskCloseForm, TaskCreateForm
from procedo.work.models import Task
from procedo.work.registry import task_panels
from procedo.work.services import lifecycle as services


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


@requires("tasks.view")
def my_work(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    day = selectors.my_day(user=request.user, now=now)
    sections = [
        (_("Overdue"), day.overdue, _("Nothing overdue."), "overdue"),
        (_("Due today"), day.today, _("Nothing else due today."), "today"),
        (_("Upcoming"), day.upcoming, _("Nothing later."), "upcoming"),
    ]
    return render(
        request,
        "work/my_work.html",
        {
            "day": day,
            "sections": sections,
            "now": now,
            "can_work": user_can(request.user, "tasks.work"),
        },
    )


@requires("tasks.view")
def task_list(request: HttpRequest) -> HttpResponse:
    mine = request.GET.get("all") != "1"
    try:
        page = selectors.tasks_open(
            user=request.user, mine=mine, cursor=request.GET.get("cursor") or None
        )
    except DomainError:
        page = selectors.tasks_open(user=request.user, mine=mine)
    selectors.subject_labels_attach(page.items)
    rows = [(task, services.task_can_work(task=task, user=request.user)) for task in page.items]
    return render(request, "work/task_list.html", {"rows": rows, "page": page, "mine": mine})


def _task_context(request: HttpRequest, task: Task) -> dict[str, Any]:
    selectors.subject_labels_attach([task])
    return {
        "task": task,
        "items": list(task.items.all()),
        "workable": task.is_open and services.task_can_work(task=task, user=request.user),
        "panels": task_panels(task),
    }


@requires("tasks.view")
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_get(task_id=task_id)
    if task is None:
        raise Http404(_("No task %(id)s.") % {"id": task_id})
    return render(request, "work/task_detail.html", _task_context(request, task))


def _posted_answers(request: HttpRequest) -> dict[str, Any]:
    """Item key → posted value for every item the form carried (an unticked box posts none)."""
    return {key: request.POST.get(f"item-{key}") for key in request.POST.getlist("present")}


@require_POST
@requires("tasks.work")
def task_answer(request: HttpRequest, task_id: int) -> HttpResponse:
    """htmx: save one item's answer and return the item; a refusal comes back beside it."""
    error = ""
    try:
        items = services.checklist_answer(
            task_id=task_id, actor=request.user, answers=_posted_answers(request)
        )
    except DomainError as exc:
        error = exc.message
        items = list(selectors.task_require(task_id=task_id).items.all())
    task = selectors.task_require(task_id=task_id)
    keys = set(request.POST.getlist("present"))
    shown = [item for item in items if item.key in keys]
    return render(
        request,
        "work/_checklist_items.html",
        {"task": task, "items": shown, "workable": True, "error": error, "saved": not error},
    )


@require_POST
@requires("tasks.work")
def task_complete(request: HtmxHttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_require(task_id=task_id)
    form = TaskCloseForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        services.task_complete(
            task_id=task_id,
            actor=request.user,
            note=note,
            answers=_posted_answers(request) if task.checklist_kind else None,
        )
    except DomainError as exc:
        if request.htmx:
            return HttpResponse(format_html('<p class="errorlist">{}</p>', exc.message), status=422)
        messages.error(request, f"{task.title}: {exc.message}")
        return redirect("work:detail", task_id=task_id)
    if request.htmx:
        return HttpResponse("")  # the row leaves My work
    messages.success(request, _("“%(title)s” is done.") % {"title": task.title})
    return redirect(_next_url(request, "work:mine"))


@require_POST
@requires("tasks.work")
def task_skip(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_require(task_id=task_id)
    form = TaskCloseForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        services.task_skip(task_id=task_id, actor=request.user, note=note)
    except DomainError as exc:
        messages.error(request, f"{task.title}: {exc.message}")
        return redirect("work:detail", task_id=task_id)
    messages.success(request, _("“%(title)s” is skipped.") % {"title": task.title})
    return redirect(_next_url(request, "work:mine"))


@require_POST
@requires("tasks.work")
def task_take(request: HtmxHttpRequest, task_id: int) -> HttpResponse:
    try:
        task = services.task_take(task_id=task_id, actor=request.user)
    except DomainError as exc:
        if request.htmx:
            return HttpResponse(
                format_html('<li class="errorlist">{}</li>', exc.message), status=409
            )
        messages.error(request, exc.message)
        return redirect("work:mine")
    if request.htmx:
        selectors.subject_labels_attach([task])
        context = {"task": task, "can_work": True, "now": timezone.now()}
        return render(request, "work/_task_row.html", context)
    messages.success(request, _("“%(title)s” is yours now.") % {"title": task.title})
    return redirect("work:detail", task_id=task.pk)


@require_POST
@requires("tasks.work")
def task_release(request: HttpRequest, task_id: int) -> HttpResponse:
    try:
        task = services.task_release(task_id=task_id, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("work:detail", task_id=task_id)
    messages.success(request, _("“%(title)s” is back in its queue.") % {"title": task.title})
    return redirect("work:mine")


@requires("tasks.view")
def task_export(request: HttpRequest) -> StreamingHttpResponse:
    """The open tasks as a file (`?format=csv|xlsx`); `all=1` as on the list: every open task."""
    fmt = export_format(request.GET.get("format"))
    applied = filters_known(request.GET, ["all"])
    return export_stream(
        request=request,
        actor=request.user,
        list_name="tasks",
        fmt=fmt,
        filters=applied,
        columns=selectors.TASK_COLUMNS,
        rows=selectors.task_export_rows(user=request.user, mine=applied.get("all") != "1"),
    )


def _assignee_choices() -> list[tuple[str, Any]]:
    people = [(f"user:{user.pk}", str(user)) for user in users_all().filter(is_active=True)]
    teams = [(f"team:{team.pk}", team.name) for team in teams_all()]
    roles = [(f"role:{value}", label) for value, label in Role.choices]
    return [
        (_("People"), people),
        *([(_("Teams"), teams)] if teams else []),
        (_("Everyone with a role"), roles),
    ]


@requires("tasks.work")
def task_create(request: HttpRequest) -> HttpResponse:
    initial = {
        "assignee": f"user:{request.user.pk}",
        "subject_type": request.GET.get("subject_type", ""),
        "subject_id": request.GET.get("subject_id") or None,
    }
    form = TaskCreateForm(request.POST or None, initial=initial, assignees=_assignee_choices())
    if request.method == "POST" and form.is_valid():
        try:
            task = services.task_create_by_hand(actor=request.user, **form.service_arguments())
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            messages.success(request, _("Task “%(title)s” created.") % {"title": task.title})
            return redirect("work:detail", task_id=task.pk)
    return render(request, "work/task_form.html", {"form": form})
