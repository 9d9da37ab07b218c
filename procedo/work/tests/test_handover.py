"""Hand-over: the preview is exactly what moves; bad targets change nothing; events record it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from procedo.accounts.models import Team, User
from procedo.accounts.roles import Role
from procedo.accounts.services import user_set_active
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import engine_drain, event_trigger, order, sop_live, task_step
from procedo.collab.models import Notification
from procedo.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from procedo.events.models import Event
from procedo.testing import logged_in, token_client
from procedo.work.models import Task, TaskState
from procedo.work.services import handover
from procedo.work.services import lifecycle as services

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user: Callable[..., User]) -> dict[str, User]:
    return {
        "manager": make_user(Role.MANAGER, username="manager"),
        "olena": make_user(Role.OPERATOR, username="olena", first_name="Олена"),
        "ivan": make_user(Role.OPERATOR, username="ivan", first_name="Іван"),
        "taras": make_user(Role.SUPPORT, username="taras", first_name="Тарас"),
    }


def _tasks_of(user: User, n: int = 3) -> list[Task]:
    now = timezone.now()
    made = [
        services.task_create(
            title=f"Задача {i}", assignee_user_id=user.pk, due_at=now + timedelta(hours=2 * i - 1)
        )
        for i in range(n)
    ]
    services.task_start(task_id=made[-1].pk, actor=user)
    return made


def _state(*tasks: Task) -> list[tuple[int | None, int | None, str]]:
    fresh = Task.objects.filter(pk__in=[t.pk for t in tasks]).order_by("pk")
    return [(t.assignee_user_id, t.assignee_team_id, t.state) for t in fresh]


def test_the_preview_is_exactly_what_moves(people: dict[str, User]) -> None:
    olena, ivan, manager = people["olena"], people["ivan"], people["manager"]
    hers = _tasks_of(olena)
    closed = services.task_create(title="Закрита", assignee_user_id=olena.pk)
    services.task_complete(task_id=closed.pk, actor=olena)
    others = _tasks_of(people["taras"], 1)

    preview = handover.handover_preview(actor=manager, from_user_id=olena.pk, to_user_id=ivan.pk)
    assert [t.pk for t in preview.tasks] == [t.pk for t in hers]
    assert (preview.count, preview.overdue, preview.by_sop) == (3, 1, [("", 3)])

    result = handover.handover_do(
        actor=manager, from_user_id=olena.pk, to_user_id=ivan.pk, token=preview.token
    )

    assert result.moved == 3
    assert set(Task.objects.filter(assignee_user=ivan).values_list("pk", flat=True)) == {
        t.pk for t in hers
    }
    assert _state(*hers) == [(ivan.pk, None, TaskState.OPEN)] * 3  # in progress starts again
    assert _state(closed) == [(olena.pk, None, TaskState.DONE)]
    assert _state(*others)[0][0] == people["taras"].pk
    moved = Event.objects.filter(event_type="task.handed_over").order_by("subject_id")
    assert [(e.subject_id, e.actor_id, e.payload["to_user_id"]) for e in moved] == [
        (t.pk, manager.pk, ivan.pk) for t in hers
    ]
    [summary] = Event.objects.filter(event_type="work.handover")
    assert (summary.subject_type, summary.subject_id) == ("user", olena.pk)
    assert summary.payload["count"] == 3 and summary.payload["overdue"] == 1
    assert summary.payload["by_sop"] == {"By hand": 3}
    assert sorted(summary.payload["task_ids"]) == sorted(t.pk for t in hers)
    [to_ivan] = Notification.objects.filter(recipient=ivan, kind="handover")
    assert to_ivan.title == "3 open tasks of Олена are yours now"
    [to_olena] = Notification.objects.filter(recipient=olena, kind="handover")
    assert to_olena.title == "Your 3 open tasks went to Іван"


def test_handing_over_to_a_team_puts_the_work_in_its_queue(people: dict[str, User]) -> None:
    olena, ivan, taras = people["olena"], people["ivan"], people["taras"]
    team = Team.objects.create(name="Склад")
    team.members.add(ivan, taras)
    hers = _tasks_of(olena, 2)
    user_set_active(user_id=olena.pk, active=False, actor=None)

    result = handover.handover_do(
        actor=people["manager"], from_user_id=olena.pk, to_team_id=team.pk
    )

    assert result.moved == 2
    assert _state(*hers) == [(None, team.pk, TaskState.OPEN)] * 2
    for member in (ivan, taras):
        [note] = Notification.objects.filter(recipient=member, kind="handover")
        assert note.title == "2 tasks of Олена are in the Склад queue now"
    assert not Notification.objects.filter(recipient=olena).exists()  # she has left


def _nothing_changed(hers: list[Task], olena: User) -> None:
    assert {holder for holder, _team, _state in _state(*hers)} == {olena.pk}
    assert not Event.objects.filter(event_type__in=["task.handed_over", "work.handover"]).exists()
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("target", "field", "message"),
    [
        ("inactive", "to_user_id", "Іван is deactivated"),
        ("self", "to_user_id", "someone else"),
        ("viewer", "to_user_id", "cannot work on tasks"),
        ("missing", "to_user_id", "No person"),
        ("empty_team", "to_team_id", "Nobody active is in the team"),
        ("both", "to_user_id", "one person or one team"),
    ],
)
def test_a_bad_target_is_refused_naming_its_field_and_nothing_changes(
    people: dict[str, User],
    make_user: Callable[..., User],
    target: str,
    field: str,
    message: str,
) -> None:
    olena, ivan = people["olena"], people["ivan"]
    hers = _tasks_of(olena, 1)
    empty = Team.objects.create(name="Порожня")
    empty.members.add(make_user(Role.OPERATOR, username="left"))
    user_set_active(user_id=User.objects.get(username="left").pk, active=False, actor=None)
    arguments: dict[str, Any] = {
        "inactive": {"to_user_id": ivan.pk},
        "self": {"to_user_id": olena.pk},
        "viewer": {"to_user_id": make_user(Role.VIEWER).pk},
        "missing": {"to_user_id": 999_999},
        "empty_team": {"to_team_id": empty.pk},
        "both": {"to_user_id": ivan.pk, "to_team_id": empty.pk},
    }[target]
    if target == "inactive":
        user_set_active(user_id=ivan.pk, active=False, actor=None)
    Event.objects.all().delete()
    with pytest.raises((DomainError, NotFound)) as refused:
        handover.handover_do(actor=people["manager"], from_user_id=olena.pk, **arguments)
    assert refused.value.field == field and message in refused.value.message
    _nothing_changed(hers, olena)


def test_work_that_changed_since_the_preview_is_not_moved(people: dict[str, User]) -> None:
    olena, ivan, manager = people["olena"], people["ivan"], people["manager"]
    hers = _tasks_of(olena, 2)
    preview = handover.handover_preview(actor=manager, from_user_id=olena.pk, to_user_id=ivan.pk)
    services.task_create(title="Нова", assignee_user_id=olena.pk)
    Event.objects.all().delete()
    with pytest.raises(Conflict) as refused:
        handover.handover_do(
            actor=manager, from_user_id=olena.pk, to_user_id=ivan.pk, token=preview.token
        )
    assert refused.value.field == "token"
    _nothing_changed(hers, olena)


def test_only_a_manager_hands_over_and_the_same_key_moves_once(people: dict[str, User]) -> None:
    olena, ivan = people["olena"], people["ivan"]
    _tasks_of(olena, 2)
    with pytest.raises(PermissionDenied):
        handover.handover_do(actor=ivan, from_user_id=olena.pk, to_user_id=ivan.pk)
    for _ in range(2):
        handover.handover_do(
            actor=people["manager"],
            from_user_id=olena.pk,
            to_user_id=ivan.pk,
            idempotency_key="ui:handover:k1",
        )
    assert Event.objects.filter(event_type="work.handover").count() == 1
    assert Event.objects.filter(event_type="task.handed_over").count() == 2
    with pytest.raises(DomainError, match="no open tasks") as empty:
        handover.handover_do(actor=people["manager"], from_user_id=olena.pk, to_user_id=ivan.pk)
    assert empty.value.field == "from_user_id"


def test_a_hand_over_is_set_based(people: dict[str, User]) -> None:
    counts = []
    for person, n in ((people["olena"], 2), (people["taras"], 25)):
        _tasks_of(person, n)
        with CaptureQueriesContext(connection) as captured:
            handover.handover_do(
                actor=people["manager"], from_user_id=person.pk, to_user_id=people["ivan"].pk
            )
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


@pytest.mark.django_db(transaction=True)
def test_the_preview_counts_tasks_by_sop(people: dict[str, User], quiet: None) -> None:
    olena = people["olena"]
    sop_live(
        name="Підтвердження замовлень",
        definition={
            "triggers": [event_trigger()],
            "steps": [task_step("confirm", assignee={"kind": "user", "user_id": olena.pk})],
        },
    )
    order()
    order()
    engine_drain()
    executor.runs_advance()
    services.task_create(title="Вручну", assignee_user_id=people["olena"].pk)
    preview = handover.handover_preview(
        actor=people["manager"], from_user_id=people["olena"].pk, to_user_id=people["ivan"].pk
    )
    assert preview.by_sop == [("Підтвердження замовлень", 2), ("", 1)]


def test_the_page_previews_then_moves(people: dict[str, User]) -> None:
    olena, ivan = people["olena"], people["ivan"]
    hers = _tasks_of(olena, 2)
    client = logged_in(people["manager"])
    url = reverse("work:handover")

    page = client.get(url, {"from_user": str(olena.pk), "to": f"user:{ivan.pk}"})

    assert page.status_code == 200
    preview = page.context["preview"]
    assert [t.pk for t in preview.tasks] == [t.pk for t in hers]
    html = page.content.decode()
    assert "2 open tasks of Олена move to Іван" in html
    assert all(f'id="move-{t.pk}"' in html for t in hers)
    form = {
        "from_user": olena.pk,
        "to": f"user:{ivan.pk}",
        "token": preview.token,
        "form_token": "6a1f3c52-3f5c-4d7e-9d41-3b5fdc1a0b11",
    }
    done = client.post(url, form)
    assert done.status_code == 302 and done["Location"] == reverse("work:team")
    assert _state(*hers) == [(ivan.pk, None, TaskState.OPEN)] * 2
    assert client.post(url, form).status_code == 302  # a double click moves nothing again
    assert Event.objects.filter(event_type="work.handover").count() == 1


def test_the_page_names_the_field_of_an_inactive_target(people: dict[str, User]) -> None:
    olena, ivan = people["olena"], people["ivan"]
    hers = _tasks_of(olena, 1)
    user_set_active(user_id=ivan.pk, active=False, actor=None)
    Event.objects.all().delete()
    page = logged_in(people["manager"]).post(
        reverse("work:handover"), {"from_user": olena.pk, "to": f"user:{ivan.pk}"}
    )
    assert page.status_code == 422
    assert "is deactivated" in page.context["form"].errors["to"][0]
    _nothing_changed(hers, olena)
    assert logged_in(olena).get(reverse("work:handover")).status_code == 403


def test_the_people_page_offers_a_hand_over(people: dict[str, User]) -> None:
    olena = people["olena"]
    user_set_active(user_id=olena.pk, active=False, actor=None)
    page = logged_in(people["manager"]).get(reverse("accounts:users"))
    assert f"{reverse('work:handover')}?from_user={olena.pk}" in page.content.decode()


def test_the_api_previews_and_hands_over(people: dict[str, User]) -> None:
    olena, ivan, taras = people["olena"], people["ivan"], people["taras"]
    hers = _tasks_of(olena, 2)
    client = token_client(people["manager"])

    def post(path: str, body: dict[str, Any], **extra: Any) -> Any:
        return client.post(
            f"/api/tasks/manage{path}", body, content_type="application/json", **extra
        )

    user_set_active(user_id=taras.pk, active=False, actor=None)
    refused = post("/handover", {"from_user_id": olena.pk, "to_user_id": taras.pk})
    assert refused.status_code == 422 and refused.json()["field"] == "to_user_id"

    preview = post("/handover/preview", {"from_user_id": olena.pk, "to_user_id": ivan.pk}).json()
    assert [t["id"] for t in preview["tasks"]] == [t.pk for t in hers]
    assert preview["by_sop"] == [{"sop": "", "count": 2}]
    body = {"from_user_id": olena.pk, "to_user_id": ivan.pk, "token": preview["token"]}
    done = post("/handover", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert done.status_code == 200 and done.json()["moved"] == 2
    again = post("/handover", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.json() == {"moved": 0, "by_sop": [], "notified": 0, "repeated": True}
    assert _state(*hers) == [(ivan.pk, None, TaskState.OPEN)] * 2
