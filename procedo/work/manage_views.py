"""The manager's pages (thin): work per person and queue, forgotten tasks, hand-over of work.

Hand-over is two steps on one page: GET with the person and the target shows
the preview (exactly what moves, with its fingerprint); POST with that
fingerprint moves it, or says what changed and moves nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.accounts.roles import Role
from procedo.accounts.selectors import teams_all, users_all
from procedo.core.errors import DomainError
from procedo.work import selectors
from procedo.work.models import Task
from procedo.work.selectors import Unattended
from procedo.work.services import handover

ROLES = dict(Role.choices)

REASONS = {
    Unattended.NOBODY: gettext_lazy("no person, team or role"),
    Unattended.INACTIVE: gettext_lazy("the person is deactivated"),
    Unattended.EMPTY_TEAM: gettext_lazy("nobody active in the team"),
    Unattended.EMPTY_ROLE: gettext_lazy("nobody active has the role"),
}


def _holder(task: Task) -> str:
    """Who holds a task now, as a person reads it: a person, a team's queue, a role's queue."""
    if task.assignee_user is not None:
        return str(task.assignee_user)
    if task.assignee_team is not None:
        return _("Team: %(name)s") % {"name": task.assignee_team.name}
    if task.assignee_role:
        return _("Role: %(role)s") % {"role": ROLES.get(task.assignee_role, task.assignee_role)}
    return "—"


def _with_holders(tasks: list[Task]) -> list[tuple[Task, str]]:
    return [(task, _holder(task)) for task in tasks]


@requires("tasks.manage")
def team_work(request: HttpRequest) -> HttpResponse:
    """Open and overdue work per person and per queue; numbers link to the tasks behind them."""
    now = timezone.now()
    people = selectors.workload_people(now=now)
    queues = selectors.workload_queues(now=now)
    loads = [*people, *queues]
    context = {
        "people": people,
        "queues": queues,
        "total_open": sum(load.open for load in loads),
        "total_overdue": sum(load.overdue for load in loads),
        "total_escalated": sum(load.escalated for load in loads),
        "forgotten": selectors.tasks_unattended(limit=0).total,
    }
    return render(request, "work/team_work.html", context)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@requires("tasks.manage")
def team_tasks(request: HttpRequest) -> HttpResponse:
    """The open tasks behind a number of the manager's view (?assignee, team, role, overdue)."""
    filters: dict[str, Any] = {
        "assignee_id": _int(request.GET.get("assignee")),
        "team_id": _int(request.GET.get("team")),
        "role": request.GET.get("role", ""),
        "overdue": request.GET.get("overdue") == "1",
        "escalated": request.GET.get("escalated") == "1",
    }
    try:
        page = selectors.tasks_open(**filters, cursor=request.GET.get("cursor") or None)
    except DomainError:
        page = selectors.tasks_open(**filters)
    selectors.subject_labels_attach(page.items)
    person = (
        users_all().filter(pk=filters["assignee_id"]).first() if filters["assignee_id"] else None
    )
    team = teams_all().filter(pk=filters["team_id"]).first() if filters["team_id"] else None
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "page": page,
        "rows": _with_holders(page.items),
        "filters": filters,
        "person": person,
        "team": team,
        "role_label": ROLES.get(filters["role"], filters["role"]),
        "query": query.urlencode(),
        "now": timezone.now(),
    }
    return render(request, "work/team_tasks.html", context)


@requires("tasks.manage")
def unattended(request: HttpRequest) -> HttpResponse:
    """Nothing is forgotten: open tasks nobody will do, and a hand-over for them."""
    report = selectors.tasks_unattended()
    rows = [
        (task, REASONS[task.reason], _holder(task))  # type: ignore[attr-defined]
        for task in report.items
    ]
    inactive = {
        task.assignee_user_id: task.assignee_user
        for task in report.items
        if task.reason == Unattended.INACTIVE  # type: ignore[attr-defined]
    }
    context = {
        "rows": rows,
        "report": report,
        "inactive": list(inactive.values()),
        "targets": _targets(),
        "now": timezone.now(),
    }
    return render(request, "work/unattended.html", context)


