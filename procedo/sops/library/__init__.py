"""The library of ready SOPs: what a new store installs as drafts and adapts to itself.

Each ready SOP is one data file here, `<key>.json`: its key, name, subject, goal,
why, KPI with target and window, holdout, and its definition in the form a revision
is written (what `PUT /api/sops/revisions/{id}` takes). Installing one makes an SOP
owned by whoever installs it, with a first draft holding the definition, checked by
`definition_clean` exactly as a draft written by hand; a file that fails is refused
naming the file and the field. `Sop.library_key` is UNIQUE, so installing twice
finds what is there and makes nothing new.

Translation: the files hold English source strings. The words people read (the
name, goal and why; step titles, instructions, message subjects and texts, checklist
items, their help, choices and answers) are passed through gettext when an entry is
shown or installed, in the installer's language: a store that installs in Ukrainian
gets Ukrainian drafts, which are its own words from then on. Keys, tags, status
codes and conditions are never translated. makemessages cannot read JSON, so
`strings.py` lists those words as `gettext_noop` calls (written by `procedo
sops_library --strings`, kept equal to the files by a test), and django.po carries
their translations. Discount codes in the messages (COMEBACK15, VIP10, …) are
examples: the store puts in its own before publishing.

SOPs whose subjects do not exist yet are listed in `PENDING`; the issue that builds
leads, tickets, segments or checkouts adds their files here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from procedo.accounts.actors import Actor, actor_person_required
from procedo.accounts.models import User
from procedo.accounts.permissions import user_can
from procedo.analytics.kpis import KPIS
from procedo.core.errors import DomainError, PermissionDenied
from procedo.events.services.recording import event_record
from procedo.sops import knowledge_links
from procedo.sops.models import Sop, SubjectType
from procedo.sops.schemas import KEY
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services
from procedo.sops.validation import definition_clean

LIBRARY_DIR = Path(__file__).resolve().parent
# Where people's words stand in a definition (everything else is an id, a code or a rule).
STEP_WORDS = ("title", "instructions", "subject", "body", "note")
ITEM_WORDS = ("text", "help")


class _File(BaseModel):
    """A library file's metadata; its definition is checked by `definition_clean` on install."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1, max_length=200)
    subject_type: str
    goal: str = Field(default="", max_length=2000)
    why: str = Field(default="", max_length=2000)
    kpi: str
    kpi_target: Decimal | None = Field(default=None, max_digits=12, decimal_places=2)
    kpi_window_days: int | None = Field(default=None, ge=1, le=3650)
    holdout_percent: int = Field(default=0, ge=0, le=50)
    definition: dict[str, Any]

    @field_validator("subject_type")
    @classmethod
    def _subject_known(cls, value: str) -> str:
        if value not in SubjectType.values:
            raise ValueError(f"one of {', '.join(SubjectType.values)}")
        return value

    @field_validator("kpi")
    @classmethod
    def _kpi_known(cls, value: str) -> str:
        if value not in KPIS:
            raise ValueError(f"one of {', '.join(KPIS)}")
        return value


@dataclass(frozen=True)
class LibraryEntry:
    key: str
    name: str
    subject_type: str
    goal: str
    why: str
    kpi: str
    kpi_target: Decimal | None
    kpi_window_days: int | None
    holdout_percent: int
    definition: Mapping[str, Any]
    file: str  # the file's name, to say which one is wrong

    def translated(self) -> LibraryEntry:
        """The entry with its words in the active language (the files hold English)."""
        return replace(
            self,
            name=_word(self.name),
            goal=_word(self.goal),
            why=_word(self.why),
            definition=_words_mapped(self.definition, _word),
        )

    def words(self) -> list[str]:
        """Every string of this entry that people read, in file order."""
        found = [self.name, self.goal, self.why]

        def keep(word: str) -> str:
            found.append(word)
            return word

        _words_mapped(self.definition, keep)
        return [word for word in found if word]


@dataclass(frozen=True)
class PendingEntry:
    """A ready SOP the seeds describe whose subject does not exist yet."""

    name: str | Promise
    needs: str | Promise


def _word(text: str) -> str:
    return gettext(text) if text else text  # gettext("") is the catalog's header


def _words_mapped(definition: Mapping[str, Any], word: Callable[[str], str]) -> dict[str, Any]:
    """A copy of the definition with `word` applied to each string people read."""
    copy: dict[str, Any] = json.loads(json.dumps(definition))
    for step in copy.get("steps", []):
        for name in STEP_WORDS:
            if step.get(name):
                step[name] = word(step[name])
        for item in step.get("items", []):
            for name in ITEM_WORDS:
                if item.get(name):
                    item[name] = word(item[name])
            if item.get("choices"):
                item["choices"] = [word(choice) for choice in item["choices"]]
            for option in item.get("options", []):
                option["label"] = word(option["label"])
    return copy


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "file"


