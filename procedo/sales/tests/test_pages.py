"""The sales pages: people's language and money, htmx moves on the board, refusals in place."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from procedo.accounts.roles import Role
from procedo.sales.models import Deal, StageKind
from procedo.sales.services.leads import LeadIn, lead_create, lead_qualify
from procedo.testing import api_caller, logged_in, person

pytestmark = pytest.mark.django_db


def _deal(manager: Any) -> Deal:
    lead = lead_create(
        data=LeadIn(name="Тарас Шевчук", email="taras@example.com", source="facebook"),
        actor=manager,
    )
    return lead_qualify(lead_id=lead.pk, title="Меблі для офісу", value="12500", actor=manager)


def test_every_page_renders_in_ukrainian_with_money_in_the_business_currency() -> None:
    manager = person(Role.MANAGER)
    deal = _deal(manager)
    client = logged_in(manager)
    client.cookies["django_language"] = "uk"
    pages = {
        "/sales/": "Дошка продажів",
        "/sales/deals/": "Угоди",
        f"/sales/deals/{deal.pk}/": "Історія етапів",
        "/sales/leads/": "Додати ліда",
        f"/sales/leads/{deal.lead_id}/": "Тарас Шевчук",
        "/sales/settings/": "Причини програшу",
        "/sales/figures/": "Вартість ліда",
    }
    for url, words in pages.items():
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 200 and words in body, url
    board = client.get("/sales/").content.decode()
    assert "12\u202f500,00\u00a0₴" in board and "Меблі для офісу" in board


def test_the_boards_buttons_move_a_card_and_a_refusal_names_the_field() -> None:
    manager = person(Role.MANAGER)
    deal = _deal(manager)
    stages = list(deal.pipeline.stages.all())
    client: Client = logged_in(manager)
    moved = client.post(
        f"/sales/deals/{deal.pk}/move/",
        {"stage": stages[1].pk, "view": "board", "form_token": "t-1"},
        HTTP_HX_REQUEST="true",
    )
    assert moved.status_code == 200 and 'id="board"' in moved.content.decode()
    deal.refresh_from_db()
    assert deal.stage_id == stages[1].pk
    lost = next(s for s in stages if s.kind == StageKind.LOST)
    refused = client.post(
        f"/sales/deals/{deal.pk}/move/",
        {"stage": lost.pk, "view": "board", "form_token": "t-2"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 422 and "lost_reason_id" in refused.content.decode()
    deal.refresh_from_db()
    assert deal.stage_id == stages[1].pk


def test_forms_refuse_bad_input_next_to_the_field_and_save_nothing() -> None:
    manager = person(Role.MANAGER)
    client = logged_in(manager)
    negative = client.post(
        "/sales/figures/spend/", {"source": "ads", "month": "2026-11", "amount": "-3"}
    )
    assert negative.status_code == 422 and "cannot be negative" in negative.content.decode()
    bad_lead = client.post(
        "/sales/leads/new/",
        {
            "name": "Х",
            "email": "not-an-email",
            "form_token": "0b0e3e0c-7d0f-4a0e-9b6e-1f0a2b3c4d5e",
        },
    )
    assert bad_lead.status_code == 422 and "not a valid email" in bad_lead.content.decode()
    from procedo.sales.models import ChannelSpend, Lead

    assert not ChannelSpend.objects.exists() and not Lead.objects.exists()


def test_a_deal_page_finds_the_objection_scripts_and_records_the_open() -> None:
    from procedo.knowledge.models import ArticleOpen
    from procedo.knowledge.services import standard_articles_install
    from procedo.knowledge.standard import STANDARD

    manager = person(Role.MANAGER)
    deal = _deal(manager)
    standard_articles_install(slugs=list(STANDARD), actor=manager)
    client = logged_in(manager)
    page = client.get(f"/sales/deals/{deal.pk}/").content.decode()
    assert "Scripts and answers" in page and 'name="subject_type" value="deal"' in page
    found = client.get(
        "/knowledge/search/",
        {"q": "expensive", "subject_type": "deal", "subject_id": str(deal.pk), "kind": "objection"},
    ).content.decode()
    link = re.search(r'href="(/knowledge/[^"]+\?from=deal:\d+)"', found)
    assert link is not None, found
    assert client.get(link.group(1).replace("&amp;", "&")).status_code == 200
    assert ArticleOpen.objects.filter(subject_type="deal", subject_id=deal.pk).exists()


def test_deals_are_found_by_title_and_by_the_customers_name() -> None:
    manager = person(Role.MANAGER)
    deal = _deal(manager)
    call = api_caller(manager)
    for query in ("офісу", "Шевчук", "тарас"):
        found = call("get", "/sales/deals", {"q": query})
        assert found.status_code == 200, query
        assert [item["id"] for item in found.json()["items"]] == [deal.pk], query
    assert call("get", "/sales/deals", {"q": "Коваль"}).json()["items"] == []
    page = logged_in(manager).get("/sales/deals/", {"q": "Шевчук"})
    assert page.status_code == 200 and "Меблі для офісу" in page.content.decode()
