"""A person's interface language is theirs: saved on the profile, used after the next log-in
on any browser; the log-in page has its own switch for whoever is not signed in yet."""

from __future__ import annotations

import pytest
from django.test import Client

from procedo.accounts.models import User
from procedo.events.models import Event
from procedo.testing import PASSWORD, api_caller

pytestmark = pytest.mark.django_db


def test_the_choice_is_saved_and_opens_the_next_log_in_on_another_browser(
    owner: User, owner_client: Client
) -> None:
    answer = owner_client.post("/accounts/language/", {"language": "uk", "next": "/tasks/"})
    assert (answer.status_code, answer["Location"]) == (302, "/tasks/")
    owner.refresh_from_db()
    assert owner.language == "uk"
    changed = Event.objects.get(event_type="user.language_changed", subject_id=owner.pk)
    assert changed.payload == {"from": "", "to": "uk"}

    # Another browser, which asks for English and has no language cookie.
    other = Client(headers={"Accept-Language": "en"})
    login = other.get("/accounts/login/").content.decode()
    assert ">Log in<" in login
    other.post("/accounts/login/", {"username": owner.username, "password": PASSWORD})
    page = other.get("/tasks/").content.decode()
    assert '<html lang="uk">' in page
    assert ">Мої завдання<" in page

    # The same choice again records nothing new.
    owner_client.post("/accounts/language/", {"language": "uk", "next": "/"})
    assert Event.objects.filter(event_type="user.language_changed").count() == 1


def test_the_log_in_page_switches_for_someone_not_signed_in() -> None:
    browser = Client(headers={"Accept-Language": "en"})
    page = browser.get("/accounts/login/").content.decode()
    assert 'name="language" value="uk"' in page
    answer = browser.post("/accounts/language/", {"language": "uk", "next": "/accounts/login/"})
    assert answer.status_code == 302
    page = browser.get("/accounts/login/").content.decode()
    assert '<html lang="uk">' in page
    assert ">Увійти<" in page
    assert 'name="language" value="en"' in page


def test_a_language_not_offered_is_refused_and_nothing_changes(
    owner: User, owner_client: Client
) -> None:
    answer = owner_client.post("/accounts/language/", {"language": "xx", "next": "/"})
    assert answer.status_code == 422
    owner.refresh_from_db()
    assert owner.language == ""

    call = api_caller(owner)
    refused = call("put", "/accounts/me/language", {"language": "de"})
    assert (refused.status_code, refused.json()["field"]) == (422, "language")
    saved = call("put", "/accounts/me/language", {"language": "uk"})
    assert (saved.status_code, saved.json()["language"]) == (200, "uk")
    assert call("get", "/accounts/me").json()["language"] == "uk"
    assert not Event.objects.filter(event_type="user.language_changed", payload__to="de").exists()
