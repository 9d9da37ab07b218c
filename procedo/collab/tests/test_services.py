"""Comments, mentions and notifications through their services, on a real database and SMTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from procedo.accounts.models import Team, User
from procedo.accounts.roles import Role
from procedo.collab import services
from procedo.collab.mentions import comment_html, mentions_resolve
from procedo.collab.models import Comment, Notification, NotificationKind
from procedo.core.errors import DomainError, NotFound, PermissionDenied
from procedo.customers.models import Customer
from procedo.events.models import Event
from procedo.messaging.models import Message, MessageState
from procedo.messaging.services.sending import messages_send_due
from procedo.orders.models import Order
from procedo.testing import SmtpServer, in_threads
from procedo.work.services import lifecycle as work_services

pytestmark = pytest.mark.django_db


def kinds_of(user: User) -> list[str]:
    return list(
        Notification.objects.filter(recipient=user).order_by("id").values_list("kind", flat=True)
    )


def test_a_cyrillic_mention_notifies_that_person_and_is_highlighted(
    owner: User, olena: User, taras: User, order: Order
) -> None:
    comment = services.comment_create(
        subject_type="order",
        subject_id=order.pk,
        body="@олена, перевір адресу.\nДякую!",
        actor=owner,
    )
    assert comment.mentions == [{"text": "@олена", "user_id": olena.pk}]
    [note] = Notification.objects.filter(recipient=olena)
    assert note.kind == NotificationKind.MENTION
    assert note.title == f"{owner} mentioned you on order #{order.number}"
    assert note.url == f"/orders/{order.pk}/#comment-{comment.pk}"
    assert "перевір адресу" in note.body
    assert not Notification.objects.filter(recipient__in=[owner, taras]).exists()
    html = comment_html(comment.body, comment.mentions)
    assert html == '<span class="mention">@олена</span>, перевір адресу.<br>Дякую!'


def test_unknown_and_inactive_mentions_stay_text_and_markup_is_escaped(
    owner: User, make_user: Callable[..., User], customer: Customer
) -> None:
    make_user(Role.OPERATOR, username="gone").__class__.objects.filter(username="gone").update(
        is_active=False
    )
    comment = services.comment_create(
        subject_type="customer",
        subject_id=customer.pk,
        body="@nobody @gone <b>bold</b> mail@example.com",
        actor=owner,
    )
    assert comment.mentions == []
    assert not Notification.objects.exists()
    html = comment_html(comment.body, comment.mentions)
    assert "<b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "mention" not in html


def test_a_team_mention_reaches_its_members_but_not_the_author(
    olena: User, taras: User, warehouse: Team, order: Order
) -> None:
    comment = services.comment_create(
        subject_type="order", subject_id=order.pk, body="@склад. Пакуйте сьогодні", actor=olena
    )
    assert comment.mentions == [{"text": "@склад", "team_id": warehouse.pk}]
    assert kinds_of(taras) == [NotificationKind.MENTION]
    assert kinds_of(olena) == []


def test_urgent_without_a_reason_is_refused_and_nothing_is_saved(
    owner: User, olena: User, order: Order
) -> None:
    with pytest.raises(DomainError) as caught:
        services.comment_create(
            subject_type="order",
            subject_id=order.pk,
            body="@Олена терміново!",
            urgent=True,
            urgent_reason="   ",
            actor=owner,
        )
    assert caught.value.field == "urgent_reason"
    assert not Comment.objects.exists()
    assert not Notification.objects.exists()
    assert not Event.objects.filter(event_type__startswith="comment.").exists()


def test_an_urgent_comment_flags_its_notification_and_email(
    owner: User, olena: User, order: Order, smtp: SmtpServer
) -> None:
    services.comment_create(
        subject_type="order",
        subject_id=order.pk,
        body="@Олена клієнт чекає на складі",
        urgent=True,
        urgent_reason="кур'єр їде о 15:00",
        actor=owner,
    )
    [note] = Notification.objects.filter(recipient=olena)
    assert note.urgent and note.body.startswith("Urgent: кур'єр їде о 15:00")
    report = messages_send_due()
    assert report.sent == 1
    [got] = smtp.recorder.received
    assert got["To"] == "olena@example.com"
    # A long non-ASCII subject is folded by Django; the parser keeps a leading space.
    assert got["Subject"].strip() == f"[Urgent] {owner} mentioned you on order #{order.number}"
    text = got.get_content()
    assert "клієнт чекає на складі" in text
    assert f"/orders/{order.pk}/#comment-" in text
    event = Event.objects.get(event_type="comment.created")
    assert event.payload["urgent"] is True and event.payload["mentions"] == [olena.pk]
    assert event.customer_id == order.customer_id


def test_notify_twice_with_one_key_notifies_and_emails_once(
    olena: User, taras: User, smtp: SmtpServer
) -> None:
    for _ in range(2):
        services.notify(
            recipient_ids=[olena.pk, taras.pk, olena.pk],
            kind=NotificationKind.OVERDUE,
            title="Задача прострочена",
            url="/tasks/",
            key="overdue:task:1:2026-11-24",
        )
    assert Notification.objects.count() == 2
    assert Message.objects.count() == 2
    messages_send_due()
    assert sorted(str(m["To"]) for m in smtp.recorder.received) == [
        "olena@example.com",
        "taras@example.com",
    ]
    assert all(m.state == MessageState.SENT for m in Message.objects.all())
    assert Event.objects.filter(event_type="notification.sent").count() == 1


def test_notify_is_set_based_whatever_the_number_of_recipients(
    make_user: Callable[..., User], django_assert_max_num_queries: Any
) -> None:
    users = [make_user(Role.OPERATOR) for _ in range(30)]  # no email addresses: in-app only
    with django_assert_max_num_queries(8):
        created = services.notify(
            recipient_ids=[u.pk for u in users], kind="proposal", title="t", key="p:1"
        )
    assert created == 30


def test_notify_skips_inactive_users_and_those_who_turned_email_off(
    olena: User, taras: User
) -> None:
    services.notification_setting_set(user=taras, notify_by_email=False)
    User.objects.filter(pk=olena.pk).update(is_active=False)
    services.notify(recipient_ids=[olena.pk, taras.pk], kind="handover", title="t", key="h:1")
    assert list(Notification.objects.values_list("recipient_id", flat=True)) == [taras.pk]
    assert not Message.objects.exists()


def test_a_comment_on_a_task_notifies_its_assignee_and_earlier_commenters_once(
    owner: User, olena: User, taras: User, make_user: Callable[..., User]
) -> None:
    with transaction.atomic():
        task = work_services.task_create(title="Передзвонити", assignee_user_id=olena.pk)
    services.comment_create(subject_type="task", subject_id=task.pk, body="Я тут", actor=taras)
    assert kinds_of(olena) == [NotificationKind.COMMENT_ON_YOUR_TASK]
    # The owner mentions the assignee: one notification for her, a reply for taras.
    services.comment_create(
        subject_type="task", subject_id=task.pk, body="@Олена див. вище", actor=owner
    )
    assert kinds_of(olena) == [NotificationKind.COMMENT_ON_YOUR_TASK, NotificationKind.MENTION]
    assert kinds_of(taras) == [NotificationKind.COMMENT]
    assert kinds_of(owner) == []
    # A reply reaches the thread by email only when urgent.
    assert Message.objects.filter(recipient="taras@example.com").count() == 0


def test_the_same_form_token_posts_one_comment(owner: User, customer: Customer) -> None:
    for _ in range(2):
        services.comment_create(
            subject_type="customer",
            subject_id=customer.pk,
            body="Одна",
            actor=owner,
            idempotency_key="ui:abc",
        )
    assert Comment.objects.count() == 1
    assert Event.objects.filter(event_type="comment.created").count() == 1


def test_bad_subjects_name_their_field(owner: User) -> None:
    with pytest.raises(DomainError) as caught:
        services.comment_create(subject_type="planet", subject_id=1, body="x", actor=owner)
    assert caught.value.field == "subject_type"
    with pytest.raises(NotFound) as missing:
        services.comment_create(subject_type="customer", subject_id=999, body="x", actor=owner)
    assert missing.value.field == "subject_id"
    with pytest.raises(DomainError) as empty:
        services.comment_create(subject_type="customer", subject_id=999, body="  ", actor=owner)
    assert empty.value.field == "body"


def test_a_viewer_may_not_comment(make_user: Callable[..., User], customer: Customer) -> None:
    viewer = make_user(Role.VIEWER)
    with pytest.raises(PermissionDenied):
        services.comment_create(
            subject_type="customer", subject_id=customer.pk, body="x", actor=viewer
        )
    assert not Comment.objects.exists()


def test_only_the_author_or_a_manager_deletes_and_the_record_stays(
    owner: User, olena: User, taras: User, customer: Customer
) -> None:
    comment = services.comment_create(
        subject_type="customer", subject_id=customer.pk, body="моє", actor=olena
    )
    with pytest.raises(PermissionDenied) as caught:
        services.comment_delete(comment_id=comment.pk, actor=taras)
    assert caught.value.field == "comment_id"
    services.comment_delete(comment_id=comment.pk, actor=olena)
    services.comment_delete(comment_id=comment.pk, actor=owner)  # already gone: harmless
    comment.refresh_from_db()
    assert comment.is_deleted and comment.body == "моє" and comment.deleted_by_id == olena.pk
    assert Event.objects.filter(event_type="comment.deleted").count() == 1


def test_read_one_and_all(olena: User, taras: User) -> None:
    services.notify(recipient_ids=[olena.pk, taras.pk], kind="x", title="a", key="k1")
    services.notify(recipient_ids=[olena.pk], kind="x", title="b", key="k2")
    first = Notification.objects.filter(recipient=olena).order_by("id").first()
    assert first is not None
    with pytest.raises(NotFound):
        services.notification_read(notification_id=first.pk, user=taras)
    services.notification_read(notification_id=first.pk, user=olena)
    assert Notification.objects.filter(recipient=olena, read_at__isnull=True).count() == 1
    assert services.notifications_read_all(user=olena) == 1
    assert Notification.objects.filter(recipient=taras, read_at__isnull=True).count() == 1


def test_mentions_resolve_ignores_trailing_punctuation_and_duplicates(
    olena: User, taras: User, make_user: Callable[..., User]
) -> None:
    found = mentions_resolve("@taras. @TARAS, @Олена- @олена @taras@wrong")
    assert [(m.text, m.user_id) for m in found] == [("@taras", taras.pk), ("@Олена", olena.pk)]
    shop = make_user(Role.OPERATOR, username="ira@shop.ua")
    [found_shop] = mentions_resolve("Спитай @ira@shop.ua.")
    assert found_shop.user_id == shop.pk and found_shop.text == "@ira@shop.ua"


@pytest.mark.django_db(transaction=True)
def test_twin_notify_calls_racing_notify_and_email_once(
    postgres_only: None, make_user: Callable[..., User]
) -> None:
    users = [make_user(Role.OPERATOR, email=f"op{i}@example.com") for i in range(20)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def twin() -> None:
        try:
            barrier.wait()
            services.notify(
                recipient_ids=[u.pk for u in users], kind="escalated", title="t", key="race:1"
            )
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    in_threads(twin, twin, timeout=60)
    assert errors == []
    assert Notification.objects.count() == 20
    assert Message.objects.count() == 20
