"""The library of ready SOPs: every entry validates, installs once, and the demo runs them."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from procedo.accounts.roles import Role
from procedo.automation.tests.helpers import person
from procedo.core.errors import DomainError, PermissionDenied
from procedo.events.models import Event
from procedo.sops import library, services
from procedo.sops.definitions import definition_parse
from procedo.sops.library import LIBRARY, library_install
from procedo.sops.models import Revision, RevisionState, Sop
from procedo.sops.validation import definition_clean
from procedo.testing import browser_log_in, logged_in

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- the entries


@pytest.mark.parametrize("key", sorted(LIBRARY))
def test_every_entry_validates_as_a_store_owners_draft(key: str) -> None:
    entry = LIBRARY[key]
    clean = definition_clean(dict(entry.definition), subject_type=entry.subject_type, sop_id=None)
    assert clean["triggers"] and clean["steps"]
    # What the engine reads back is what was written (nothing dropped by normalising).
    parsed = definition_parse(clean)
    assert [s.key for s in parsed.steps] == [s["key"] for s in entry.definition["steps"]]


def test_the_library_covers_the_issue_for_the_subjects_that_exist() -> None:
    assert set(LIBRARY) == {
        "order_fulfilment",
        "after_delivery",
        "next_product",
        "win_back",
        "vip_recognition",
        "complaint",
        "objection_handling",
        "referral_ask",
    }
    kinds = {
        step.get("checklist_kind")
        for entry in LIBRARY.values()
        for step in entry.definition["steps"]
        if step["kind"] == "checklist"
    }
    assert kinds == {"simple", "detailed", "decision", "verification", "information"}
    fulfilment = definition_parse(dict(LIBRARY["order_fulfilment"].definition))
    confirm = fulfilment.step("confirm_call")
    assert confirm.due_in_minutes == 15 and confirm.checklist_kind == "decision"
    assert {o.goto for o in confirm.items[0].options} == {"", "change_order", "unreachable_sms"}
    assert fulfilment.step("pack").on_fail == "fix_packing"
    win_back = definition_parse(dict(LIBRARY["win_back"].definition))
    assert win_back.triggers[0].kind == "date" and win_back.triggers[0].field == "last_order_at"
    assert len(library.PENDING) == 3


def test_install_all_makes_drafts_that_pass_review_and_publish() -> None:
    owner, manager = person(Role.OWNER), person(Role.MANAGER)
    installed = library_install(keys=None, actor=owner)
    assert sorted(str(sop.library_key) for sop in installed) == sorted(LIBRARY)
    assert installed.already == []
    for sop in installed:
        draft = sop.revisions.get()
        assert draft.state == RevisionState.DRAFT and sop.owner_id == owner.pk
        assert draft.definition["steps"]
        services.revision_transition(revision_id=draft.pk, to_state="review", actor=owner)
        services.revision_transition(revision_id=draft.pk, to_state="approved", actor=manager)
        services.revision_transition(revision_id=draft.pk, to_state="published", actor=manager)
    assert Revision.objects.filter(state=RevisionState.PUBLISHED).count() == len(LIBRARY)
    events = Event.objects.filter(event_type="sop.library_installed")
    assert sorted(e.payload["library_key"] for e in events) == sorted(LIBRARY)


def test_installing_twice_makes_nothing_new_and_says_what_was_there() -> None:
    owner = person(Role.OWNER)
    first = library_install(keys=["complaint", "vip_recognition"], actor=owner)
    assert len(first) == 2
    counts = (Sop.objects.count(), Revision.objects.count(), Event.objects.count())
    again = library_install(keys=["vip_recognition", "complaint"], actor=owner)
    assert list(again) == []
    assert sorted(str(sop.library_key) for sop in again.already) == [
        "complaint",
        "vip_recognition",
    ]
    assert (Sop.objects.count(), Revision.objects.count(), Event.objects.count()) == counts
    rest = library_install(keys=None, actor=owner)
    assert len(rest) == len(LIBRARY) - 2 and len(rest.already) == 2


def test_an_unknown_key_is_refused_by_name_and_nothing_is_installed() -> None:
    owner = person(Role.OWNER)
    with pytest.raises(DomainError) as caught:
        library_install(keys=["complaint", "lead_callback"], actor=owner)
    assert caught.value.field == "keys" and "lead_callback" in caught.value.message
    assert not Sop.objects.exists()


def test_an_operator_may_not_install() -> None:
    with pytest.raises(PermissionDenied):
        library_install(keys=["complaint"], actor=person(Role.OPERATOR))
    assert not Sop.objects.exists()


# ---------------------------------------------------------------- the command


def _command(*args: str) -> str:
    out = StringIO()
    call_command("sops_library", *args, stdout=out)
    return out.getvalue()


def test_the_command_lists_installs_and_refuses_unknown_keys() -> None:
    person(Role.OWNER, username="boss")
    listing = _command("--list")
    assert "order_fulfilment" in listing and "not installed" in listing
    assert "Installed: complaint" in _command("--install", "complaint")
    assert "Already there: complaint" in _command("--install", "complaint")
    assert Sop.objects.filter(library_key="complaint").count() == 1
    with pytest.raises(CommandError, match="lead_callback"):
        _command("--install", "lead_callback")
    with pytest.raises(CommandError):
        _command("--install")  # nothing named
    out = _command("--all", "--owner", "boss")
    assert Sop.objects.count() == len(LIBRARY) and "Already there: complaint" in out
    assert "installed as SOP" in _command("--list")


@pytest.mark.slow
def test_the_command_exits_non_zero_on_an_unknown_key() -> None:
    import subprocess
    import sys

    # The real process: CommandError becomes exit status 1 and one line on stderr.
    done = subprocess.run(
        [sys.executable, "-m", "procedo", "sops_library", "--install", "no_such_sop"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "no_such_sop" in done.stderr


# ---------------------------------------------------------------- the page


def test_the_library_page_lists_entries_and_installs(django_assert_max_num_queries: Any) -> None:
    owner = person(Role.OWNER)
    client = logged_in(owner)
    library_install(keys=["win_back", "referral_ask"], actor=owner)
    with django_assert_max_num_queries(12):  # not one query per entry
        page = client.get(reverse("sops:library"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Підтвердити замовлення дзвінком" in text and "Install all" in text
    response = client.post(reverse("sops:library-install"), {"key": "complaint"})
    assert response.status_code == 302
    sop = Sop.objects.get(library_key="complaint")
    text = client.get(reverse("sops:library")).content.decode()
    assert reverse("sops:revision", args=[sop.revisions.get().pk]) in text
    response = client.post(reverse("sops:library-install"), {"all": "1"}, follow=True)
    assert Sop.objects.count() == len(LIBRARY)
    assert "Already installed" in response.content.decode()
    response = client.post(reverse("sops:library-install"), {"key": "nope"}, follow=True)
    assert "nope" in response.content.decode() and Sop.objects.count() == len(LIBRARY)
    assert reverse("sops:library") in client.get(reverse("sops:list")).content.decode()


def test_only_authors_install_from_the_page() -> None:
    operator = person(Role.OPERATOR)
    client = logged_in(operator)
    assert client.get(reverse("sops:library")).status_code == 200
    assert client.post(reverse("sops:library-install"), {"all": "1"}).status_code == 403
    assert not Sop.objects.exists()


# ---------------------------------------------------------------- the page in a browser


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_library_page_in_a_browser(page: Any, live_server: Any, quiet: None) -> None:
    from tests.browser.conftest import screenshot

    owner = person(Role.OWNER, username="oksana", first_name="Оксана", last_name="Литвиненко")
    library_install(keys=["order_fulfilment", "after_delivery"], actor=owner)
    browser_log_in(page, live_server, "oksana")
    page.goto(f"{live_server.url}{reverse('sops:list')}")
    page.click(f"a[href='{reverse('sops:library')}']")
    page.click("#library-order_fulfilment summary")
    screenshot(page, "sop-library")
    page.click("#library-complaint button[type=submit]")  # Install: opens the new draft
    page.wait_for_selector("h1")
    assert "/sops/revisions/" in page.url
    assert Sop.objects.filter(library_key="complaint").exists()
    page.goto(f"{live_server.url}{reverse('sops:library')}")
    page.click("text=Install all")
    page.wait_for_selector(".msg")
    assert Sop.objects.count() == len(LIBRARY)
