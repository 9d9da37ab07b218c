"""The manager's view (work per person and queue) and the report of forgotten tasks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from procedo.accounts.models import Team, User
from procedo.accounts.roles import Role
from procedo.accounts.services import user_set_active
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import engine_drain, event_trigger, order, sop_live, task_step
from procedo.testing import browser_log_in, logged_in, token_client
from procedo.work import selectors
from procedo.work.models import Task
from procedo.work.services import escalation
from procedo.work.services import lifecycle as services
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.django_db


def _task(title: str, *, late: bool = False, **assignee: Any) -> Task:
    due = timezone.now() + (timedelta(hours=-2) if late else timedelta(hours=2))
    return services.task_create(title=title, due_at=due, **assignee)


@pytest.fixture
def floor(make_user: Callable[..., User]) -> dict[str, Any]:
    """Olena: 3 open (2 late, 1 escalated), 1 done; Ivan: nothing; Petro left with 1 late task;
    the Склад queue: 2 (1 late); operators' queue: 1; an empty team's queue: 1; a viewer."""
    olena = make_user(Role.OPERATOR, username="olena", first_name="Олена")
    ivan = make_user(Role.OPERATOR, username="ivan", first_name="Іван")
    petro = make_user(Role.SUPPORT, username="petro", first_name="Петро")
    viewer = make_user(Role.VIEWER, username="viewer")
    manager = make_user(Role.MANAGER, username="boss")
    warehouse = Team.objects.create(name="Склад")
    warehouse.members.add(olena, ivan)
    empty = Team.objects.create(name="Порожня")
    escalated = _task("Ескальована", late=True, assignee_user_id=olena.pk)
    Task.objects.filter(pk=escalated.pk).update(escalated_at=timezone.now())
    _task("Прострочена", late=True, assignee_user_id=olena.pk)
    _task("Вчасно", assignee_user_id=olena.pk)
    done = _task("Зроблена", late=True, assignee_user_id=olena.pk)
    services.task_complete(task_id=done.pk, actor=olena)
    left_behind = _task("Покинута", late=True, assignee_user_id=petro.pk)
    user_set_active(user_id=petro.pk, active=False, actor=None)
    _task("Зібрати", late=True, assignee_team_id=warehouse.pk)
    _task("Пакувати", assignee_team_id=warehouse.pk)
    _task("Подзвонити", assignee_role=Role.OPERATOR)
    in_empty = _task("У порожній", assignee_team_id=empty.pk)
    for_marketers = _task("Для маркетологів", assignee_role=Role.MARKETER)
    gone_team = Team.objects.create(name="Розпущена")
    orphan = _task("Нічия", assignee_team_id=gone_team.pk)
    gone_team.delete()  # the task keeps no person, team or role
    return {
        "olena": olena,
        "ivan": ivan,
        "petro": petro,
        "viewer": viewer,
        "manager": manager,
        "warehouse": warehouse,
        "empty": empty,
        "forgotten": {
            orphan.pk: "nobody",
            left_behind.pk: "inactive",
            in_empty.pk: "empty_team",
            for_marketers.pk: "empty_role",
        },
    }


def _by_label(loads: list[selectors.Load]) -> dict[str, tuple[int, int, int, bool]]:
    return {load.label: (load.open, load.overdue, load.escalated, load.active) for load in loads}


def test_work_per_person_in_one_query(
    floor: dict[str, Any], django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        people = selectors.workload_people()
    assert _by_label(people) == {
        "Олена": (3, 2, 1, True),
        "Петро": (1, 1, 0, False),  # left, still holds work
        "Іван": (0, 0, 0, True),
        "boss": (0, 0, 0, True),
    }
    assert [load.label for load in people][:2] == ["Олена", "Петро"]  # most overdue first


def test_work_per_queue_in_one_query(floor: dict[str, Any], django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        queues = selectors.workload_queues()
    assert _by_label(queues) == {
        "Team: Склад": (2, 1, 0, True),
        "Team: Порожня": (1, 0, 0, True),
        "Role: Operator": (1, 0, 0, True),
        "Role: Marketer": (1, 0, 0, True),
        "Nobody (no person, team or role)": (1, 0, 0, True),
    }


def test_the_report_lists_every_task_nobody_will_do(
    floor: dict[str, Any], django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(2):
        report = selectors.tasks_unattended()
    assert {task.pk: task.reason for task in report.items} == floor["forgotten"]  # type: ignore[attr-defined]
    assert report.total == 4
    assert selectors.tasks_unattended(limit=1).total == 4


def test_the_page_shows_the_numbers_and_links_to_the_tasks(floor: dict[str, Any]) -> None:
    client = logged_in(floor["manager"])
    response = client.get(reverse("work:team"))
    assert response.status_code == 200
    html = response.content.decode()
    olena = floor["olena"]
    overdue_link = f"{reverse('work:team_tasks')}?assignee={olena.pk}&amp;overdue=1"
    assert f'<a class="late" href="{overdue_link}">2</a>' in html
    assert response.context["forgotten"] == 4
    assert (response.context["total_open"], response.context["total_overdue"]) == (10, 4)
    assert f'href="{reverse("work:team")}"' in html  # the navigation entry

    listed = client.get(reverse("work:team_tasks"), {"assignee": olena.pk, "overdue": "1"})
    assert sorted(t.title for t in listed.context["page"].items) == ["Ескальована", "Прострочена"]
    queue = client.get(reverse("work:team_tasks"), {"team": floor["warehouse"].pk})
    assert sorted(t.title for t in queue.context["page"].items) == ["Зібрати", "Пакувати"]
    role = client.get(reverse("work:team_tasks"), {"role": "operator"})
    assert [t.title for t in role.context["page"].items] == ["Подзвонити"]
    escalated = client.get(reverse("work:team_tasks"), {"escalated": "1"})
    assert [t.title for t in escalated.context["page"].items] == ["Ескальована"]


def test_an_operator_may_not_see_the_managers_pages(floor: dict[str, Any]) -> None:
    client = logged_in(floor["olena"])
    for name in ("work:team", "work:team_tasks", "work:unattended", "work:handover"):
        assert client.get(reverse(name)).status_code == 403
    assert f'href="{reverse("work:team")}"' not in client.get(reverse("work:mine")).content.decode()


def test_the_report_page_offers_a_hand_over(floor: dict[str, Any]) -> None:
    response = logged_in(floor["manager"]).get(reverse("work:unattended"))
    html = response.content.decode()
    assert all(f'id="task-{pk}"' in html for pk in floor["forgotten"])
    assert f"{reverse('work:handover')}?from_user={floor['petro'].pk}" in html
    assert "nobody active in the team" in html

    chosen = list(floor["forgotten"])[:2]
    preview = logged_in(floor["manager"]).get(
        reverse("work:handover"), {"task": chosen, "to": f"user:{floor['ivan'].pk}"}
    )
    assert sorted(t.pk for t in preview.context["preview"].tasks) == sorted(chosen)


def test_the_api_gives_the_team_view_and_the_report(floor: dict[str, Any]) -> None:
    manager = token_client(floor["manager"])
    team = manager.get("/api/tasks/manage/team").json()
    olena = next(row for row in team["people"] if row["user_id"] == floor["olena"].pk)
    assert (olena["open"], olena["overdue"], olena["escalated"]) == (3, 2, 1)
    assert {row["label"] for row in team["queues"]} >= {"Team: Склад"}
    report = manager.get("/api/tasks/manage/unattended").json()
    assert report["total"] == 4
    assert {row["id"]: row["reason"] for row in report["items"]} == floor["forgotten"]
    refused = token_client(floor["olena"]).get("/api/tasks/manage/team")
    assert refused.status_code == 403 and refused.json()["field"] == "permission"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_managers_pages_in_a_browser(
    page: Any,
    live_server: Any,
    make_user: Callable[..., User],
    quiet: None,
) -> None:
    """Screenshots of the manager's view, the report and a hand-over preview."""
    manager = make_user(Role.MANAGER, username="marta", first_name="Марта", last_name="Бойко")
    olena = make_user(Role.OPERATOR, username="olena", first_name="Олена", last_name="Шевченко")
    ivan = make_user(Role.OPERATOR, username="ivan", first_name="Іван", last_name="Мельник")
    petro = make_user(Role.SUPPORT, username="petro", first_name="Петро", last_name="Коваль")
    warehouse = Team.objects.create(name="Склад", lead=manager)
    warehouse.members.add(olena, ivan)
    sop_live(
        owner=manager,
        name="Підтвердження замовлень",
        definition={
            "triggers": [event_trigger()],
            "steps": [
                task_step(
                    "confirm",
                    assignee={"kind": "user", "user_id": petro.pk},
                    escalate_after_minutes=60,
                )
            ],
        },
    )
    for _ in range(3):
        order()
    engine_drain()
    executor.runs_advance()
    Task.objects.filter(run_id__isnull=False).update(due_at=timezone.now() - timedelta(hours=3))
    _task("Передзвонити Марії Коваль", late=True, assignee_user_id=olena.pk)
    _task("Відповісти на відгук", assignee_user_id=olena.pk)
    _task("Оновити залишки", assignee_user_id=ivan.pk)
    _task("Скарга: пошкоджена коробка", late=True, assignee_user_id=petro.pk)
    _task("Повернення №1042", assignee_user_id=petro.pk)
    _task("Зібрати замовлення №1051", late=True, assignee_team_id=warehouse.pk)
    _task("Зібрати замовлення №1052", assignee_team_id=warehouse.pk)
    _task("Перевірити оплату", assignee_role=Role.OPERATOR)
    _task("Запустити розсилку", late=True, assignee_role=Role.MARKETER)
    user_set_active(user_id=petro.pk, active=False, actor=None)
    swept = escalation.tasks_sweep()
    assert (swept.overdue, swept.escalated) == (7, 3)

    browser_log_in(page, live_server, "marta")
    page.click('.sidenav a:has-text("Team\'s work")')
    page.wait_for_selector('h1:has-text("Team\'s work")')
    row = page.locator(f"#person-{olena.pk} td.num")
    assert row.nth(0).inner_text() == "2" and row.nth(1).inner_text() == "1"
    screenshot(page, "work-team")

    page.click("a:has-text('Forgotten tasks')")
    page.wait_for_selector("h1:has-text('Forgotten tasks')")
    assert page.locator("tbody tr").count() == 6  # Petro's five, the marketers' one
    screenshot(page, "work-unattended")

    page.click("a:has-text('Hand over the work of Петро Коваль')")
    page.select_option("#to", f"team:{warehouse.pk}")
    page.click("button:has-text('Preview')")
    page.wait_for_selector("#preview")
    assert page.locator("#preview tbody tr").count() == 5
    assert "Підтвердження замовлень: 3" in page.locator("#preview").inner_text()
    screenshot(page, "work-handover-preview")
    page.click("button:has-text('Hand over 5 tasks')")
    page.wait_for_selector(".flash .msg:has-text('5 tasks handed over.')")
    assert Task.objects.filter(assignee_team=warehouse, assignee_user__isnull=True).count() == 7
