"""@mentions in a comment: found in the text, resolved to active people and teams, and highlighted.

A username may hold letters of any script, digits and `.@+-_` (Django's rule),
so "@Олена" is a mention; a trailing "." or "-" is punctuation ("ask @olena.").
A team is mentioned by its name made a slug ("@customer-care", "@склад").
What matches nobody stays plain text: a mistyped name is not an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

from procedo.accounts.models import Team, User

# Not after a word character or "@": "mail@example.com" is an address, not a mention.
MENTION = re.compile(r"(?<![\w@])@(\w[\w.@+-]*)")
_TRAILING = ".@+-"


@dataclass(frozen=True)
class Mention:
    text: str  # as written, with the "@": "@Олена"
    user_id: int | None = None
    team_id: int | None = None

    def as_json(self) -> dict[str, object]:
        if self.user_id:
            return {"text": self.text, "user_id": self.user_id}
        return {"text": self.text, "team_id": self.team_id}


def _variants(name: str) -> Iterator[str]:
    """The name as written, then shorter readings of it, longest first.

    "olena@shop.ua" may be a username (Django allows "@"), else "olena" is.
    """
    seen = set()
    for form in (name, name.rstrip(_TRAILING), name.split("@", 1)[0].rstrip(_TRAILING)):
        if form and form not in seen:
            seen.add(form)
            yield form


def _names(body: str) -> list[str]:
    return [match.group(1) for match in MENTION.finditer(body)]


def _users_by_name(names: Iterable[str]) -> dict[str, int]:
    """Active users whose username is one of `names`, ignoring case; one query."""
    wanted = {variant for name in names for variant in _variants(name)}
    if not wanted:
        return {}
    # SQLite's lower() folds only ASCII: the spellings people type for a
    # Cyrillic name ("олена", "Олена") are matched exactly as well.
    spellings = {form for name in wanted for form in (name, name.lower(), name.capitalize())}
    rows = (
        User.objects.filter(is_active=True)
        .annotate(folded=Lower("username"))
        .filter(Q(username__in=spellings) | Q(folded__in={name.lower() for name in wanted}))
        .values_list("pk", "username")
    )
    return {username.casefold(): pk for pk, username in rows}


def _teams_by_slug() -> dict[str, int]:
    # Teams are few (a store has a handful); their slugs are computed here.
    return {
        slugify(name, allow_unicode=True).casefold(): pk
        for pk, name in Team.objects.values_list("pk", "name")
    }


def mentions_resolve(body: str) -> list[Mention]:
    """Each distinct person or team mentioned in `body`, in order of first mention."""
    names = _names(body)
    if not names:
        return []
    users = _users_by_name(names)
    teams: dict[str, int] | None = None
    found: list[Mention] = []
    seen: set[tuple[str, int]] = set()
    for name in names:
        for variant in _variants(name):
            key = variant.casefold()
            if key in users:
                ref = ("user", users[key])
                mention = Mention(text=f"@{variant}", user_id=users[key])
                break
            if teams is None:
                teams = _teams_by_slug()
            if key in teams:
                ref = ("team", teams[key])
                mention = Mention(text=f"@{variant}", team_id=teams[key])
                break
        else:
            continue
        if ref not in seen:
            seen.add(ref)
            found.append(mention)
    return found


def mention_user_ids(mentions: Iterable[Mention]) -> set[int]:
    """The people the mentions reach: each person, and the active members of each team."""
    mentions = list(mentions)
    user_ids = {m.user_id for m in mentions if m.user_id}
    team_ids = {m.team_id for m in mentions if m.team_id}
    if team_ids:
        members = User.objects.filter(teams__in=team_ids, is_active=True).values_list(
            "pk", flat=True
        )
        user_ids |= set(members)
    return user_ids


def comment_html(body: str, mentions: Iterable[dict[str, object]]) -> SafeString:
    """The body escaped, line breaks kept, and each resolved mention highlighted."""
    resolved = {str(m.get("text", "")).casefold() for m in mentions}
    parts: list[str] = []
    position = 0
    for match in MENTION.finditer(body):
        for variant in _variants(match.group(1)):
            if f"@{variant}".casefold() in resolved:
                end = match.start() + 1 + len(variant)
                parts.append(escape(body[position : match.start()]))
                parts.append(f'<span class="mention">{escape(body[match.start() : end])}</span>')
                position = end
                break
    parts.append(escape(body[position:]))
    html = "".join(parts).replace("\r\n", "\n").replace("\n", "<br>")
    return mark_safe(html)  # noqa: S308 - every piece of the text went through escape()
