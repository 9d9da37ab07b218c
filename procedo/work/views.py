"""The tasks page: open tasks, the person's own first; complete or skip one (thin views)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.permissions import user_can
from procedo.core.decorators import requires
from procedo.core.errors import DomainError
from procedo.work import selectors, services
from procedo.work.forms import TaskCloseForm


@requires("tasks.view")
def task_list(request: HttpRequest) -> HttpResponse:
    mine = request.GET.get("all") != "1"
    try:
        page = selectors.tasks_open(
            user=request.user, mine=mine, cursor=request.GET.get("cursor") or None
        )
    except DomainError:
        page = selectors.tasks_open(user=request.user, mine=mine)
    rows = [(task, services.task_can_work(task=task, user=request.user)) for task in page.items]
    context = {
        "rows": rows,
        "page": page,
        "mine": mine,
        "can_work": user_can(request.user, "tasks.work"),
    }
    return render(request, "work/task_list.html", context)


def _close(request: HttpRequest, task_id: int, *, skip: bool) -> HttpResponse:
    task = selectors.task_get(task_id=task_id)
    form = TaskCloseForm(request.POST, items=len(task.checklist) if task else 0)
    if task is None or not form.is_valid():
        messages.error(request, _("No such task."))
        return redirect("work:list")
    try:
        if skip:
            services.task_skip(task_id=task_id, actor=request.user, note=form.cleaned_data["note"])
        else:
            services.task_complete(
                task_id=task_id,
                actor=request.user,
                note=form.cleaned_data["note"],
                checked=form.cleaned_data["checked"] if task.checklist else None,
            )
    except DomainError as exc:
        messages.error(request, f"{task.title}: {exc.message}")
    else:
        messages.success(request, _("“%(title)s” is closed.") % {"title": task.title})
    return redirect(request.POST.get("next") or "work:list")


@require_POST
@requires("tasks.work")
def task_complete(request: HttpRequest, task_id: int) -> HttpResponse:
    return _close(request, task_id, skip=False)


@require_POST
@requires("tasks.work")
def task_skip(request: HttpRequest, task_id: int) -> HttpResponse:
    return _close(request, task_id, skip=True)
