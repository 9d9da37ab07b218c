"""Writing articles: every edit is a new revision, and the search index moves with it."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.events.services.recording import event_record
from procedo.knowledge import search
from procedo.knowledge.models import (
    Article,
    ArticleOpen,
    Audience,
    Category,
    Kind,
    Language,
    Revision,
    Status,
    Tag,
)
from procedo.knowledge.protocol import protocol_clean
from procedo.knowledge.standard import STANDARD, standard_article

TITLE_MAX = 200
BODY_MAX = 20_000
NOTE_MAX = 300
TAGS_MAX = 10
TAG_MAX = 50
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
# Addresses the pages use themselves (knowledge/new/, knowledge/search/).
_RESERVED = {"new", "search"}


def _choice(value: str, choices: Any, field: str) -> str:
    if value not in choices.values:
        raise DomainError(
            field=field,
            message=_("%(field)s: “%(value)s” is not one of %(allowed)s")
            % {"field": field, "value": value[:40], "allowed": ", ".join(choices.values)},
        )
    return value


def _content(
    *, kind: str, title: str, body: str, protocol: dict[str, Any] | None
) -> tuple[str, str, dict[str, Any]]:
    title, body = title.strip(), body.strip()
    if not title:
        raise DomainError(field="title", message=_("An article needs a title."))
    if len(title) > TITLE_MAX:
        raise DomainError(
            field="title",
            code="too_large",
            message=_("A title has at most %(n)d characters.") % {"n": TITLE_MAX},
        )
    if len(body) > BODY_MAX:
        raise DomainError(
            field="body",
            code="too_large",
            message=_("A text has at most %(n)d characters.") % {"n": BODY_MAX},
        )
    if kind == Kind.OBJECTION:
        return title, body, protocol_clean(protocol or {})
    if protocol:
        raise DomainError(
            field="protocol", message=_("Only an objection-handling protocol has a protocol.")
        )
    if not body:
        raise DomainError(field="body", message=_("An article needs its text."))
    return title, body, {}


def _tags(names: list[str]) -> list[Tag]:
    cleaned = list(dict.fromkeys(name.strip().lower() for name in names if name.strip()))
    if len(cleaned) > TAGS_MAX or any(len(name) > TAG_MAX for name in cleaned):
        raise DomainError(
            field="tags",
            code="too_large",
            message=_("At most %(n)d tags of %(length)d characters each.")
            % {"n": TAGS_MAX, "length": TAG_MAX},
        )
    return [Tag.objects.get_or_create(name=name)[0] for name in cleaned]


def _category(category_id: int | None) -> Category | None:
    if category_id is None:
        return None
    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise NotFound(
            field="category", message=_("No category with id %(id)s") % {"id": category_id}
        )
    return category


# Ukrainian's official romanisation (and Russian's extra letters), for readable addresses.
_CYRILLIC = "абвгґдезиіїйклмнопрстуфхцчшщьюяєжыэъё"
_ROMAN = "a b v h g d e z y i i i k l m n o p r s t u f kh ts ch sh shch - iu ia ie zh y e - io"
_LATIN = str.maketrans(
    {letter: roman.strip("-") for letter, roman in zip(_CYRILLIC, _ROMAN.split(), strict=True)}
)


def _slug_for(title: str, slug: str) -> str:
    if slug:
        if not _SLUG.match(slug):
            raise DomainError(
                field="slug",
                message=_("An address is lower-case Latin letters, digits and hyphens."),
            )
        if slug in _RESERVED or Article.objects.filter(slug=slug).exists():
            raise Conflict(
                field="slug",
                code="duplicate",
                message=_("The address “%(slug)s” is taken.") % {"slug": slug},
            )
        return slug
    base = slugify(title.lower().translate(_LATIN))[:60].strip("-") or "article"
    candidate, n = base, 1
    while candidate in _RESERVED or Article.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def category_ensure(*, name: str) -> Category:
    """A category by name, made if missing (demo data and the API's category field)."""
    name = name.strip()[:100]
    if not name:
        raise DomainError(field="category", message=_("A category needs a name."))
    return Category.objects.get_or_create(name=name)[0]


@idempotent("article.create", replay=lambda pk: Article.objects.get(pk=pk))
@transaction.atomic
def article_create(
    *,
    kind: str,
    language: str,
    title: str,
    body: str = "",
    protocol: dict[str, Any] | None = None,
    audience: str = Audience.INTERNAL,
    status: str = Status.DRAFT,
    category_id: int | None = None,
    tags: list[str] | None = None,
    slug: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
) -> Article:
    _choice(kind, Kind, "kind")
    _choice(language, Language, "language")
    _choice(audience, Audience, "audience")
    _choice(status, Status, "status")
    title, body, protocol = _content(kind=kind, title=title, body=body, protocol=protocol)
    category = _category(category_id)
    tag_rows = _tags(tags or [])
    now = timezone.now()
    article = Article.objects.create(
        slug=_slug_for(title, slug.strip()),
        kind=kind,
        language=language,
        audience=audience,
        status=status,
        category=category,
        title=title,
        body=body,
        protocol=protocol,
        revision=1,
        created_at=now,
        updated_at=now,
    )
    article.tags.set(tag_rows)
    Revision.objects.create(
        article=article,
        number=1,
        title=title,
        body=body,
        protocol=protocol,
        author=actor_person(actor),
        created_at=now,
    )
    search.index_write(article)
    event_record(
        event_type="article.created",
        subject=article,
        actor=actor,
        payload={"slug": article.slug, "kind": kind, "language": language},
        idempotency_key=idempotency_key,
    )
    return article


@idempotent("article.revise", replay=lambda pk: Article.objects.get(pk=pk))
@transaction.atomic
def article_revise(
    *,
    article_id: int,
    title: str,
    body: str = "",
    protocol: dict[str, Any] | None = None,
    audience: str | None = None,
    category_id: int | None = None,
    tags: list[str] | None = None,
    note: str = "",
    based_on: int | None = None,
    actor: Actor,
    idempotency_key: str | None = None,
) -> Article:
    """A new revision with this text; `based_on` is the revision the editor started from."""
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        raise NotFound(
            field="article_id", message=_("No article with id %(id)s") % {"id": article_id}
        )
    if audience is not None:
        _choice(audience, Audience, "audience")
    if len(note) > NOTE_MAX:
        raise DomainError(
            field="note",
            code="too_large",
            message=_("A note has at most %(n)d characters.") % {"n": NOTE_MAX},
        )
    title, body, protocol = _content(kind=article.kind, title=title, body=body, protocol=protocol)
    category = _category(category_id)
    tag_rows = _tags(tags) if tags is not None else None
    number = article.revision + 1
    if based_on is not None and based_on != article.revision:
        raise Conflict(
            field="based_on",
            code="stale",
            message=_("Someone saved revision %(n)s meanwhile; reload it and edit again.")
            % {"n": article.revision},
        )
    now = timezone.now()
    # Compare-and-set on the revision number: two editors saving at once get one revision
    # each in turn, never two revisions with the same number or a lost edit.
    changed = Article.objects.filter(pk=article.pk, revision=article.revision).update(
        title=title,
        body=body,
        protocol=protocol,
        audience=audience or article.audience,
        category=category,
        revision=number,
        updated_at=now,
    )
    if changed != 1:
        raise Conflict(
            field="based_on", code="stale", message=_("The article changed meanwhile; reload it.")
        )
    article.refresh_from_db()
    if tag_rows is not None:
        article.tags.set(tag_rows)
    Revision.objects.create(
        article=article,
        number=number,
        title=title,
        body=body,
        protocol=protocol,
        note=note.strip(),
        author=actor_person(actor),
        created_at=now,
    )
    search.index_write(article)
    event_record(
        event_type="article.revised",
        subject=article,
        actor=actor,
        payload={"slug": article.slug, "revision": number},
        idempotency_key=idempotency_key,
    )
    return article


@transaction.atomic
def article_status_set(*, article_id: int, status: str, actor: Actor) -> Article:
    """Publish or take back to draft; setting the status it has is a no-op (a double click)."""
    _choice(status, Status, "status")
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        raise NotFound(
            field="article_id", message=_("No article with id %(id)s") % {"id": article_id}
        )
    if article.status == status:
        return article
    changed = Article.objects.filter(pk=article.pk, status=article.status).update(status=status)
    if changed != 1:
        raise Conflict(field="status", code="stale", message=_("The article changed meanwhile."))
    event_record(
        event_type="article.published" if status == Status.PUBLISHED else "article.unpublished",
        subject=article,
        actor=actor,
        payload={"slug": article.slug, "from": article.status, "to": status},
    )
    article.status = status
    return article


SUBJECT_TYPE_MAX = 20


def _open_row(
    *, article_id: int, subject_type: str, subject_id: int, actor: Actor
) -> tuple[Article, ArticleOpen, bool]:
    """The person's row for the article and the subject, counted once more; whether it is new."""
    if not re.fullmatch(r"[a-z_]{1,20}", subject_type):
        raise DomainError(field="subject_type", message=_("An unknown kind of subject."))
    article = Article.objects.filter(pk=article_id).only("id", "slug").first()
    if article is None:
        raise NotFound(
            field="article_id", message=_("No article with id %(id)s") % {"id": article_id}
        )
    user = actor_person(actor)
    now = timezone.now()
    opened, created = ArticleOpen.objects.get_or_create(
        article=article,
        user=user,
        subject_type=subject_type,
        subject_id=subject_id,
        defaults={"first_opened_at": now, "last_opened_at": now},
    )
    if not created:
        ArticleOpen.objects.filter(pk=opened.pk).update(times=F("times") + 1, last_opened_at=now)
    return article, opened, created


@transaction.atomic
def article_open_record(
    *, article_id: int, subject_type: str, subject_id: int, actor: Actor
) -> ArticleOpen:
    """Someone opened the article from a task (deal, ticket…): one row per person and subject,
    counted; the first open is an event (a reload is not news)."""
    article, opened, created = _open_row(
        article_id=article_id, subject_type=subject_type, subject_id=subject_id, actor=actor
    )
    if created:
        event_record(
            event_type="article.opened",
            subject=article,
            actor=actor,
            payload={"slug": article.slug, "from": subject_type, "from_id": subject_id},
        )
    return opened


@transaction.atomic
def article_reply_use_record(
    *, article_id: int, subject_type: str, subject_id: int, actor: Actor
) -> ArticleOpen:
    """Someone put the article's text into a reply (a conversation's quick reply): it counts as
    used there, like an open, and each use is an event."""
    article, opened, _created = _open_row(
        article_id=article_id, subject_type=subject_type, subject_id=subject_id, actor=actor
    )
    event_record(
        event_type="article.used_in_reply",
        subject=article,
        actor=actor,
        payload={"slug": article.slug, "from": subject_type, "from_id": subject_id},
    )
    return opened


@transaction.atomic
def standard_articles_install(*, slugs: list[str], actor: Actor) -> list[Article]:
    """The standard protocols among `slugs` that the store does not have yet, published,
    in the active language (procedo.knowledge.standard); an existing one is left as it is."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    language = language if language in Language.values else settings.LANGUAGE_CODE
    made = []
    for slug in slugs:
        if slug not in STANDARD or Article.objects.filter(slug=slug).exists():
            continue
        made.append(
            article_create(
                kind=Kind.OBJECTION,
                language=language,
                status=Status.PUBLISHED,
                slug=slug,
                actor=actor,
                **standard_article(slug),
            )
        )
    return made
