"""What can be commented on: a subject type, its model, how it is named and linked, who follows it.

The subject apps are read through `apps.get_model`, so collab imports none of
them; an app that adds a subject (leads, tickets) registers it from its
AppConfig.ready() with `comment_subject_register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from procedo.collab.models import NotificationKind


def _url(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


@dataclass(frozen=True)
class CommentSubject:
    name: str
    model_path: str
    permission: str  # reading the subject (and so its comments) needs this
    label: Callable[[Any], str]  # the row -> "Order #1001"
    url: Callable[[int], str]  # the id -> its page
    customer_id: Callable[[Any], int | None] = lambda row: None
    # The row -> (user id, notification kind) of people who hear of every
    # comment on it besides the thread's earlier authors (a task's assignee).
    followers: Callable[[Any], list[tuple[int, str]]] = lambda row: []

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_path)


def _task_url(task_id: int) -> str:
    # The task page comes with issue #6; until it exists, the task list.
    return _url("work:detail", task_id) or _url("work:list")


def _task_followers(task: Any) -> list[tuple[int, str]]:
    if task.assignee_user_id is None:
        return []
    return [(int(task.assignee_user_id), NotificationKind.COMMENT_ON_YOUR_TASK)]


_subjects: dict[str, CommentSubject] = {}


def comment_subject_register(subject: CommentSubject) -> None:
    _subjects[subject.name] = subject


def comment_subject_get(name: str) -> CommentSubject | None:
    return _subjects.get(name)


def comment_subjects() -> dict[str, CommentSubject]:
    return dict(_subjects)


for _subject in (
    CommentSubject(
        name="customer",
        model_path="customers.Customer",
        permission="customers.view",
        label=lambda row: _("customer %(name)s") % {"name": row},
        url=lambda pk: _url("customers:card", pk),
        customer_id=lambda row: int(row.pk),
    ),
    CommentSubject(
        name="order",
        model_path="orders.Order",
        permission="orders.view",
        label=lambda row: _("order #%(number)s") % {"number": row.number},
        url=lambda pk: _url("orders:detail", pk),
        customer_id=lambda row: row.customer_id,
    ),
    CommentSubject(
        name="task",
        model_path="work.Task",
        permission="tasks.view",
        label=lambda row: _("task “%(title)s”") % {"title": row.title},
        url=_task_url,
        customer_id=lambda row: row.customer_id,
        followers=_task_followers,
    ),
    CommentSubject(
        name="sop",
        model_path="sops.Sop",
        permission="sops.view",
        label=lambda row: _("SOP “%(name)s”") % {"name": row.name},
        url=lambda pk: _url("sops:detail", pk),
    ),
    CommentSubject(
        name="sop_run",
        model_path="automation.Run",
        permission="sops.view",
        label=lambda row: _("SOP run #%(id)s") % {"id": row.pk},
        url=lambda pk: _url("automation:run", pk),
    ),
):
    comment_subject_register(_subject)
