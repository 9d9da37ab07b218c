"""Leads, deals, meetings, spend: the services and the API on a real database (both backends)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from procedo.accounts.roles import Role
from procedo.analytics.kpis import KPIS
from procedo.analytics.periods import Period
from procedo.business.selectors import business_get
from procedo.collab.models import Notification
from procedo.core.errors import Conflict, DomainError
from procedo.customers.models import ConsentState, Identity
from procedo.customers.services.customers import customer_create
from procedo.customers.services.merging import customer_merge
from procedo.events.models import Event
from procedo.messaging.models import Message
from procedo.sales import selectors
from procedo.sales.models import (
    ChannelSpend,
    Deal,
    Lead,
    LeadSubmission,
    LostReason,
    Meeting,
    StageKind,
    StageVisit,
    SubmissionState,
)
from procedo.sales.services.deals import deal_move
from procedo.sales.services.leads import (
    LeadIn,
    lead_contact_log,
    lead_create,
    lead_qualify,
    leads_import,
)
from procedo.sales.services.meetings import meeting_book, meeting_reminders_send
from procedo.sales.services.pipelines import (
    lead_form_create,
    lead_form_set_active,
    pipeline_create,
    pipeline_default,
    stage_create,
    stage_delete,
    stage_update,
    stages_reorder,
)
from procedo.sales.services.spend import spend_import, spend_set
from procedo.testing import api_caller, logged_in, person
from procedo.work.models import Task

pytestmark = pytest.mark.django_db


def _events(subject: Any) -> list[str]:
    return list(
        Event.objects.filter(subject_type=subject._meta.model_name, subject_id=subject.pk)
        .order_by("id")
        .values_list("event_type", flat=True)
    )


def _lead(manager: Any, **extra: Any) -> Lead:
    data = {"name": "Ірина Бондар", "email": "Iryna@Example.com ", "source": "Instagram"} | extra
    return lead_create(data=LeadIn(**data), actor=manager)


def test_a_web_form_post_is_kept_first_and_becomes_a_lead_with_its_utm_and_consent() -> None:
    form = lead_form_create(name="Сайт", source="website", actor=None)
    anyone = Client(enforce_csrf_checks=True)  # a shop's site has no session and no token
    url = f"/sales/forms/{form.key}/submit/"
    posted = anyone.post(
        url,
        {
            "name": "Олег Савчук",
            "phone": "067 123 45 67",
            "utm_source": "google",
            "utm_campaign": "зима-2026",
            "consent": "on",
            "unknown_field": "dropped",
        },
    )
    assert posted.status_code == 201
    lead = Lead.objects.get()
    assert (lead.phone, lead.source, lead.utm_source, lead.utm_campaign, lead.consent) == (
        "+380671234567",
        "website",
        "google",
        "зима-2026",
        True,
    )
    assert LeadSubmission.objects.get().state == SubmissionState.ACCEPTED
    assert _events(lead) == ["lead.created"]

    # An endless UTM value: refused naming the field, no lead, the post itself kept.
    refused = anyone.post(
        url,
        {"name": "Бот", "email": "a@b.ua", "utm_campaign": "x" * 5000},
        HTTP_ACCEPT="application/json",
    )
    assert refused.status_code == 422 and refused.json()["field"] == "utm_campaign"
    assert Lead.objects.count() == 1
    kept = LeadSubmission.objects.filter(state=SubmissionState.REFUSED).get()
    assert kept.error.startswith("utm_campaign") and kept.payload["name"] == "Бот"

    assert anyone.post("/sales/forms/not-a-key/submit/", {"name": "x"}).status_code == 404
    lead_form_set_active(form_id=form.pk, is_active=False, actor=None)
    assert anyone.post(url, {"name": "x", "email": "x@y.ua"}).status_code == 404


def test_the_web_form_is_throttled_per_address(monkeypatch: pytest.MonkeyPatch) -> None:
    from procedo.sales import throttle

    monkeypatch.setattr(throttle, "FORM_LIMIT", 2)
    form = lead_form_create(name="Сайт", source="website", actor=None)
    client = Client(REMOTE_ADDR="203.0.113.9")
    codes = [
        client.post(f"/sales/forms/{form.key}/submit/", {"name": "A", "email": f"{i}@a.ua"})
        for i in range(3)
    ]
    assert [c.status_code for c in codes] == [201, 201, 429]
    assert int(codes[-1]["Retry-After"]) > 0 and Lead.objects.count() == 2
    big = Client(REMOTE_ADDR="203.0.113.10").post(
        f"/sales/forms/{form.key}/submit/", {"name": "A", "message": "x" * 40000}
    )
    assert big.status_code == 413 and Lead.objects.count() == 2


def test_qualifying_finds_the_customer_by_normalised_email_and_records_consent() -> None:
    manager = person(Role.MANAGER)
    existing = customer_create(first_name="Ірина", emails=["iryna@example.com"], actor=None)
    lead = _lead(manager, consent=True, utm={"utm_campaign": "spring"})
    assert lead.email == "iryna@example.com"
    deal = lead_qualify(lead_id=lead.pk, value="1500.50", actor=manager)
    lead.refresh_from_db()
    assert (deal.customer_id, lead.customer_id, lead.status) == (
        existing.pk,
        existing.pk,
        "qualified",
    )
    assert (deal.value, deal.currency, deal.stage.name, deal.owner_id) == (
        Decimal("1500.50"),
        business_get().currency,
        "New",
        manager.pk,
    )
    identity = Identity.objects.get(customer=existing, kind="email")
    assert identity.marketing_consent == ConsentState.GRANTED
    assert _events(lead) == ["lead.created", "lead.qualified"]
    with pytest.raises(Conflict):
        lead_qualify(lead_id=lead.pk, actor=manager)
    # A lead with only a phone makes a new customer with that phone in E.164.
    other = lead_qualify(
        lead_id=_lead(manager, email="", phone="(050) 111-22-33").pk, actor=manager
    )
    assert other.customer_id != existing.pk
    assert Identity.objects.get(customer_id=other.customer_id).value == "+380501112233"


def test_a_deal_moves_keeps_its_history_and_is_won_or_lost_only_with_a_reason() -> None:
    manager = person(Role.MANAGER)
    deal = lead_qualify(lead_id=_lead(manager).pk, value="100", actor=manager)
    pipeline = deal.pipeline
    stages = list(pipeline.stages.all())
    meeting, proposal = stages[1], stages[2]
    won = next(s for s in stages if s.kind == StageKind.WON)
    lost = next(s for s in stages if s.kind == StageKind.LOST)

    deal_move(deal_id=deal.pk, stage_id=meeting.pk, actor=manager, idempotency_key="m1")
    deal_move(deal_id=deal.pk, stage_id=meeting.pk, actor=manager, idempotency_key="m1")
    other = pipeline_create(name="Опт", actor=manager)
    before = list(Event.objects.values_list("id", flat=True))

    # Lost without a reason; a stage from another pipeline: refused by field, nothing moves.
    with pytest.raises(DomainError) as no_reason:
        deal_move(deal_id=deal.pk, stage_id=lost.pk, actor=manager)
    with pytest.raises(DomainError) as foreign:
        deal_move(deal_id=deal.pk, stage_id=other.stages.get(position=0).pk, actor=manager)
    assert (no_reason.value.field, foreign.value.field) == ("lost_reason_id", "stage_id")
    deal.refresh_from_db()
    assert deal.stage_id == meeting.pk and deal.closed_at is None
    assert list(Event.objects.values_list("id", flat=True)) == before

    deal_move(deal_id=deal.pk, stage_id=proposal.pk, actor=manager)
    deal_move(deal_id=deal.pk, stage_id=won.pk, actor=manager)
    deal.refresh_from_db()
    assert deal.closed_at is not None
    assert _events(deal) == [
        "deal.created",
        "deal.stage_changed",
        "deal.stage_changed",
        "deal.stage_changed",
        "deal.won",
    ]
    visits = list(StageVisit.objects.filter(deal=deal).order_by("id"))
    assert [v.stage.name for v in visits] == ["New", "Needs meeting", "Proposal", "Won"]
    assert all(v.seconds is not None for v in visits[:-1]) and visits[-1].left_at is None

    # Reopened and lost with a listed reason.
    reason = LostReason.objects.get(name="Too expensive")
    deal_move(
        deal_id=deal.pk, stage_id=lost.pk, lost_reason_id=reason.pk, lost_note="−20%", actor=manager
    )
    deal.refresh_from_db()
    assert (deal.lost_reason_id, deal.lost_note) == (reason.pk, "−20%")
    assert _events(deal)[-2:] == ["deal.stage_changed", "deal.lost"]


def test_cycle_time_per_stage_is_one_grouped_read(django_assert_num_queries: Any) -> None:
    manager = person(Role.MANAGER)
    pipeline = pipeline_default()
    first, second = list(pipeline.stages.all())[:2]
    for hours in (2, 4):
        deal = lead_qualify(lead_id=_lead(manager, email=f"{hours}@a.ua").pk, actor=manager)
        StageVisit.objects.filter(deal=deal).update(
            entered_at=timezone.now() - timedelta(hours=hours)
        )
        deal_move(deal_id=deal.pk, stage_id=second.pk, actor=manager)
    with django_assert_num_queries(2):
        rows = selectors.stage_cycle_times(pipeline=pipeline)
    by_stage = {row.stage.pk: row for row in rows}
    assert by_stage[first.pk].stays == 2 and by_stage[first.pk].now_in == 0
    average = by_stage[first.pk].average_hours
    assert average is not None and Decimal("2.9") <= average <= Decimal("3.1")
    assert by_stage[second.pk].now_in == 2 and by_stage[second.pk].average_hours is None


def test_managers_edit_stages_as_data() -> None:
    manager = person(Role.MANAGER)
    pipeline = pipeline_default()
    added = stage_create(pipeline_id=pipeline.pk, name="Demo", kind="open", actor=manager)
    names = list(pipeline.stages.values_list("name", flat=True))
    assert names == ["New", "Needs meeting", "Proposal", "Demo", "Won", "Lost"]
    stage_update(stage_id=added.pk, name="Demo call", kind=None, actor=manager)
    ids = list(pipeline.stages.values_list("pk", flat=True))
    stages_reorder(pipeline_id=pipeline.pk, stage_ids=[ids[3], *ids[:3], *ids[4:]], actor=manager)
    assert pipeline.stages.get(position=0).name == "Demo call"
    with pytest.raises(DomainError) as partial:
        stages_reorder(pipeline_id=pipeline.pk, stage_ids=ids[:2], actor=manager)
    assert partial.value.field == "stage_ids"
    with pytest.raises(Conflict):
        stage_create(pipeline_id=pipeline.pk, name="demo CALL", kind="open", actor=manager)
    stage_delete(stage_id=added.pk, actor=manager)
    assert pipeline.stages.count() == 5


def test_a_meeting_is_a_task_at_its_time_and_both_sides_hear_of_it_once() -> None:
    manager = person(Role.MANAGER)
    deal = lead_qualify(lead_id=_lead(manager, consent=True).pk, actor=manager)
    starts = timezone.now() + timedelta(days=2)
    meeting = meeting_book(deal_id=deal.pk, starts_at=starts, actor=manager)
    task = Task.objects.get(pk=int(meeting.task_id or 0))
    assert (task.due_at, task.assignee_user_id, task.subject_type, task.subject_id) == (
        starts,
        manager.pk,
        "deal",
        deal.pk,
    )
    booked = Message.objects.get()
    assert booked.recipient == "iryna@example.com" and deal.title in booked.body
    assert Notification.objects.filter(recipient=manager).count() == 1

    assert meeting_reminders_send(now=starts - timedelta(hours=30)) == 0
    assert meeting_reminders_send(now=starts - timedelta(hours=3)) == 1
    assert meeting_reminders_send(now=starts - timedelta(hours=2)) == 0
    assert (
        Message.objects.count() == 2 and Notification.objects.filter(recipient=manager).count() == 2
    )

    # No consent: the task and the owner's notice, no message to the customer.
    quiet = lead_qualify(lead_id=_lead(manager, email="q@a.ua").pk, actor=manager)
    meeting_book(deal_id=quiet.pk, starts_at=starts, actor=manager)
    assert Message.objects.count() == 2 and Meeting.objects.count() == 2
    with pytest.raises(DomainError) as past:
        meeting_book(deal_id=quiet.pk, starts_at=timezone.now() - timedelta(hours=1), actor=manager)
    assert past.value.field == "starts_at"


def test_spend_gives_cost_per_lead_and_cac_and_bad_spend_changes_nothing() -> None:
    manager = person(Role.MANAGER)
    spend_set(source="Instagram", month="2026-11", amount="3000", actor=manager)
    with pytest.raises(DomainError) as negative:
        spend_set(source="instagram", month="2026-11", amount="-5", actor=manager)
    assert negative.value.field == "amount"
    csv = b"source,month,amount\ngoogle,2026-11,900\ngoogle,2026-12,oops\n"
    with pytest.raises(DomainError) as bad_line:
        spend_import(content=csv, actor=manager)
    assert bad_line.value.field == "file" and "3" in bad_line.value.message
    assert list(ChannelSpend.objects.values_list("source", "amount")) == [
        ("instagram", Decimal("3000.00"))
    ]
    assert spend_import(content=csv.replace(b"oops", b"1200"), actor=manager) == 2

    zone = business_get().zone
    november = Period(first=date(2026, 11, 1), last=date(2026, 11, 30), zone=zone)
    for i in range(3):
        lead = _lead(manager, email=f"{i}@a.ua")
        Lead.objects.filter(pk=lead.pk).update(created_at=november.start + timedelta(days=i))
    won_stage = pipeline_default().stages.get(kind=StageKind.WON)
    deal = lead_qualify(lead_id=Lead.objects.earliest("id").pk, actor=manager)
    deal_move(deal_id=deal.pk, stage_id=won_stage.pk, actor=manager)
    Deal.objects.filter(pk=deal.pk).update(closed_at=november.start + timedelta(days=5))

    figures = selectors.acquisition(first=november.first, last=november.last)
    assert (figures.spend, figures.leads, figures.customers) == (Decimal("3900.00"), 3, 1)
    assert (figures.cost_per_lead, figures.cac) == (Decimal("1300.00"), Decimal("3900.00"))
    half = selectors.acquisition(first=date(2026, 11, 1), last=date(2026, 11, 15))
    assert half.spend == Decimal("1950.00")
    assert KPIS["cost_per_lead"].measure(november, None).value == Decimal("1300.00")
    assert KPIS["customer_acquisition_cost"].measure(november, None).base == 1


def test_lead_response_time_runs_from_arrival_to_the_first_logged_contact() -> None:
    manager = person(Role.MANAGER)
    lead = _lead(manager)
    arrived = timezone.now() - timedelta(hours=3)
    Lead.objects.filter(pk=lead.pk).update(created_at=arrived)
    lead_contact_log(
        lead_id=lead.pk,
        kind="call",
        note="",
        contacted_at=arrived + timedelta(minutes=90),
        actor=manager,
    )
    lead_contact_log(lead_id=lead.pk, kind="email", note="", contacted_at=None, actor=manager)
    lead.refresh_from_db()
    assert lead.first_contact_at == arrived + timedelta(minutes=90) and lead.status == "contacted"
    minutes, n = selectors.lead_response_minutes(
        start=arrived - timedelta(hours=1), end=timezone.now()
    )
    assert (minutes, n) == (Decimal("90.0"), 1)
    with pytest.raises(DomainError) as future:
        lead_contact_log(
            lead_id=lead.pk,
            kind="call",
            note="",
            contacted_at=timezone.now() + timedelta(days=1),
            actor=manager,
        )
    assert future.value.field == "contacted_at"


def test_the_api_walks_a_lead_to_a_won_deal_and_names_every_refused_field() -> None:
    manager = person(Role.MANAGER)
    call = api_caller(manager)
    long_utm = call(
        "post", "/sales/leads", {"name": "A", "email": "a@a.ua", "utm_source": "u" * 201}
    )
    assert long_utm.status_code == 422 and long_utm.json()["field"] == "utm_source"
    created = call(
        "post",
        "/sales/leads",
        {"name": "Марко", "phone": "+380671112233", "utm_campaign": "q4", "consent": True},
        **{"Idempotency-Key": "lead-1"},
    )
    assert created.status_code == 201 and created.json()["origin"] == "api"
    again = call(
        "post",
        "/sales/leads",
        {"name": "Марко", "phone": "+380671112233", "utm_campaign": "q4", "consent": True},
        **{"Idempotency-Key": "lead-1"},
    )
    assert again.json()["id"] == created.json()["id"] and Lead.objects.count() == 1
    lead_id = created.json()["id"]
    assert call("post", f"/sales/leads/{lead_id}/contacts", {"kind": "call"}).status_code == 201
    deal = call("post", f"/sales/leads/{lead_id}/qualify", {"value": "250.00"}).json()
    board = call("get", f"/sales/pipelines/{deal['pipeline_id']}/board").json()
    assert [c["count"] for c in board["columns"]][:1] == [1]
    stages = {c["stage"]["kind"] + c["stage"]["name"]: c["stage"]["id"] for c in board["columns"]}

    lost = call("post", f"/sales/deals/{deal['id']}/stage", {"stage_id": stages["lostLost"]})
    assert lost.status_code == 422 and lost.json()["field"] == "lost_reason_id"
    other = call("post", "/sales/pipelines", {"name": "Опт"}).json()
    foreign = call(
        "post", f"/sales/deals/{deal['id']}/stage", {"stage_id": other["stages"][0]["id"]}
    )
    assert foreign.status_code == 422 and foreign.json()["field"] == "stage_id"
    negative = call("put", "/sales/spend", {"source": "ads", "month": "2026-11", "amount": "-1"})
    assert negative.status_code == 422 and negative.json()["field"] == "amount"
    assert not ChannelSpend.objects.exists()

    won = call("post", f"/sales/deals/{deal['id']}/stage", {"stage_id": stages["wonWon"]})
    assert won.status_code == 200 and won.json()["stage_kind"] == "won"
    detail = call("get", f"/sales/deals/{deal['id']}").json()
    assert [h["stage"] for h in detail["history"]] == ["New", "Won"]
    listed = call("get", "/sales/deals", {"state": "won"}).json()["items"]
    assert [d["id"] for d in listed] == [deal["id"]]
    assert (
        call("get", "/sales/leads", {"status": "qualified"}).json()["items"][0]["deal_id"]
        == deal["id"]
    )
    # A viewer reads, never writes.
    viewer = api_caller(person(Role.VIEWER))
    assert viewer("get", "/sales/deals").status_code == 200
    assert (
        viewer(
            "post", f"/sales/deals/{deal['id']}/stage", {"stage_id": stages["openNew"]}
        ).status_code
        == 403
    )


def test_leads_import_all_or_nothing_and_the_same_file_twice_adds_nothing() -> None:
    manager = person(Role.MANAGER)
    good = (
        "name,email,phone,source,utm_campaign,consent\n"
        "Ганна,hanna@example.com,,Facebook,autumn,так\n"
        "Богдан,,0671234567,,,\n"
    ).encode()
    bad = good + "Ніхто,,,,,\n".encode()
    with pytest.raises(DomainError) as refused:
        leads_import(content=bad, actor=manager)
    assert refused.value.field == "file" and "4" in refused.value.message
    assert not Lead.objects.exists()
    assert leads_import(content=good, actor=manager) == 2
    assert leads_import(content=good, actor=manager) == 0
    hanna, bohdan = Lead.objects.order_by("id")
    assert (hanna.source, hanna.utm_campaign, hanna.consent, hanna.origin) == (
        "facebook",
        "autumn",
        True,
        "import",
    )
    assert (bohdan.phone, bohdan.source) == ("+380671234567", "import")


def test_merging_customers_moves_their_deals_and_leads_and_the_card_lists_deals() -> None:
    manager = person(Role.MANAGER)
    deal = lead_qualify(lead_id=_lead(manager).pk, actor=manager)
    survivor = customer_create(first_name="Ірина", actor=None)
    customer_merge(survivor_id=survivor.pk, duplicate_id=deal.customer_id, actor=manager)
    deal.refresh_from_db()
    assert deal.customer_id == survivor.pk
    assert Lead.objects.get(pk=deal.lead_id or 0).customer_id == survivor.pk
    card = logged_in(manager).get(f"/customers/{survivor.pk}/").content.decode()
    assert deal.title in card
