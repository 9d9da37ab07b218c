"""The Ukrainian catalog: complete, compiled in pure Python, and chosen from the user menu.

To add strings after marking new ones for translation, from the project root:
    procedo makemessages -l uk --ignore=.venv --ignore=var --ignore=test-results \
        --ignore=tests --ignore='*/tests/*' --ignore=bench --ignore=procedo.egg-info
then fill every empty msgstr (and clear every `#, fuzzy`) in procedo/locale/uk/LC_MESSAGES/
django.po.
"""

from __future__ import annotations

import gettext
import os
import re
import shutil
from pathlib import Path

import django
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from procedo.core.management.commands.compile_locale import is_stale

PO = Path(__file__).resolve().parents[2] / "locale" / "uk" / "LC_MESSAGES" / "django.po"
DJANGO_UK = Path(django.__file__).parent / "conf" / "locale" / "uk" / "LC_MESSAGES" / "django.po"
# What a translation must carry over unchanged: %(name)s / %s / %d, {{ var }}, HTML tags.
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdr]|%[sd]|\{\{[^}]*\}\}|</?[a-z][^>]*>")


def _read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, abort_invalid=True)


def test_every_string_is_translated_and_none_is_fuzzy() -> None:
    catalog = _read(PO)
    messages = [m for m in catalog if m.id]
    assert len(messages) > 1500
    fuzzy = [m.id for m in messages if m.fuzzy]
    untranslated = [
        m.id for m in messages if not all(m.string if isinstance(m.string, tuple) else [m.string])
    ]
    assert fuzzy == []
    assert untranslated == []
    assert not catalog.fuzzy  # the header: msgfmt and Babel skip a fuzzy header's Plural-Forms


def test_translations_keep_placeholders_and_tags() -> None:
    wrong = []
    for m in _read(PO):
        if not m.id:
            continue
        ids = tuple(m.id) if isinstance(m.id, tuple | list) else (str(m.id),)
        strings = tuple(m.string) if isinstance(m.string, tuple | list) else (str(m.string),)
        expected = set(PLACEHOLDER.findall(ids[-1]))
        wrong += [(ids[0], s) for s in strings if set(PLACEHOLDER.findall(s)) != expected]
    assert wrong == []


def test_plural_forms_are_djangos_own_for_ukrainian() -> None:
    ours, djangos = _read(PO), _read(DJANGO_UK)
    # The same rule as Django's catalog, so both merge into one plural function.
    assert ours.num_plurals == djangos.num_plurals == 4
    assert ours.plural_expr == djangos.plural_expr
    assert all(len(tuple(m.string or ())) == 4 for m in ours if isinstance(m.id, tuple))


@pytest.fixture
def locale_copy(tmp_path: Path, settings: object) -> Path:
    po = tmp_path / "uk" / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    shutil.copyfile(PO, po)
    settings.LOCALE_PATHS = [tmp_path]  # type: ignore[attr-defined]
    return po


def test_compile_locale_writes_a_mo_gettext_reads(locale_copy: Path) -> None:
    call_command("compile_locale", verbosity=0)
    with locale_copy.with_suffix(".mo").open("rb") as f:
        uk = gettext.GNUTranslations(f)
    assert uk.gettext("My work") == "Мої завдання"
    assert uk.pgettext("verb", "Open") == "Відкрити"
    one, many = "%(n)s unread notification", "%(n)s unread notifications"
    forms = {n: uk.ngettext(one, many, n) % {"n": n} for n in (1, 3, 5, 11, 21, 24)}
    assert forms == {
        1: "1 непрочитане сповіщення",
        3: "3 непрочитані сповіщення",
        5: "5 непрочитаних сповіщень",
        11: "11 непрочитаних сповіщень",
        21: "21 непрочитане сповіщення",
        24: "24 непрочитані сповіщення",
    }


def test_compile_locale_rewrites_a_mo_only_when_its_po_is_newer(locale_copy: Path) -> None:
    mo = locale_copy.with_suffix(".mo")
    call_command("compile_locale", verbosity=0)
    os.utime(mo, (1_000_000_000, 1_000_000_000))
    os.utime(locale_copy, (900_000_000, 900_000_000))
    call_command("compile_locale", verbosity=0)
    assert mo.stat().st_mtime == 1_000_000_000  # up to date: left alone

    os.utime(locale_copy, (1_100_000_000, 1_100_000_000))
    assert is_stale(locale_copy)
    call_command("compile_locale", verbosity=0)
    assert not is_stale(locale_copy)


def test_a_broken_catalog_is_named_and_no_mo_is_written(locale_copy: Path) -> None:
    text = locale_copy.read_text(encoding="utf-8")
    locale_copy.write_text("<<<<<<< HEAD\n" + text, encoding="utf-8")  # a merge left unresolved
    with pytest.raises(CommandError, match=r"django\.po"):
        call_command("compile_locale", verbosity=0)
    assert list(locale_copy.parent.iterdir()) == [locale_copy]


def test_the_test_session_compiled_the_projects_catalog() -> None:
    assert not is_stale(PO)


def test_the_user_menu_switches_the_interface_to_ukrainian(owner_client: Client) -> None:
    page = owner_client.get("/tasks/").content.decode()
    assert '<html lang="en">' in page
    assert ">My work<" in page
    assert 'name="language" value="uk"' in page  # the switch offers the other language

    answer = owner_client.post("/accounts/language/", {"language": "uk", "next": "/tasks/"})
    assert answer.status_code == 302
    assert answer["Location"] == "/tasks/"

    page = owner_client.get("/tasks/").content.decode()
    assert '<html lang="uk">' in page
    for label in ("Мої завдання", "Головна", "Клієнти", "Замовлення", "Вийти"):
        assert f">{label}<" in page, label
    assert ">My work<" not in page
    assert 'name="language" value="en"' in page

    dashboard = owner_client.get("/").content.decode()
    assert "Активність у Procedo за останні 14 днів" in dashboard
    assert "Замовлення, що чекають" in dashboard

    owner_client.post("/accounts/language/", {"language": "en", "next": "/"})
    assert ">My work<" in owner_client.get("/tasks/").content.decode()


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_every_string_marked_for_translation_is_in_the_catalog(
    tmp_path: Path, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the project's makemessages finds in the code and templates is all in the catalog:
    a new `_("…")` or `{% translate %}` without its Ukrainian fails here, not on a screen."""
    for package in ("procedo", "config"):  # the project's code, and its settings and API
        shutil.copytree(
            PO.parents[4] / package,
            tmp_path / package,
            ignore=lambda folder, names: [
                name
                for name in names
                if name in {"tests", "locale", "__pycache__", "static"}
                or (Path(folder, name).is_file() and not name.endswith((".py", ".html", ".txt")))
            ],
        )
    (tmp_path / "locale").mkdir()
    # Extract into the copy's own locale folder, never into the project's catalog.
    settings.LOCALE_PATHS = []  # type: ignore[attr-defined]
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=["uk"], verbosity=0)
    found = {m.id for m in _read(tmp_path / "locale" / "uk" / "LC_MESSAGES" / "django.po") if m.id}
    ours = {m.id for m in _read(PO) if m.id}
    missing = sorted(str(m) for m in found - ours)
    assert missing == [], "\n".join(missing)
