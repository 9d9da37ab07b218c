from __future__ import annotations

import re
from typing import Any

import pytest

from procedo.accounts.models import User
from procedo.testing import browser_log_in
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_logs_in_and_sees_the_dashboard(page: Any, live_server: Any, owner: User) -> None:
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    screenshot(page, "login")
    browser_log_in(page, live_server, "owner")
    page.wait_for_selector("h1:has-text('Dashboard')")
    assert page.locator("table.sales thead th").nth(1).text_content() == "Today"
    assert page.locator("table.timeline td", has_text="as Owner").count() >= 1
    # htmx is served from our own static files, never a CDN.
    assert page.evaluate("typeof window.htmx") == "object"
    screenshot(page, "dashboard")


def test_token_revoke_swaps_the_row_with_htmx(page: Any, live_server: Any, owner: User) -> None:
    browser_log_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/accounts/profile/")
    page.fill("#id_name", "Склад")
    page.click("text=Create token")
    secret = page.locator(".secret code").inner_text()
    assert re.fullmatch(r"pro_[0-9a-f]{8}_\S+", secret)
    screenshot(page, "profile-token")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Revoke')")
    page.wait_for_selector(".tag.bad:has-text('revoked')")
    assert page.url.endswith("/accounts/profile/")


def test_a_viewer_sees_no_team_page(page: Any, live_server: Any, make_user: Any) -> None:
    make_user("viewer", username="viewer1")
    browser_log_in(page, live_server, "viewer1")
    page.wait_for_selector("h1:has-text('Dashboard')")
    assert page.locator(".sidenav a", has_text="Team").count() == 0
    response = page.goto(f"{live_server.url}/accounts/users/")
    assert response.status == 403
