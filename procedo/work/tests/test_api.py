"""Tasks over REST: by hand, answering a checklist, completing; bad input names its field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.automation.tests.helpers import person
from procedo.testing import bearer
from procedo.work.models import Task, TaskState
from procedo.work.services import lifecycle as services

pytestmark = pytest.mark.django_db


def _post(user: User, path: str, body: dict[str, Any]) -> Any:
    return Client().post(
        f"/api/tasks{path}", json.dumps(body), content_type="application/json", **bearer(user)
    )


def test_a_checklist_answered_and_completed_over_the_api() -> None:
    operator = person(Role.OPERATOR)
    task = services.task_create(
        title="Зібрати",
        assignee_user_id=operator.pk,
        checklist_kind="verification",
        checklist=[{"key": "weight", "text": "Вага збігається"}],
    )
    refused = _post(operator, f"/{task.pk}/answers", {"answers": {"weight": 42}})
    assert refused.status_code == 422
    assert refused.json()["field"] == "items.weight"
    too_soon = _post(operator, f"/{task.pk}/complete", {"note": ""})
    assert too_soon.status_code == 422 and too_soon.json()["field"] == "items.weight"

    answered = _post(operator, f"/{task.pk}/answers", {"answers": {"weight": "passed"}})
    assert answered.status_code == 200
    assert answered.json()["items"][0]["answer"] == "passed"
    done = _post(operator, f"/{task.pk}/complete", {"note": "ok"})
    assert done.status_code == 200 and done.json()["state"] == TaskState.DONE
    twice = _post(operator, f"/{task.pk}/complete", {"note": "ok"})
    assert twice.status_code == 409


def test_a_task_by_hand_over_the_api_names_a_bad_field() -> None:
    manager = person(Role.MANAGER)
    missing = _post(
        manager, "", {"title": "Передзвонити", "subject_type": "order", "subject_id": 999}
    )
    assert missing.status_code == 404 and missing.json()["field"] == "subject_id"
    nobody = _post(manager, "", {"title": "Передзвонити"})
    assert nobody.status_code == 422 and nobody.json()["field"] == "assignee"
    made = _post(manager, "", {"title": "Передзвонити", "assignee_role": "operator"})
    assert made.status_code == 201
    assert Task.objects.get().assignee_role == "operator"
