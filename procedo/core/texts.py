"""Sentences the system writes now for people to read later, each in their own language.

A notification written while an English-speaking manager clicks is read tomorrow by a
Ukrainian-speaking picker, and emailed to someone else again. So such a sentence is kept as
its English original (a catalog msgid, marked with `gettext_noop` so makemessages finds it)
and its parameters, and translated when it is read: `LaterText(...).render()` in the
reader's active language. Parameters are data (a name, a number) or LaterTexts themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext, ngettext, override


@dataclass(frozen=True)
class LaterText:
    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)
    # A counted sentence: its plural original, and which parameter is the count.
    plural: str = ""
    count: str = ""

    def render(self) -> str:
        if self.plural:
            text = ngettext(self.msgid, self.plural, int(self.params[self.count]))
        else:
            text = gettext(self.msgid)
        if not self.params:
            return text
        return text % {
            name: value.render() if isinstance(value, LaterText) else value
            for name, value in self.params.items()
        }

    def render_in(self, language: str) -> str:
        with override(language):
            return self.render()

    def stored(self) -> dict[str, Any]:
        """A JSON-ready form; `later_text_read` turns it back."""
        stored: dict[str, Any] = {
            "msgid": self.msgid,
            "params": {
                name: value.stored() if isinstance(value, LaterText) else value
                for name, value in self.params.items()
            },
        }
        if self.plural:
            stored |= {"plural": self.plural, "count": self.count}
        return stored


def later_plural(
    singular: str, plural: str, *, count: str = "count", params: Mapping[str, Any]
) -> LaterText:
    """A counted sentence for later (ngettext's twin); the project's makemessages knows
    this name, so both originals reach the catalog."""
    return LaterText(singular, params, plural=plural, count=count)


def later_text_read(stored: Mapping[str, Any]) -> LaterText:
    params = {
        name: later_text_read(value) if isinstance(value, Mapping) else value
        for name, value in (stored.get("params") or {}).items()
    }
    return LaterText(
        str(stored.get("msgid", "")),
        params,
        plural=str(stored.get("plural", "")),
        count=str(stored.get("count", "")),
    )


def stored_text_render(stored: Mapping[str, Any] | None, written: str) -> str:
    """What a reader sees of a sentence stored both ways: the stored original in their
    language, or (for rows written as plain text, before or by people) the text as written.
    A catalog that no longer fits the parameters never hides the sentence."""
    if not stored:
        return written
    try:
        return later_text_read(stored).render()
    except (KeyError, TypeError, ValueError):
        return written


def text_for_storing(text: str | LaterText) -> tuple[str, dict[str, Any] | None]:
    """A model's pair of fields for a sentence: the text as written (the system's own in the
    project's language, for exports and old readers) and its original with parameters (None
    for words a person wrote, which are shown as written)."""
    if isinstance(text, LaterText):
        return text.render_in(settings.LANGUAGE_CODE), text.stored()
    return text, None
