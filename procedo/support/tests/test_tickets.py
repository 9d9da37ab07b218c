"""Tickets with SLAs in working time, the set-based sweep, reopening, CSAT, the standards."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from procedo.accounts.models import Team, User
from procedo.business.calendar import work_calendar
from procedo.business.selectors import business_get
from procedo.business.services import business_calendar_set, business_update
from procedo.core.errors import Conflict, DomainError
from procedo.events.models import Event
from procedo.messaging.models import Message
from procedo.support import selectors
from procedo.support.models import Conversation, SlaPolicy, Ticket
from procedo.support.services.conversations import conversation_change_status, conversation_reply
from procedo.support.services.intake import Incoming, message_receive
from procedo.support.services.tickets import (
    SweepResult,
    sla_policy_save,
    sla_sweep,
    support_settings_save,
    ticket_open,
)
from procedo.testing import api_caller

pytestmark = pytest.mark.django_db
WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.fixture
def polish_calendar() -> None:
    """Monday to Friday, 9 to 17 in Warsaw, Polish public holidays."""
    business_update(name="Sklep", time_zone="Europe/Warsaw", currency="PLN", actor_id=None)
    business_calendar_set(
        country="pl", work_days="01234", work_start=time(9), work_end=time(17), actor_id=None
    )


def _conversation(address: str = "anna@example.pl", key: str = "in:1") -> Conversation:
    entry = message_receive(
        Incoming(channel="email", address=address, body="Paczka nie dotarła",
                          subject="Paczka", idempotency_key=key)
    )  # fmt: skip
    return Conversation.objects.get(pk=entry.conversation_id)


def test_working_time_skips_nights_weekends_and_public_holidays(polish_calendar: None) -> None:
    cal = work_calendar(business_get())
    # Friday before Easter, 16:30: 30 minutes that day, then Easter Monday is a holiday.
    friday = datetime(2026, 4, 3, 16, 30, tzinfo=WARSAW)
    due = cal.add_minutes(friday, 60)
    assert due == datetime(2026, 4, 7, 9, 30, tzinfo=WARSAW)
    assert cal.minutes_between(friday, due) == 60
    # Written at night: the clock starts at nine.
    assert cal.add_minutes(datetime(2026, 4, 8, 3, 0, tzinfo=WARSAW), 0) == datetime(
        2026, 4, 8, 9, 0, tzinfo=WARSAW
    )
    with pytest.raises(DomainError) as caught:
        business_calendar_set(
            country="PL", work_days="", work_start=time(9), work_end=time(17), actor_id=None
        )
    assert caught.value.field == "work_days"


def test_a_negative_target_is_refused_naming_its_field_and_nothing_is_stored(
    owner: User,
) -> None:
    with pytest.raises(DomainError) as caught:
        sla_policy_save(
            priority="high", first_response_minutes=-5, resolution_minutes=60, actor=owner
        )
    assert caught.value.field == "first_response_minutes"
    call = api_caller(owner)
    response = call(
        "post", "/support/policies",
        {"priority": "high", "first_response_minutes": 30, "resolution_minutes": -1},
    )  # fmt: skip
    assert response.status_code == 422 and response.json()["field"] == "resolution_minutes"
    assert not SlaPolicy.objects.exists()


def test_the_sweep_breaches_escalates_and_raises_each_event_once(
    polish_calendar: None, owner: User
) -> None:
    seniors = Team.objects.create(name="Seniors")
    sla_policy_save(
        priority="high", first_response_minutes=30, resolution_minutes=240,
        escalate_to_id=seniors.pk, actor=owner,
    )  # fmt: skip
    late = _conversation()
    paused = _conversation("piotr@example.pl", "in:2")
    ticket = ticket_open(conversation_id=late.pk, priority="high", actor=owner)
    ticket_open(conversation_id=paused.pk, priority="high", actor=owner)
    conversation_change_status(conversation_id=paused.pk, to_status="waiting", actor=owner)
    assert ticket.first_response_due_at and ticket.resolution_due_at
    after = ticket.resolution_due_at + timedelta(minutes=1)

    with CaptureQueriesContext(connection) as queries:
        result = sla_sweep(now=after)
    assert (result.first_response_breached, result.resolution_breached, result.waiting) == (1, 1, 1)
    # Set-based: a fixed number of statements, not one per ticket.
    assert len([q for q in queries.captured_queries if not q["sql"].startswith("SAVEPOINT")]) <= 12
    assert sla_sweep(now=after + timedelta(hours=1)) == SweepResult(0, 0, 0)
    breaches = Event.objects.filter(event_type="ticket.sla_breached").order_by("id")
    assert [(e.subject_id, e.payload["target"]) for e in breaches] == [
        (ticket.pk, "first_response"),
        (ticket.pk, "resolution"),
    ]
    assert breaches[0].customer_id == late.customer_id
    late.refresh_from_db()
    ticket.refresh_from_db()
    assert late.team_id == seniors.pk and ticket.escalated_at is not None
    # The conversation past the response standard: one conversation.waiting, for `late`
    # only (the other waits on its customer, nobody owes it an answer).
    [waiting] = Event.objects.filter(event_type="conversation.waiting")
    assert waiting.subject_id == late.pk
    assert not Ticket.objects.get(conversation=paused).resolution_breached_at


def test_waiting_on_the_customer_stops_the_clock_and_it_moves_on_when_they_write(
    polish_calendar: None, owner: User
) -> None:
    sla_policy_save(
        priority="normal", first_response_minutes=60, resolution_minutes=600, actor=owner
    )
    conversation = _conversation()
    ticket = ticket_open(conversation_id=conversation.pk, actor=owner)
    cal = work_calendar(business_get())
    due = ticket.resolution_due_at
    assert due is not None
    # Paused two working hours before its due time (set directly: the test has no clock).
    paused_at = cal.add_minutes(due - timedelta(days=7), 0)
    left = cal.minutes_between(paused_at, due)
    Ticket.objects.filter(pk=ticket.pk).update(paused_at=paused_at)
    Conversation.objects.filter(pk=conversation.pk).update(status="waiting")
    message_receive(
        Incoming(channel="email", address="anna@example.pl", body="Nadal nic",
                          conversation_id=conversation.pk, idempotency_key="in:3")
    )  # fmt: skip
    ticket.refresh_from_db()
    assert ticket.paused_at is None
    expected = cal.add_minutes(timezone.now(), left)
    assert ticket.resolution_due_at is not None and ticket.resolution_due_at > due
    # The service read the clock a moment before the test did.
    assert abs((ticket.resolution_due_at - expected).total_seconds()) < 60
    assert Conversation.objects.get(pk=conversation.pk).status == "open"


def test_a_reply_to_a_closed_ticket_reopens_it_and_says_so(owner: User) -> None:
    conversation = _conversation()
    ticket = ticket_open(conversation_id=conversation.pk, actor=owner)
    conversation_change_status(conversation_id=conversation.pk, to_status="closed", actor=owner)
    with pytest.raises(Conflict):
        conversation_reply(
            conversation_id=conversation.pk, body="x", actor=owner, idempotency_key="r"
        )
    message_receive(
        Incoming(channel="email", address="anna@example.pl", body="Still broken",
                          conversation_id=conversation.pk, idempotency_key="in:9")
    )  # fmt: skip
    conversation.refresh_from_db()
    assert conversation.status == "open"
    kinds = set(Event.objects.values_list("event_type", flat=True))
    assert {"conversation.reopened", "ticket.reopened", "ticket.opened"} <= kinds
    assert Ticket.objects.get(pk=ticket.pk).solved_at is None


def test_solving_sends_a_survey_link_that_records_one_rating(owner: User) -> None:
    conversation = _conversation()
    ticket = ticket_open(conversation_id=conversation.pk, actor=owner)
    conversation_change_status(conversation_id=conversation.pk, to_status="solved", actor=owner)
    assert Event.objects.filter(event_type="ticket.solved", subject_id=ticket.pk).count() == 1
    [survey_mail] = Message.objects.filter(recipient="anna@example.pl")
    path = re.search(r"https?://[^/\s]+(/support/survey/\S+/)", survey_mail.body)
    assert path is not None
    customer = Client()  # no login
    assert customer.get(path[1]).status_code == 200
    assert customer.post(path[1], {"rating": "9"}).status_code == 422
    assert customer.post(path[1], {"rating": "5", "comment": "Szybko!"}).status_code == 200
    assert customer.post(path[1], {"rating": "1"}).status_code == 409  # once only
    tampered = path[1].replace("/survey/", "/survey/x")
    assert customer.post(tampered, {"rating": "1"}).status_code == 422
    ticket.refresh_from_db()
    assert (ticket.csat_rating, ticket.csat_comment) == (5, "Szybko!")
    now = timezone.now()
    summary = selectors.csat_summary(since=now - timedelta(days=1), until=now + timedelta(1))
    assert (summary.answered, summary.average, summary.satisfied) == (1, 5.0, 1)


def test_standards_are_measured_per_person(owner: User, make_user: User) -> None:
    support_settings_save(first_answer_minutes=0, default_team_id=None, actor=owner)
    answered = _conversation()
    _conversation("nobody@example.pl", "in:2")
    conversation_reply(
        conversation_id=answered.pk, body="Sprawdzam", actor=owner, idempotency_key="r1"
    )
    now = timezone.now() + timedelta(days=400)  # every answer due by then
    standards = selectors.response_standards(since=now - timedelta(days=800), now=now)
    [person] = standards.people
    assert (person.user_id, person.answered, person.owned_active) == (owner.pk, 1, 1)
    assert (standards.without_owner, standards.overdue_without_owner) == (1, 1)


def test_pages_in_ukrainian_and_what_a_viewer_may_not_do(
    owner_client: Client, owner: User, make_user: object
) -> None:
    conversation = _conversation()
    owner_client.post("/i18n/setlang/", {"language": "uk"})
    for url in ("/support/", f"/support/{conversation.pk}/", "/support/settings/",
                "/support/standards/"):  # fmt: skip
        response = owner_client.get(url)
        assert response.status_code == 200, url
        assert 'lang="uk"' in response.content.decode()
    assert "Вхідні" in owner_client.get("/support/").content.decode()
    card = owner_client.get(f"/customers/{conversation.customer_id}/").content.decode()
    assert "Розмови" in card and f"/support/{conversation.pk}/" in card
    response = owner_client.post(
        "/support/settings/policies/",
        {"priority": "low", "first_response_minutes": "-1", "resolution_minutes": "5"},
    )
    assert response.status_code == 422 and "Ціль не може бути" in response.content.decode()
    from procedo.accounts.roles import Role
    from procedo.testing import logged_in

    viewer = logged_in(make_user(Role.VIEWER))  # type: ignore[operator]
    assert viewer.get(f"/support/{conversation.pk}/").status_code == 200
    refused = viewer.post(f"/support/{conversation.pk}/reply/", {"body": "hi"})
    assert refused.status_code == 403 and not Message.objects.exists()


def test_sops_can_ask_every_field_of_a_conversation_and_a_ticket(owner: User) -> None:
    from procedo.sops import subjects

    conversation = _conversation()
    ticket_open(
        conversation_id=conversation.pk,
        priority="urgent",
        urgent_reason="A broken gift",
        actor=owner,
    )
    now = timezone.now()
    for name in ("conversation", "ticket"):
        subject = subjects.SUBJECTS[name]
        for spec in subject.fields.values():
            op = subjects.OPERATORS[spec.type][0]
            value = {"choice": "new", "number": "1", "text": "x", "tags": "vip"}.get(spec.type, 1)
            if spec.type == "choice" and spec.choices:
                value = spec.choices()[0][0]
            list(subject.queryset().filter(subjects.rule_q(spec, op, value, now=now))[:1])
    urgent = subjects.rule_q(
        subjects.SUBJECTS["ticket"].fields["priority"], "eq", "urgent", now=now
    )
    assert subjects.SUBJECTS["ticket"].queryset().filter(urgent).count() == 1
    assert {"conversation.waiting", "ticket.sla_breached", "ticket.solved"} <= set(subjects.EVENTS)


def test_the_api_answers_once_per_key_and_reads_the_conversation_back(owner: User) -> None:
    conversation = _conversation()
    call = api_caller(owner)
    path = f"/support/conversations/{conversation.pk}"
    for _attempt in range(2):
        response = call("post", f"{path}/reply", {"body": "Sprawdzam"}, **{"Idempotency-Key": "a1"})
        assert response.status_code == 201
    assert Message.objects.count() == 1
    assert call("post", f"{path}/status", {"status": "bogus"}).status_code == 422
    detail = call("get", path).json()
    assert [e["kind"] for e in detail["entries"]] == ["inbound", "reply"]
    assert detail["conversation"]["status"] == "open" and detail["ticket"] is None
    listed = call("get", "/support/conversations", {"view": "all"}).json()
    assert [c["id"] for c in listed] == [conversation.pk]


def test_a_ticket_opened_on_the_page_names_its_order_by_number(owner_client: Client) -> None:
    from procedo.orders.tests.factories import order_create

    order = order_create()
    conversation = _conversation()
    page = f"/support/{conversation.pk}/"
    assert 'name="order_number"' in owner_client.get(page).content.decode()
    unknown = owner_client.post(f"{page}ticket/", {"priority": "high", "order_number": "X-1"})
    assert unknown.status_code == 404 and "No order numbered X-1." in unknown.content.decode()
    assert not Ticket.objects.exists()
    opened = owner_client.post(
        f"{page}ticket/", {"priority": "high", "order_number": f" #{order.number} "}
    )
    assert opened.status_code == 302
    ticket = Ticket.objects.get()
    assert (ticket.order_id, ticket.priority) == (order.pk, "high")
    assert f"order {order.number}" in owner_client.get(page).content.decode()


def test_urgent_only_with_a_reason_and_a_new_priority_counts_the_time_already_used(
    polish_calendar: None, owner: User, owner_client: Client
) -> None:
    from procedo.events.timeline import timeline_lines

    for priority, first, solve in (("normal", 60, 600), ("urgent", 15, 120)):
        sla_policy_save(
            priority=priority, first_response_minutes=first, resolution_minutes=solve, actor=owner
        )
    conversation = _conversation()
    with pytest.raises(DomainError) as caught:
        ticket_open(conversation_id=conversation.pk, priority="urgent", actor=owner)
    assert caught.value.field == "urgent_reason" and not Ticket.objects.exists()
    ticket = ticket_open(conversation_id=conversation.pk, actor=owner)
    cal = work_calendar(business_get())
    # The clock stood still 20 working minutes after the ticket opened (waiting on the
    # customer; set directly: the test has no clock), so the rebasing starts from there.
    paused_at = cal.add_minutes(ticket.opened_at, 20)
    Ticket.objects.filter(pk=ticket.pk).update(paused_at=paused_at)

    page = f"/support/{conversation.pk}/ticket/priority/"
    refused = owner_client.post(page, {"priority": "urgent", "urgent_reason": "   "})
    assert refused.status_code == 422
    assert "Say why it is urgent" in refused.content.decode()
    call = api_caller(owner)
    bad = call("post", f"/support/tickets/{ticket.pk}/priority", {"priority": "urgent"})
    assert bad.status_code == 422 and bad.json()["field"] == "urgent_reason"
    assert Ticket.objects.get().priority == "normal"
    assert not Event.objects.filter(event_type="ticket.priority_changed").exists()

    reason = "The customer's wedding is on Saturday"
    moved = owner_client.post(page, {"priority": "urgent", "urgent_reason": f"  {reason} "})
    assert moved.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.urgent_reason, ticket.urgent_by) == ("urgent", reason, owner)
    # 20 of the urgent target's 15 minutes to a first answer are gone: due at once. The
    # solution's 120 count the 20 already used.
    assert ticket.first_response_due_at == paused_at
    assert ticket.resolution_due_at is not None
    used = cal.minutes_between(ticket.opened_at, paused_at)
    assert used == 20
    assert cal.minutes_between(paused_at, ticket.resolution_due_at) == 120 - used
    again = call("post", f"/support/tickets/{ticket.pk}/priority", {"priority": "urgent"})
    assert again.status_code == 422  # the reason is asked each time it is made urgent
    again_urgent = {"priority": "urgent", "urgent_reason": "x"}
    same = call("post", f"/support/tickets/{ticket.pk}/priority", again_urgent)
    assert same.status_code == 200 and same.json()["urgent_reason"] == reason  # unchanged
    [changed] = Event.objects.filter(event_type="ticket.priority_changed")
    assert changed.payload == {"from": "normal", "to": "urgent", "reason": reason}
    assert timeline_lines([changed])[0].plain.endswith(f"urgent: {reason}")
    standards = selectors.response_standards(
        since=timezone.now() - timedelta(days=30), now=timezone.now()
    )
    assert [(p.user_id, p.made_urgent) for p in standards.people] == [(owner.pk, 1)]
    assert call("get", "/support/standards").json()["people"][0]["made_urgent"] == 1

    back = call("post", f"/support/tickets/{ticket.pk}/priority", {"priority": "normal"})
    assert back.status_code == 200
    assert (back.json()["priority"], back.json()["urgent_reason"]) == ("normal", "")
    assert Event.objects.filter(event_type="ticket.priority_changed").count() == 2