def library_load(directory: Path = LIBRARY_DIR) -> dict[str, LibraryEntry]:
    """Every `*.json` of `directory`, by key: orders' SOPs first, then customers', then the rest.

    A file that is not JSON or whose metadata is wrong is refused naming the file and
    the field; its definition is checked when it is installed.
    """
    entries = []
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            data = _File.model_validate(raw)
        except json.JSONDecodeError as exc:
            raise DomainError(
                field="file", message=f"{path.name}: line {exc.lineno}: {exc.msg}"
            ) from None
        except ValidationError as exc:
            first = exc.errors()[0]
            field = _field(first["loc"])
            raise DomainError(
                field=field, message=f"{path.name}: {field}: {first['msg']}"
            ) from None
        if data.key != path.stem:
            raise DomainError(
                field="key", message=f"{path.name}: key: “{data.key}” is not the file's name"
            )
        entries.append(LibraryEntry(**data.model_dump(), file=path.name))
    subjects = list(SubjectType.values)
    entries.sort(key=lambda entry: (subjects.index(entry.subject_type), entry.key))
    return {entry.key: entry for entry in entries}


LIBRARY: dict[str, LibraryEntry] = library_load()

# The seeds' other ready SOPs: their subjects come with later issues, which add them here.
PENDING: tuple[PendingEntry, ...] = (
    PendingEntry(_("Abandoned-checkout reminder"), _("checkouts and their events")),
)


def library_words(library: Mapping[str, LibraryEntry] | None = None) -> Iterator[tuple[str, str]]:
    """(file, word) for every word people read in the library, each once."""
    seen: set[str] = set()
    for entry in (library or LIBRARY).values():
        for word in entry.words():
            if word not in seen:
                seen.add(word)
                yield entry.file, word


# ---------------------------------------------------------------- installing


class InstalledSops(list[Sop]):
    """The SOPs installed now; `already` holds those that were installed before."""

    def __init__(self, installed: Sequence[Sop] = (), already: Sequence[Sop] = ()) -> None:
        super().__init__(installed)
        self.already: list[Sop] = list(already)


def library_installed() -> dict[str, Sop]:
    """The SOPs installed from the library, by library key."""
    return {
        str(sop.library_key): sop
        for sop in Sop.objects.filter(library_key__in=list(LIBRARY)).select_related("owner")
    }


def _keys_clean(keys: Sequence[str] | None) -> list[str]:
    if keys is None:
        return list(LIBRARY)
    unknown = [key for key in keys if key not in LIBRARY]
    if unknown:
        raise DomainError(
            field="keys",
            message=gettext("No SOP “%(key)s” in the library (it has: %(known)s).")
            % {"key": unknown[0], "known": ", ".join(LIBRARY)},
        )
    if not keys:
        raise DomainError(field="keys", message=gettext("Name at least one library SOP."))
    return list(dict.fromkeys(keys))


def _checked(entry: LibraryEntry) -> dict[str, Any]:
    """The entry's definition as any revision's is checked; a refusal names the file."""
    try:
        return definition_clean(
            dict(entry.definition), subject_type=entry.subject_type, sop_id=None
        )
    except DomainError as exc:
        raise DomainError(
            field=exc.field,
            code=exc.code,
            message=gettext("%(file)s: %(problem)s") % {"file": entry.file, "problem": exc.message},
        ) from None


def _install_one(entry: LibraryEntry, *, actor: User) -> Sop:
    sop = sop_services.sop_create(
        name=entry.name,
        subject_type=entry.subject_type,
        owner_id=actor.pk,
        kpi=entry.kpi,
        kpi_target=entry.kpi_target,
        kpi_window_days=entry.kpi_window_days,
        holdout_percent=entry.holdout_percent,
        goal=entry.goal,
        why=entry.why,
        actor=actor,
    )
    # The UNIQUE key is set before anything else is written: of two installs racing,
    # the second fails here and its savepoint takes its SOP away.
    Sop.objects.filter(pk=sop.pk).update(library_key=entry.key)
    sop.library_key = entry.key
    draft = sop.revisions.get()
    knowledge_links.articles_install(dict(entry.definition), actor=actor)
    revision_services.revision_update(
        revision_id=draft.pk,
        definition=dict(entry.definition),
        actor=actor,
        note=gettext("Installed from the library: adapt it to the store, then send it for review."),
    )
    event_record(
        event_type="sop.library_installed",
        subject=sop,
        actor=actor,
        payload={
            "library_key": entry.key,
            "name": sop.name,
            "revision_id": draft.pk,
            "language": translation.get_language(),
        },
    )
    return sop


