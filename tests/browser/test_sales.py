"""A lead becomes a deal and moves across the board's stages, by its buttons and by drag,
on a desktop and a phone (390×844), in Ukrainian."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.accounts.roles import Role
from procedo.sales.models import Deal, Lead, StageVisit
from procedo.testing import PASSWORD
from tests.browser.conftest import htmx_settled, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def _login(page: Any, live_server: Any) -> None:
    page.context.add_cookies([{"name": "django_language", "value": "uk", "url": live_server.url}])
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", "petro")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("html[lang='uk']")


def _card_in(page: Any, stage_name: str) -> Any:
    return page.locator(f".column[aria-label='{stage_name}'] .deal-card")


def test_a_lead_becomes_a_deal_and_moves_by_buttons_and_by_drag(
    browser: Any, live_server: Any, make_user: Any
) -> None:
    make_user(Role.MANAGER, username="petro", first_name="Петро", last_name="Гнатюк")
    for size, viewport in SIZES.items():
        context = browser.new_context(viewport=viewport, locale="uk-UA")
        page = context.new_page()
        try:
            _login(page, live_server)
            # A lead typed in by hand, then qualified into a deal for a new customer.
            page.goto(f"{live_server.url}/sales/leads/")
            page.fill("#id_name", f"Світлана Мороз {size}")
            page.fill("#id_email", f"svitlana-{size}@example.com")
            page.fill("#id_source", "Instagram")
            page.check("#id_consent")
            page.click("form[action='/sales/leads/new/'] button[type=submit]")
            page.wait_for_selector("text=Кваліфікувати в угоду")
            screenshot(page, f"sales-lead-{size}-uk")
            page.fill("#id_title", f"Кухня під замовлення {size}")
            page.fill("#id_value", "48000")
            page.click("form[action$='/qualify/'] button[type=submit]")
            page.wait_for_selector("text=Історія етапів")
            deal = Deal.objects.get(title=f"Кухня під замовлення {size}")
            assert Lead.objects.get(deal=deal).status == "qualified"

            page.goto(f"{live_server.url}/sales/")
            card = _card_in(page, "Нове").filter(has_text=deal.title)
            card.wait_for()
            assert "48\u202f000,00\u00a0₴" in card.inner_text()
            screenshot(page, f"sales-board-{size}-uk")
            # On by its button: New → Needs meeting.
            card.locator("button.move", has_text="Потрібна зустріч").click()
            _card_in(page, "Потрібна зустріч").filter(has_text=deal.title).wait_for()
            htmx_settled(page)
            # Dragged: Needs meeting → Proposal.
            source = _card_in(page, "Потрібна зустріч").filter(has_text=deal.title)
            source.drag_to(page.locator(".column[aria-label='Пропозиція']"))
            _card_in(page, "Пропозиція").filter(has_text=deal.title).wait_for()
            htmx_settled(page)
            # Dropped on the lost column without a reason: refused in place, nothing moves.
            _card_in(page, "Пропозиція").filter(has_text=deal.title).drag_to(
                page.locator(".column[aria-label='Програно']")
            )
            page.locator("#board .msg.error").wait_for()
            assert "lost_reason_id" in page.locator("#board .msg.error").inner_text()
            _card_in(page, "Пропозиція").filter(has_text=deal.title).wait_for()
            # On to won by its button.
            _card_in(page, "Пропозиція").filter(has_text=deal.title).locator(
                "button.move", has_text="Виграно"
            ).click()
            _card_in(page, "Виграно").filter(has_text=deal.title).wait_for()
            screenshot(page, f"sales-board-moved-{size}-uk")
            stays = StageVisit.objects.filter(deal=deal).order_by("id")
            assert [v.stage.name for v in stays] == [
                "Нове",
                "Потрібна зустріч",
                "Пропозиція",
                "Виграно",
            ]
            page.goto(f"{live_server.url}/sales/deals/{deal.pk}/")
            screenshot(page, f"sales-deal-{size}-uk")
        finally:
            context.close()
