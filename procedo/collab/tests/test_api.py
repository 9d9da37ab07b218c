"""Comments and notifications over the REST API: errors name their field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.collab.models import Comment
from procedo.orders.models import Order
from procedo.testing import api_caller

pytestmark = pytest.mark.django_db


def test_create_and_list_comments(owner: User, olena: User, order: Order) -> None:
    api = api_caller(owner)
    body = {"subject_type": "order", "subject_id": order.pk, "body": "@Олена глянь"}
    created = api("post", "/comments", body, idempotency_key="c-1")
    assert created.status_code == 201, created.content
    again = api("post", "/comments", body, idempotency_key="c-1")
    assert again.json()["id"] == created.json()["id"] and Comment.objects.count() == 1
    assert created.json()["mentions"] == [{"text": "@Олена", "user_id": olena.pk}]
    listed = api("get", "/comments", {"subject_type": "order", "subject_id": order.pk})
    assert [c["body"] for c in listed.json()["items"]] == ["@Олена глянь"]

    inbox = api_caller(olena)("get", "/notifications")
    assert inbox.json()["unread"] == 1
    [item] = inbox.json()["items"]
    assert item["kind"] == "mention" and item["url"].startswith(f"/orders/{order.pk}/")
    read = api_caller(olena)("post", f"/notifications/{item['id']}/read")
    assert read.json()["read_at"] is not None
    assert api_caller(olena)("get", "/notifications").json()["unread"] == 0


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"subject_type": "order", "body": "x", "urgent": True}, "urgent_reason", 422),
        ({"subject_type": "planet", "body": "x"}, "subject_type", 422),
        ({"subject_type": "order"}, "body", 422),
        ({"subject_type": "order", "body": "x", "subject_id": 10**9}, "subject_id", 404),
    ],
)
def test_bad_input_names_the_field(
    owner: User, order: Order, body: dict[str, Any], field: str, status: int
) -> None:
    response = api_caller(owner)("post", "/comments", {"subject_id": order.pk, **body})
    assert response.status_code == status, response.content
    assert response.json()["field"] == field
    assert not Comment.objects.exists()


def test_a_viewer_reads_but_cannot_comment_or_delete(
    owner: User, make_user: Callable[..., User], order: Order
) -> None:
    created = api_caller(owner)(
        "post", "/comments", {"subject_type": "order", "subject_id": order.pk, "body": "x"}
    )
    viewer = api_caller(make_user(Role.VIEWER))
    listed = viewer("get", "/comments", {"subject_type": "order", "subject_id": order.pk})
    assert listed.status_code == 200
    denied = viewer(
        "post", "/comments", {"subject_type": "order", "subject_id": order.pk, "body": "y"}
    )
    assert denied.status_code == 403 and denied.json()["field"] == "permission"
    assert viewer("delete", f"/comments/{created.json()['id']}").status_code == 403


def test_delete_hides_the_text_but_keeps_the_place(owner: User, order: Order) -> None:
    api = api_caller(owner)
    created = api(
        "post", "/comments", {"subject_type": "order", "subject_id": order.pk, "body": "x"}
    )
    deleted = api("delete", f"/comments/{created.json()['id']}")
    assert deleted.status_code == 200 and deleted.json()["deleted_at"] is not None
    [item] = api("get", "/comments", {"subject_type": "order", "subject_id": order.pk}).json()[
        "items"
    ]
    assert item["body"] == "" and item["deleted_at"] is not None


def test_read_all(olena: User) -> None:
    from procedo.collab import services

    services.notify(recipient_ids=[olena.pk], kind="x", title="a", key="a")
    services.notify(recipient_ids=[olena.pk], kind="x", title="b", key="b")
    assert api_caller(olena)("post", "/notifications/read", {}).json() == {"marked": 2}