def _targets() -> list[tuple[str, list[tuple[str, str]]]]:
    people = [
        (f"user:{user.pk}", str(user))
        for user in users_all().filter(is_active=True)
        if user_can(user, "tasks.work")
    ]
    teams = [(f"team:{team.pk}", team.name) for team in teams_all()]
    return [(_("People"), people), *([(_("Team queues"), teams)] if teams else [])]


class HandoverForm(forms.Form):
    """`to` is "user:<id>" or "team:<id>"; `task` (repeated) hands over chosen tasks instead."""

    from_user = forms.IntegerField(label=gettext_lazy("Whose work"), required=False)
    to = forms.CharField(label=gettext_lazy("To"), required=False)
    token = forms.CharField(required=False, widget=forms.HiddenInput)
    form_token = forms.UUIDField(required=False, widget=forms.HiddenInput)

    FIELDS = {"from_user_id": "from_user", "to_user_id": "to", "to_team_id": "to"}

    def __init__(self, *args: Any, task_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.task_ids = task_ids

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        to = (data.get("to") or "").strip()
        if not to:
            self.add_error("to", _("Choose a person or a team queue."))
            return data
        kind, _sep, raw = to.partition(":")
        if kind not in {"user", "team"} or not raw.isdigit():
            self.add_error("to", _("Choose a person or a team queue."))
            return data
        data["to_user_id"] = int(raw) if kind == "user" else None
        data["to_team_id"] = int(raw) if kind == "team" else None
        if data.get("from_user") is None and not self.task_ids:
            self.add_error("from_user", _("Choose the person whose work is handed over."))
        return data

    def arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "from_user_id": data.get("from_user"),
            "task_ids": self.task_ids or None,
            "to_user_id": data["to_user_id"],
            "to_team_id": data["to_team_id"],
        }

    def add_domain_error(self, exc: DomainError) -> None:
        self.add_error(self.FIELDS.get(exc.field), exc.message)


def _task_ids(values: list[str]) -> list[int]:
    return [int(value) for value in values if value.isdigit()]


@requires("tasks.manage")
def handover_page(request: HttpRequest) -> HttpResponse:
    """Choose whose work and to whom, see exactly what moves, confirm."""
    source = request.POST if request.method == "POST" else request.GET
    task_ids = _task_ids(source.getlist("task"))
    bound = request.method == "POST" or "to" in request.GET
    form = HandoverForm(source if bound else None, initial=request.GET, task_ids=task_ids)
    preview = None
    if bound and form.is_valid():
        try:
            if request.method == "POST":
                token = form.cleaned_data.get("token") or None
                key = form.cleaned_data.get("form_token")
                result = handover.handover_do(
                    actor=request.user,
                    token=token,
                    idempotency_key=f"ui:handover:{key}" if key else None,
                    **form.arguments(),
                )
                if not result.repeated:
                    messages.success(
                        request,
                        ngettext(
                            "%(count)s task handed over.",
                            "%(count)s tasks handed over.",
                            result.moved,
                        )
                        % {"count": result.moved},
                    )
                return redirect("work:team")
            preview = handover.handover_preview(actor=request.user, **form.arguments())
        except DomainError as exc:
            form.add_domain_error(exc)
            if request.method == "POST" and exc.field == "token":
                preview = _preview_quietly(request, form)
    people = users_all()
    context = {
        "form": form,
        "preview": preview,
        "moves": _with_holders(preview.tasks) if preview else [],
        "people": people,
        "targets": _targets(),
        "task_ids": task_ids,
        "chosen_from": _int(str(source.get("from_user") or "")),
        "chosen_to": source.get("to", ""),
        "form_token": uuid.uuid4(),
        "now": timezone.now(),
    }
    return render(request, "work/handover.html", context, status=422 if form.errors else 200)


def _preview_quietly(request: HttpRequest, form: HandoverForm) -> handover.HandoverPreview | None:
    """The fresh preview beside a refusal because the work changed; None if it fails too."""
    try:
        return handover.handover_preview(actor=request.user, **form.arguments())
    except DomainError:
        return None
