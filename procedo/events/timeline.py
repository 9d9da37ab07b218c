"""Events as sentences people read, with links to what they name: one registry, each app
filling it for its own event types and subjects in its `AppConfig.ready()`.

    sentence_register("order.status_changed",
                      gettext_lazy("%(actor)s moved %(subject)s from %(from)s to %(to)s"),
                      lambda event, names: {"from": ..., "to": ...})
    subject_register("order", names=order_numbers, url_name="orders:detail")

`timeline_lines(events)` turns a page of events into lines in the reader's language:
the subjects' names are looked up once per kind for the whole page (never per row),
`%(actor)s` and `%(subject)s` are always there, every other value is escaped. An event
type nobody registered still reads as a sentence ("Olena: order paid"); a test keeps
every type the code records registered.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from procedo.events.models import Event

Params = Callable[["Event", "Names"], Mapping[str, Any]]
# What a reader sees in place of a value they may not see (staff's personal data).
HIDDEN = "—"


@dataclass(frozen=True)
class Subject:
    """A kind of thing events are about: how to name a page of them at once, and its page."""

    names: Callable[[Sequence[int]], Mapping[int, str]]
    url_name: str = ""


@dataclass(frozen=True)
class Sentence:
    # The words, or a function choosing them for the event ("signed in" / "… from 1.2.3.4").
    text: str | Promise | Callable[[Event], str | Promise]
    params: Params | None = None


_sentences: dict[str, Sentence] = {}
_subjects: dict[str, Subject] = {}


def sentence_register(
    event_type: str,
    text: str | Promise | Callable[[Event], str | Promise],
    params: Params | None = None,
) -> None:
    _sentences[event_type] = Sentence(text=text, params=params)


def subject_register(
    subject_type: str, *, names: Callable[[Sequence[int]], Mapping[int, str]], url_name: str = ""
) -> None:
    _subjects[subject_type] = Subject(names=names, url_name=url_name)


def sentences_registered() -> frozenset[str]:
    return frozenset(_sentences)


class Subjected(Protocol):
    """Anything about a subject: an event, a task, an SOP run."""

    @property
    def subject_type(self) -> str: ...
    @property
    def subject_id(self) -> int | None: ...


class Names:
    """The names of the subjects on one page of events (or runs), looked up once per kind."""

    def __init__(self, events: Iterable[Subjected]) -> None:
        wanted: dict[str, set[int]] = defaultdict(set)
        for event in events:
            if event.subject_type and event.subject_id is not None:
                wanted[event.subject_type].add(event.subject_id)
        self._names: dict[str, Mapping[int, str]] = {}
        self._memo: dict[str, Any] = {}
        for subject_type, ids in wanted.items():
            subject = _subjects.get(subject_type)
            self._names[subject_type] = subject.names(sorted(ids)) if subject else {}

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """A lookup a describer needs for many lines (every status's label), done once a page."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def name(self, subject_type: str, subject_id: int | None) -> str:
        """A subject's name: the page's own subjects were looked up at once; one that a line
        only mentions (the order a run is on) is looked up when first asked for."""
        if subject_id is None:
            return ""
        known = self._names.setdefault(subject_type, {})
        if subject_id not in known:
            subject = _subjects.get(subject_type)
            found = subject.names([subject_id]) if subject is not None else {}
            known = {**known, subject_id: found.get(subject_id, "")}
            self._names[subject_type] = known
        return known.get(subject_id, "")

    def link(self, subject_type: str, subject_id: int | None, text: str = "") -> SafeString:
        """The subject's name as a link to its page (plain text when it has none)."""
        label = text or self.name(subject_type, subject_id) or _("(deleted)")
        subject = _subjects.get(subject_type)
        if subject is None or not subject.url_name or subject_id is None:
            return format_html("{}", label)
        try:
            url = reverse(subject.url_name, args=[subject_id])
        except NoReverseMatch:
            return format_html("{}", label)
        return format_html('<a href="{}">{}</a>', url, label)


@dataclass(frozen=True)
class TimelineLine:
    event: Event
    when: datetime
    actor: str
    text: SafeString  # the sentence, with links

    @property
    def plain(self) -> str:
        """The sentence without its links or HTML escapes, for the API and exports (a
        customer's "O'Brien" stays O'Brien, not O&#x27;Brien)."""
        from django.utils.html import strip_tags

        return html.unescape(strip_tags(self.text))


def actor_name(event: Event) -> str:
    if event.actor_id and event.actor is not None:
        return str(event.actor)
    return event.actor_label or _("Procedo")


def _fallback(event: Event) -> str:
    words = event.event_type.replace("_", " ").replace(".", " ")
    return _("%(actor)s: %(what)s") % {"actor": "%(actor)s", "what": words}


def timeline_lines(events: Sequence[Event]) -> list[TimelineLine]:
    """Each event as a sentence in the reader's language (call within their request)."""
    names = Names(events)
    lines = []
    for event in events:
        sentence = _sentences.get(event.event_type)
        params: dict[str, Any] = {}
        if sentence is not None and sentence.params is not None:
            params = dict(sentence.params(event, names))
        actor = actor_name(event)
        values: dict[str, str] = {
            key: value if isinstance(value, SafeString) else conditional_escape(str(value))
            for key, value in params.items()
        }
        values.setdefault("actor", conditional_escape(actor))
        values.setdefault(
            "subject",
            names.link(event.subject_type, event.subject_id)
            if event.subject_type
            else mark_safe(""),
        )
        if sentence is None:
            text = _fallback(event)
        else:
            words = sentence.text
            text = str(words(event) if callable(words) else words)
        try:
            rendered = text % values
        except (KeyError, ValueError, TypeError):  # a translation that lost a placeholder
            rendered = _fallback(event) % values
        lines.append(
            TimelineLine(event=event, when=event.occurred_at, actor=actor, text=mark_safe(rendered))  # noqa: S308 - every value above is escaped or built by format_html
        )
    return lines


def failure_sentences_register() -> None:
    """The log's own events: a person deciding about an event a consumer failed on."""
    from django.utils.translation import gettext_lazy

    sentence_register(
        "consumer_failure.resolved",
        gettext_lazy("%(actor)s retried a stuck event: it went through"),
    )
    sentence_register(
        "consumer_failure.retry_failed",
        gettext_lazy("%(actor)s retried a stuck event: it failed again"),
    )
    sentence_register(
        "consumer_failure.dismissed", gettext_lazy("%(actor)s dismissed a stuck event")
    )


def export_sentences_register() -> None:
    """Lists taken out as files: they carry personal data, so the log tells who and what."""
    from django.utils.translation import gettext_lazy

    from procedo.events.exports import LISTS

    def what(event: Event, names: Names) -> Mapping[str, Any]:
        payload = event.payload or {}
        label = LISTS.get(str(payload.get("list")), payload.get("list", ""))
        filters = payload.get("filters") or {}
        return {
            "list": label,
            "format": str(payload.get("format", "")).upper(),
            "filters": ", ".join(f"{k}={v}" for k, v in filters.items()) or "-",
            "rows": payload.get("rows", 0),
        }

    sentence_register(
        "list.exported",
        gettext_lazy("%(actor)s exported %(list)s as %(format)s (filters: %(filters)s)"),
        what,
    )
    sentence_register(
        "list.export_finished",
        gettext_lazy("%(actor)s's export of %(list)s ended after %(rows)s rows"),
        what,
    )
