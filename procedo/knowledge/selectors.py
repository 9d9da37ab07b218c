"""Reading the knowledge base: search (one API on SQLite and PostgreSQL), lists, history, use.

`articles_search` is what other areas call (sales, support, the task page):

    articles_search(query, *, kinds=None, audience=None, language=None, limit=10)
        -> list[ArticleHit]

Published articles only, best first, each with its title and a snippet of its text
where the words matched highlighted (`<mark>`, HTML-escaped otherwise). An empty
query finds nothing; a query over 200 characters or an unknown kind, audience or
language is a DomainError naming the field (`q`, `kinds`, `audience`, `language`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max, Prefetch, QuerySet, Sum
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError, NotFound
from procedo.knowledge import registry, search
from procedo.knowledge.models import (
    Article,
    ArticleOpen,
    Audience,
    Kind,
    Language,
    Revision,
    Status,
)

SEARCH_LIMIT_MAX = 50


@dataclass(frozen=True)
class ArticleHit:
    id: int
    slug: str
    kind: str
    kind_label: str
    language: str
    audience: str
    title: str
    title_html: SafeString
    snippet_html: SafeString
    rank: float
    url: str
    # What a support or sales person may send the customer from it (the quick reply): an
    # objection's script, an answer's text; nothing from an internal procedure.
    reply_text: str = ""


def reply_text(article: Article) -> str:
    if article.kind == Kind.OBJECTION:
        return str((article.protocol or {}).get("script", ""))
    if article.kind in (Kind.FAQ, Kind.SOLUTION):
        return article.body
    return ""


def _allowed(
    values: Iterable[str], choices: type[Kind] | type[Audience] | type[Language], field_name: str
) -> list[str]:
    values = list(values)
    unknown = [value for value in values if value not in choices.values]
    if unknown:
        raise DomainError(
            field=field_name,
            message=_("%(field)s: “%(value)s” is not one of %(allowed)s")
            % {"field": field_name, "value": unknown[0][:40], "allowed": ", ".join(choices.values)},
        )
    return values


def articles_search(
    query: str,
    *,
    kinds: Iterable[str] | None = None,
    audience: str | None = None,
    language: str | None = None,
    limit: int = 10,
) -> list[ArticleHit]:
    if len(query) > search.QUERY_MAX:
        raise DomainError(
            field="q",
            code="too_large",
            message=_("A search has at most %(n)d characters.") % {"n": search.QUERY_MAX},
        )
    kinds = _allowed(kinds or [], Kind, "kinds")
    if audience:
        _allowed([audience], Audience, "audience")
    if language:
        _allowed([language], Language, "language")
    limit = max(1, min(int(limit), SEARCH_LIMIT_MAX))
    where, params = ["a.status = %s"], [Status.PUBLISHED.value]
    if kinds:
        where.append(f"a.kind IN ({', '.join(['%s'] * len(kinds))})")
        params.extend(kinds)
    if audience:
        where.append("a.audience = %s")
        params.append(audience)
    if language:
        where.append("a.language = %s")
        params.append(language)
    found = search.matches(
        search.query_terms(query), where=" AND ".join(where), params=params, limit=limit
    )
    articles = Article.objects.in_bulk([match.id for match in found])
    return [
        ArticleHit(
            id=match.id,
            slug=article.slug,
            kind=article.kind,
            kind_label=str(Kind(article.kind).label),
            language=article.language,
            audience=article.audience,
            title=article.title,
            title_html=match.title_html,
            snippet_html=match.snippet_html,
            rank=match.rank,
            url=reverse("knowledge:detail", args=[article.slug]),
            reply_text=reply_text(article),
        )
        for match in found
        if (article := articles.get(match.id)) is not None
    ]


def article_list(
    *,
    kind: str = "",
    status: str = "",
    audience: str = "",
    category_id: int | None = None,
    tag: str = "",
) -> QuerySet[Article]:
    """Every article (drafts too) matching the filters; the caller pages it by -id."""
    articles = Article.objects.select_related("category").prefetch_related("tags")
    if kind:
        articles = articles.filter(kind=_allowed([kind], Kind, "kind")[0])
    if status:
        if status not in Status.values:
            raise DomainError(field="status", message=_("An unknown status."))
        articles = articles.filter(status=status)
    if audience:
        articles = articles.filter(audience=_allowed([audience], Audience, "audience")[0])
    if category_id:
        articles = articles.filter(category_id=category_id)
    if tag:
        articles = articles.filter(tags__name=tag.strip().lower())
    return articles


def article_get(*, slug: str) -> Article:
    article = (
        Article.objects.select_related("category")
        .prefetch_related(
            "tags",
            Prefetch("revisions", queryset=Revision.objects.select_related("author")),
        )
        .filter(slug=slug)
        .first()
    )
    if article is None:
        raise NotFound(field="slug", message=_("No article “%(slug)s”") % {"slug": slug[:80]})
    return article


def article_revision_get(*, slug: str, number: int) -> Revision:
    revision = (
        Revision.objects.select_related("article", "author")
        .filter(article__slug=slug, number=number)
        .first()
    )
    if revision is None:
        raise NotFound(field="number", message=_("No such revision."))
    return revision


def article_used_by(*, slug: str) -> list[registry.ArticleUser]:
    return registry.article_users(slug)


def articles_by_slugs(slugs: list[str]) -> list[Article]:
    """Published articles among `slugs`, in that order (a task's linked articles)."""
    found = {a.slug: a for a in Article.objects.filter(slug__in=slugs, status=Status.PUBLISHED)}
    return [found[slug] for slug in slugs if slug in found]


def article_slugs_existing(slugs: Iterable[str]) -> set[str]:
    return set(Article.objects.filter(slug__in=list(slugs)).values_list("slug", flat=True))


@dataclass(frozen=True)
class FaqSection:
    category: str
    articles: list[Article]


def faq_sections(*, language: str) -> list[FaqSection]:
    """The public FAQ in one language, by category (uncategorised last)."""
    _allowed([language], Language, "language")
    articles = (
        Article.objects.filter(
            kind=Kind.FAQ,
            audience=Audience.PUBLIC,
            status=Status.PUBLISHED,
            language=language,
        )
        .select_related("category")
        .order_by("category__position", "category__name", "title")
    )
    sections: dict[str, list[Article]] = {}
    for article in articles:
        sections.setdefault(article.category.name if article.category else "", []).append(article)
    ordered = sorted(sections.items(), key=lambda item: item[0] == "")
    return [FaqSection(category=name, articles=items) for name, items in ordered]


@dataclass(frozen=True)
class ScriptUse:
    """Were the scripts used: of these tasks, how many had an article opened from them."""

    tasks: int
    tasks_with_opens: int
    opens: int
    by_article: dict[str, int] = field(default_factory=dict)  # slug -> tasks it was opened from
    last_opened_at: datetime | None = None


def articles_opened_from_tasks(*, task_ids: Iterable[int]) -> dict[int, list[str]]:
    """{task id: slugs of the articles opened from it}, for the tasks given (bounded by them)."""
    ids = list(task_ids)
    opened: dict[int, list[str]] = {}
    rows = (
        ArticleOpen.objects.filter(subject_type="task", subject_id__in=ids)
        .values_list("subject_id", "article__slug")
        .distinct()
        .order_by("subject_id", "article__slug")
    )
    for task_id, slug in rows:
        opened.setdefault(task_id, []).append(slug)
    return opened


def script_use(*, task_ids: Iterable[int], kinds: Iterable[str] = (Kind.OBJECTION,)) -> ScriptUse:
    """For the SOP review report: which of an SOP's tasks had a script opened from them."""
    ids = list(task_ids)
    opens = ArticleOpen.objects.filter(
        subject_type="task", subject_id__in=ids, article__kind__in=list(kinds)
    )
    totals = opens.aggregate(
        tasks=Count("subject_id", distinct=True), opens=Sum("times"), last=Max("last_opened_at")
    )
    by_article = dict(
        opens.values_list("article__slug").annotate(n=Count("subject_id", distinct=True))
    )
    return ScriptUse(
        tasks=len(set(ids)),
        tasks_with_opens=totals["tasks"] or 0,
        opens=totals["opens"] or 0,
        by_article=by_article,
        last_opened_at=totals["last"],
    )


def article_open_counts(*, article_id: int) -> dict[str, int]:
    """How often the article was opened, by where from (task, deal, ticket…)."""
    rows = (
        ArticleOpen.objects.filter(article_id=article_id)
        .values_list("subject_type")
        .annotate(n=Sum("times"))
        .order_by("subject_type")
    )
    return dict(rows)
