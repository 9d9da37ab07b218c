"""From a task, one search finds the objection script; the customers' FAQ needs no login."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.knowledge import services
from procedo.knowledge.models import ArticleOpen
from procedo.testing import PASSWORD, browser_log_in
from procedo.work.services.lifecycle import task_create
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
WIDER_THAN_THE_SCREEN = "document.documentElement.scrollWidth > window.innerWidth + 1"


def _store(operator: User) -> int:
    services.article_create(
        kind="objection",
        language="uk",
        title="Заперечення: «Це занадто дорого»",
        protocol={
            "objection": "Це занадто дорого",
            "technique": "reframe",
            "script": "«Розумію, ціна важлива. З чим ви порівнюєте?» Вислухайте. У нашу ціну "
            "входять гарантія, доставка і сервіс.",
            "follow_up": ["З чим ви порівнюєте?", "Що для вас найважливіше, крім ціни?"],
            "next_step": "Запропонуйте оплату частинами або дешевшу модель.",
        },
        status="published",
        actor=None,
    )
    for language, title, body in [
        ("uk", "Скільки триває доставка?", "Відправляємо того ж дня, доставка 1–2 дні."),
        ("en", "How long does delivery take?", "We ship the same day; delivery takes 1–2 days."),
    ]:
        services.article_create(
            kind="faq",
            language=language,
            audience="public",
            status="published",
            title=title,
            body=body,
            actor=None,
        )
    task = task_create(
        title="Дзвінок: клієнтка вагається", assignee_user_id=operator.pk, actor=None
    )
    return int(task.pk)


def test_an_objection_script_from_a_task_and_the_public_faq(
    browser: Any, page: Any, live_server: Any, make_user: Any
) -> None:
    operator = make_user(Role.OPERATOR, username="taras", first_name="Тарас")
    task_id = _store(operator)

    browser_log_in(page, live_server, "taras")
    page.goto(f"{live_server.url}/tasks/{task_id}/")
    box = page.locator(f"#kb-task-{task_id}")
    box.locator("input[name=q]").fill("дорогий")
    box.locator("button[type=submit]").click()
    hit = box.locator(".kb-hit a", has_text="Це занадто дорого")
    hit.wait_for()
    assert box.locator(".kb-snippet mark").count() >= 1 or box.locator("a mark").count() == 1
    screenshot(page, "knowledge-task-search")
    hit.click()
    page.wait_for_selector(".protocol")
    assert "Розумію, ціна важлива" in page.locator(".protocol .script").inner_text()
    screenshot(page, "knowledge-script")
    opened = ArticleOpen.objects.get()
    assert (opened.subject_type, opened.subject_id, opened.user_id) == (
        "task",
        task_id,
        operator.pk,
    )
    page.locator("a", has_text="Back to the task").click()
    page.wait_for_url(f"**/tasks/{task_id}/")

    # On a phone, in Ukrainian: the same search fits the screen.
    phone = browser.new_context(viewport=PHONE, has_touch=True, locale="uk-UA")
    phone.add_cookies([{"name": "django_language", "value": "uk", "url": live_server.url}])
    mobile = phone.new_page()
    mobile.goto(f"{live_server.url}/accounts/login/")
    mobile.fill("#id_username", "taras")
    mobile.fill("#id_password", PASSWORD)
    mobile.click("button[type=submit]")
    mobile.wait_for_selector(".topbar")
    mobile.goto(f"{live_server.url}/tasks/{task_id}/")
    box = mobile.locator(f"#kb-task-{task_id}")
    box.locator("input[name=q]").fill("ціну")
    box.locator("button[type=submit]").click()
    box.locator(".kb-hit a", has_text="Це занадто дорого").wait_for()
    assert box.locator("h2").inner_text() == "Скрипти й відповіді"
    box.scroll_into_view_if_needed()
    assert not mobile.evaluate(WIDER_THAN_THE_SCREEN)
    screenshot(mobile, "knowledge-task-search-phone")
    box.locator(".kb-hit a").first.click()
    mobile.wait_for_selector(".protocol")
    assert not mobile.evaluate(WIDER_THAN_THE_SCREEN)
    screenshot(mobile, "knowledge-script-phone")
    phone.close()

    # A customer, not logged in: the FAQ in the browser's language, then in English.
    customer = browser.new_context(viewport=PHONE, has_touch=True, locale="uk-UA")
    faq = customer.new_page()
    faq.goto(f"{live_server.url}/faq/")
    assert faq.locator("h1").inner_text() == "Часті запитання"
    faq.locator("summary", has_text="Скільки триває доставка?").click()
    assert faq.locator(".faq-item[open] .prose").inner_text().startswith("Відправляємо")
    assert faq.locator("text=Це занадто дорого").count() == 0  # internal
    assert not faq.evaluate(WIDER_THAN_THE_SCREEN)
    screenshot(faq, "knowledge-faq-phone")
    faq.locator("a[hreflang=en]").click()
    faq.wait_for_selector("h1:has-text('Frequently asked questions')")
    assert faq.locator("summary", has_text="How long does delivery take?").count() == 1
    customer.close()
    page.goto(f"{live_server.url}/faq/en/")
    page.locator("summary").first.click()
    screenshot(page, "knowledge-faq")
