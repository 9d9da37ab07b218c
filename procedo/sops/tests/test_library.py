"""The library of ready SOPs: data files that validate, translate, install once, and run."""

from __future__ import annotations

import ast
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import translation

from procedo.accounts.roles import Role
from procedo.automation.tests.helpers import person
from procedo.core.errors import DomainError, PermissionDenied
from procedo.events.models import Event
from procedo.sops import library
from procedo.sops.definitions import definition_parse
from procedo.sops.library import LIBRARY, LIBRARY_DIR, library_install, library_load, library_words
from procedo.sops.models import Revision, RevisionState, Sop
from procedo.sops.services import revisions as revision_services
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
        "loyalty_tier_reward",  # procedo/loyalty
        "review_meeting",
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
        revision_services.revision_transition(revision_id=draft.pk, to_state="review", actor=owner)
        revision_services.revision_transition(
            revision_id=draft.pk, to_state="approved", actor=manager
        )
        revision_services.revision_transition(
            revision_id=draft.pk, to_state="published", actor=manager
        )
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


# ---------------------------------------------------------------- data files and their words

PO = Path(__file__).resolve().parents[2] / "locale" / "uk" / "LC_MESSAGES" / "django.po"


def test_each_file_is_one_sop_named_by_its_key() -> None:
    files = sorted(path.stem for path in LIBRARY_DIR.glob("*.json"))
    assert files == sorted(LIBRARY)
    for key, entry in LIBRARY.items():
        raw = json.loads((LIBRARY_DIR / f"{key}.json").read_text(encoding="utf-8"))
        assert raw["key"] == key == entry.key and raw["definition"] == entry.definition
    # Orders' SOPs come first on the page, then customers'.
    subjects = [entry.subject_type for entry in LIBRARY.values()]
    assert subjects == sorted(subjects, key=["order", "customer", "business"].index)


def test_strings_py_lists_exactly_the_words_of_the_files() -> None:
    """makemessages reads strings.py; it must say what the files say, no more, no less."""
    tree = ast.parse((LIBRARY_DIR / "strings.py").read_text(encoding="utf-8"))
    listed = [
        ast.literal_eval(node.args[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "gettext_noop"
    ]
    words = [word for _file, word in library_words()]
    assert listed == words, "run: procedo sops_library --strings > procedo/sops/library/strings.py"
    # The words are what people read, never a key, a tag or a code.
    assert "Confirm the order by phone" in words and "Outcome of the call" in words
    assert not {"confirm_call", "order.created", "operator", "win-back", "VIP"} & set(words)


def test_every_word_of_the_library_has_its_ukrainian_translation() -> None:
    with PO.open("rb") as f:
        catalog = read_po(f)
    missing = [word for _file, word in library_words() if not (catalog.get(word) or _NONE).string]
    assert missing == []


class _NONE:
    string = ""


def test_a_store_gets_the_library_in_the_language_it_installs_in() -> None:
    owner = person(Role.OWNER)
    library_install(keys=["order_fulfilment"], actor=owner, language="uk")
    sop = Sop.objects.get(library_key="order_fulfilment")
    steps = {step["key"]: step for step in sop.revisions.get().definition["steps"]}
    assert sop.name.startswith("Нове замовлення")
    assert steps["confirm_call"]["title"] == "Підтвердити замовлення дзвінком"
    assert steps["confirm_call"]["items"][0]["options"][1]["label"] == (
        "Клієнт просить змінити замовлення"
    )
    assert "команда {{ business.name }}" in steps["tracking_email"]["body"]
    assert steps["mark_confirmed"]["status"] == "confirmed"  # codes are never translated

    with translation.override("en"):  # the person's language, when none is named
        library_install(keys=["complaint"], actor=owner)
    complaint = Sop.objects.get(library_key="complaint").revisions.get().definition
    gather = next(step for step in complaint["steps"] if step["key"] == "gather")
    assert gather["title"] == "Gather the details of the complaint"
    assert gather["items"][1]["choices"][0] == "Damaged goods"
    assert [
        e.payload["language"]
        for e in Event.objects.filter(event_type="sop.library_installed").order_by("id")
    ] == ["uk", "en"]
    with pytest.raises(DomainError) as caught:
        library_install(keys=["win_back"], actor=owner, language="xx")
    assert caught.value.field == "language"


def _library_copy(tmp_path: Path, key: str, change: Any) -> Path:
    raw = json.loads((LIBRARY_DIR / f"{key}.json").read_text(encoding="utf-8"))
    change(raw)
    (tmp_path / f"{key}.json").write_text(json.dumps(raw), encoding="utf-8")
    return tmp_path


def test_a_file_with_bad_metadata_is_refused_naming_the_file_and_the_field(tmp_path: Path) -> None:
    def unknown_kpi(raw: dict[str, Any]) -> None:
        raw["kpi"] = "happiness"

    with pytest.raises(DomainError) as caught:
        library_load(_library_copy(tmp_path, "complaint", unknown_kpi))
    assert caught.value.field == "kpi" and caught.value.message.startswith("complaint.json: kpi:")

    (tmp_path / "complaint.json").write_text('{"key": "complaint",', encoding="utf-8")
    with pytest.raises(DomainError, match=r"complaint\.json: line 1"):
        library_load(tmp_path)

    def renamed(raw: dict[str, Any]) -> None:
        raw["key"] = "grievance"

    with pytest.raises(DomainError, match="not the file's name"):
        library_load(_library_copy(tmp_path, "complaint", renamed))


def test_a_file_whose_definition_fails_is_refused_and_nothing_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unknown_role(raw: dict[str, Any]) -> None:
        raw["definition"]["steps"][2]["assignee"]["role"] = "astronaut"

    broken = library_load(_library_copy(tmp_path, "complaint", unknown_role))
    monkeypatch.setattr(library, "LIBRARY", {**LIBRARY, **broken})
    owner = person(Role.OWNER)
    events = Event.objects.count()
    with pytest.raises(DomainError) as caught:
        library_install(keys=["vip_recognition", "complaint"], actor=owner)
    assert caught.value.field == "steps.2.assignee.role"
    assert caught.value.message.startswith("complaint.json: steps.2.assignee.role:")
    assert "astronaut" in caught.value.message
    assert not Sop.objects.exists() and Event.objects.count() == events


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
    assert "Confirm the order by phone" in text and "Install all" in text
    client.post(reverse("set_language"), {"language": "uk"})
    text = client.get(reverse("sops:library")).content.decode()
    assert "Підтвердити замовлення дзвінком" in text and "Confirm the order" not in text
    client.post(reverse("set_language"), {"language": "en"})
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