def _language_check(language: str | None) -> None:
    if language is not None and language not in dict(settings.LANGUAGES):
        raise DomainError(
            field="language",
            message=gettext("No language “%(code)s” (there are: %(codes)s).")
            % {"code": language, "codes": ", ".join(dict(settings.LANGUAGES))},
        )


@transaction.atomic
def library_install(
    *, keys: Sequence[str] | None, actor: Actor, language: str | None = None
) -> InstalledSops:
    """Install library SOPs (None: all) as new SOPs with a draft, owned by `actor`.

    Their words are in `language` (default: the active one, the person's). Installing
    twice changes nothing: an entry whose `library_key` is taken is reported in
    `.already`. An unknown key or a file that fails its checks is refused before
    anything is written.
    """
    wanted = _keys_clean(keys)
    _language_check(language)
    if not user_can(actor, "sops.author"):
        raise PermissionDenied(
            field="permission",
            message=gettext("Your role does not allow this (%(permission)s).")
            % {"permission": "sops.author"},
        )
    owner = actor_person_required(actor)
    with translation.override(language) if language else nullcontext():
        there = library_installed()
        entries = [LIBRARY[key].translated() for key in wanted if key not in there]
        for entry in entries:
            _checked(entry)
        installed: list[Sop] = []
        already = [there[key] for key in wanted if key in there]
        for entry in entries:
            try:
                with transaction.atomic():
                    installed.append(_install_one(entry, actor=owner))
            except IntegrityError:  # installed meanwhile by someone else
                already.append(Sop.objects.get(library_key=entry.key))
    return InstalledSops(installed, already)


def strings_module() -> str:
    """The text of `strings.py`: every library word as a gettext_noop call, for makemessages."""
    lines = [
        '"""The library\'s words, for makemessages (it cannot read JSON).',
        "",
        "Written by `procedo sops_library --strings > procedo/sops/library/strings.py`;",
        "procedo/sops/tests/test_library.py fails when it differs from the files. Nothing",
        "imports it: the files are the source, and django.po carries the translations.",
        '"""',
        "",
        "from django.utils.translation import gettext_noop",
        "",
        "WORDS = (",
    ]
    current = ""
    for file, word in library_words():
        if file != current:
            lines.append(f"    # {file}")
            current = file
        lines.extend(_noop_call(word))
    lines.append(")")
    return "\n".join(lines) + "\n"


def _noop_call(word: str) -> list[str]:
    """`gettext_noop("…")` as ruff formats it: one line if it fits, else the literal cut
    into pieces of at most ~84 characters (Python joins them), never inside a {{ }} or a
    {% %}, and after each newline.

    The words are templates, never %-formatted: a "−20% for you" would otherwise be taken
    for a Python format (`% f`), and its translation "−20% для вас" refused by msgfmt."""
    lines = _noop_literal(word)
    if "%" in word.replace("{%", "").replace("%}", ""):
        # xgettext reads the mark on the line right before the literal.
        at = 0 if len(lines) == 1 else 1
        lines.insert(at, " " * (4 if at == 0 else 8) + "# xgettext:no-python-format")
    return lines


def _noop_literal(word: str) -> list[str]:
    literal = json.dumps(word, ensure_ascii=False)
    if len(literal) <= 81:  # "    gettext_noop(" + literal + ")," within 100 columns
        return [f"    gettext_noop({literal}),"]
    if len(literal) <= 92:  # alone on its line, indented by 8
        return ["    gettext_noop(", f"        {literal}", "    ),"]
    pieces: list[str] = []
    for line in word.splitlines(keepends=True):
        chunks = re.findall(r"(?:\{\{.*?\}\}|\{%.*?%\}|[^\s{]+|\{)*\s*", line)
        piece = ""
        for chunk in filter(None, chunks):
            if piece and len(json.dumps(piece + chunk, ensure_ascii=False)) > 84:
                pieces.append(piece)
                piece = ""
            piece += chunk
        pieces.append(piece)
    literals = [json.dumps(piece, ensure_ascii=False) for piece in pieces]
    return ["    gettext_noop(", *(f"        {literal}" for literal in literals), "    ),"]
