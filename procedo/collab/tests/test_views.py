"""The comments panel on cards, htmx posts swapping the thread, the bell, the notifications page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.collab import services
from procedo.collab.models import Comment, Notification
from procedo.customers.models import Customer
from procedo.orders.models import Order
from procedo.testing import logged_in
from procedo.work.models import Task
from procedo.work.services import lifecycle as work_services

pytestmark = pytest.mark.django_db
HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


def post_comment(client: Client, subject: str, pk: int, **data: object) -> Any:
    body = {"form_token": str(uuid.uuid4()), **data}
    return client.post(f"/comments/{subject}/{pk}/", body, **HTMX)


def bell_count(client: Client) -> str:
    html = client.get("/notifications/bell/").content.decode()
    match = re.search(r'data-count="(\d+)"', html)
    return match.group(1) if match else "0"


def test_the_customer_card_shows_the_panel_and_an_htmx_post_returns_the_thread(
    owner: User, olena: User, customer: Customer
) -> None:
    client = logged_in(owner)
    card = client.get(f"/customers/{customer.pk}/").content.decode()
    assert f'id="comments-customer-{customer.pk}"' in card
    response = post_comment(client, "customer", customer.pk, body="Привіт, @Олена <script>")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<div class="comments" id="comments-customer-')
    assert '<span class="mention">@Олена</span>' in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "<html" not in html  # only the panel, swapped in place
    assert bell_count(logged_in(olena)) == "1"


def test_the_order_card_has_the_panel_and_the_tag_works_for_tasks(
    owner: User, olena: User, order: Order
) -> None:
    client = logged_in(owner)
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert f'id="comments-order-{order.pk}"' in page
    assert f'hx-post="/comments/order/{order.pk}/"' in page
    task = work_services_task(olena)
    services.comment_create(subject_type="task", subject_id=task.pk, body="Вже", actor=owner)
    request = RequestFactory().get("/")
    request.user = olena
    html = Template('{% load collab %}{% comments_panel "task" task_id %}').render(
        Context({"task_id": task.pk, "request": request, "user": olena})
    )
    assert f'id="comments-task-{task.pk}"' in html and "Вже" in html
    assert f'action="/comments/task/{task.pk}/"' in html


def work_services_task(assignee: User) -> Task:
    from django.db import transaction

    with transaction.atomic():
        return work_services.task_create(title="Зателефонувати", assignee_user_id=assignee.pk)


def test_urgent_without_reason_is_a_422_form_error_and_keeps_the_text(
    owner: User, customer: Customer
) -> None:
    response = post_comment(logged_in(owner), "customer", customer.pk, body="Швидко!", urgent="on")
    assert response.status_code == 422
    html = response.content.decode()
    assert "needs its reason" in html and "Швидко!" in html
    assert not Comment.objects.exists()


def test_a_viewer_sees_the_thread_but_no_form_and_cannot_post(
    make_user: Callable[..., User], owner: User, customer: Customer
) -> None:
    services.comment_create(subject_type="customer", subject_id=customer.pk, body="Є", actor=owner)
    viewer = logged_in(make_user(Role.VIEWER))
    card = viewer.get(f"/customers/{customer.pk}/").content.decode()
    assert "Є" in card and "comment-form" not in card
    assert post_comment(viewer, "customer", customer.pk, body="x").status_code == 403


def test_the_author_deletes_with_htmx_and_a_stub_stays(owner: User, customer: Customer) -> None:
    comment = services.comment_create(
        subject_type="customer", subject_id=customer.pk, body="зайве", actor=owner
    )
    response = logged_in(owner).post(f"/comments/{comment.pk}/delete/", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "A comment was deleted" in html and "зайве" not in html


def test_the_bell_counts_unread_polls_and_the_page_marks_read(owner: User, olena: User) -> None:
    services.notify(recipient_ids=[olena.pk], kind="x", title="Перша", url="/tasks/", key="a")
    services.notify(
        recipient_ids=[olena.pk], kind="x", title="Друга", url="/tasks/", key="b", urgent=True
    )
    client = logged_in(olena)
    page = client.get("/").content.decode()
    assert 'id="notification-bell"' in page and 'hx-trigger="every 30s' in page
    assert "has-urgent" in page and bell_count(client) == "2"
    listing = client.get("/notifications/").content.decode()
    assert "Перша" in listing and "Друга" in listing
    first = Notification.objects.get(title="Перша")
    row = client.post(f"/notifications/{first.pk}/read/", **HTMX)
    assert row["HX-Trigger"] == "notifications-changed" and "unread" not in row.content.decode()
    assert bell_count(client) == "1"
    # Opening one reads it and goes to its subject.
    second = Notification.objects.get(title="Друга")
    opened = client.get(f"/notifications/{second.pk}/")
    assert opened.status_code == 302 and opened["Location"] == "/tasks/"
    assert bell_count(client) == "0"
    # Another person's notification is not yours to open.
    assert logged_in(owner).get(f"/notifications/{second.pk}/").status_code == 404


def test_mark_all_read_stops_at_what_the_page_showed(olena: User) -> None:
    services.notify(recipient_ids=[olena.pk], kind="x", title="a", key="a")
    shown = Notification.objects.get()
    services.notify(recipient_ids=[olena.pk], kind="x", title="b", key="b")
    client = logged_in(olena)
    client.post("/notifications/read/", {"up_to_id": shown.pk})
    assert list(
        Notification.objects.filter(read_at__isnull=True).values_list("title", flat=True)
    ) == ["b"]


def test_the_bell_answers_204_when_logged_out(client: Client) -> None:
    assert client.get("/notifications/bell/").status_code == 204


def test_email_can_be_turned_off(olena: User) -> None:
    logged_in(olena).post("/notifications/settings/", {})
    services.notify(recipient_ids=[olena.pk], kind="x", title="t", key="k")
    from procedo.messaging.models import Message

    assert not Message.objects.exists()
