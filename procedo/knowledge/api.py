"""The knowledge base in the REST API: search, articles and their revisions, the FAQ."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Path, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.core.bounds import PAGE_LIMIT_DEFAULT, Cursor, Id, PageLimit
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.paging import keyset_page
from procedo.core.schemas import Schema
from procedo.knowledge import search, selectors, services
from procedo.knowledge.models import Article, ArticleOpen, Revision

router = Router(tags=["knowledge"])
Slug = Annotated[str, Path(max_length=80, description="The article's address.")]
RevisionNumber = Annotated[int, Path(ge=1, le=1_000_000)]
Tag = Annotated[str, Field(max_length=services.TAG_MAX)]


class HitOut(Schema):
    id: int
    slug: str
    kind: str
    language: str
    audience: str
    title: str
    title_html: str = Field(description="The title, HTML-escaped, matches in <mark>.")
    snippet_html: str = Field(description="Where the text matched, HTML-escaped, in <mark>.")
    rank: float = Field(description="Higher is better; comparable within one answer only.")
    url: str
    reply_text: str = Field(
        description="What may be sent to the customer from it (a quick reply): an objection's "
        "script, an answer's text; empty for an internal procedure."
    )


class SearchQuery(Schema):
    q: str = Field(default="", max_length=search.QUERY_MAX)
    kind: list[Annotated[str, Field(max_length=12)]] = Field(
        default_factory=list, max_length=4, description="faq, solution…"
    )
    audience: str = Field(default="", max_length=10)
    language: str = Field(default="", max_length=2)
    limit: int = Field(default=10, ge=1, le=selectors.SEARCH_LIMIT_MAX)


class SearchOut(Schema):
    items: list[HitOut]


class ProtocolIO(Schema):
    objection: str = Field(max_length=200)
    technique: str = Field(max_length=20)
    script: str = Field(max_length=5000)
    follow_up: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=10
    )
    next_step: str = Field(default="", max_length=1000)


class ArticleRevisionOut(Schema):
    number: RevisionNumber
    title: str
    body: str
    protocol: dict[str, Any]
    note: str
    author: str | None
    created_at: datetime

    @staticmethod
    def resolve_author(obj: Revision) -> str | None:
        return str(obj.author) if obj.author else None


class ArticleOut(Schema):
    id: int
    slug: str
    kind: str
    language: str
    audience: str
    status: str
    category: str | None
    tags: list[str]
    title: str
    body: str
    protocol: dict[str, Any]
    revision: int
    updated_at: datetime

    @staticmethod
    def resolve_category(obj: Article) -> str | None:
        return obj.category.name if obj.category else None

    @staticmethod
    def resolve_tags(obj: Article) -> list[str]:
        return sorted(tag.name for tag in obj.tags.all())


class ArticleUserOut(Schema):
    label: str
    url: str


class ArticleDetailOut(ArticleOut):
    revisions: list[ArticleRevisionOut]
    used_by: list[ArticleUserOut]
    opened: dict[str, int] = Field(description="How often it was opened, by where from.")


class ArticlePageOut(Schema):
    items: list[ArticleOut]
    next_cursor: str | None


class ArticleQuery(Schema):
    kind: str = Field(default="", max_length=12)
    status: str = Field(default="", max_length=10)
    audience: str = Field(default="", max_length=10)
    tag: str = Field(default="", max_length=50)
    category: Id | None = None
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


class ArticleIn(Schema):
    kind: Literal["faq", "solution", "procedure", "objection"]
    language: Literal["uk", "en", "ru"]
    title: str = Field(max_length=services.TITLE_MAX)
    body: str = Field(default="", max_length=services.BODY_MAX)
    protocol: ProtocolIO | None = None
    audience: Literal["internal", "public"] = "internal"
    status: Literal["draft", "published"] = "draft"
    category: Id | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=services.TAGS_MAX)
    slug: str = Field(default="", max_length=80)


class RevisionIn(Schema):
    title: str = Field(max_length=services.TITLE_MAX)
    body: str = Field(default="", max_length=services.BODY_MAX)
    protocol: ProtocolIO | None = None
    audience: Literal["internal", "public"] | None = Field(
        default=None, description="Omitted: as it was."
    )
    category: Id | None = Field(
        default=None, description="The category after the edit; omitted: none."
    )
    tags: list[Tag] | None = Field(
        default=None, max_length=services.TAGS_MAX, description="Omitted: as they were."
    )
    note: str = Field(default="", max_length=services.NOTE_MAX)
    based_on: int | None = Field(
        default=None, ge=1, le=1_000_000, description="The revision you edited."
    )


class ArticleStatusIn(Schema):
    status: Literal["draft", "published"]


class OpenIn(Schema):
    subject_type: str = Field(default="task", pattern=r"^[a-z_]{1,20}$")
    subject_id: Id


class OpenOut(Schema):
    article: str
    subject_type: str
    subject_id: int
    times: int


class FaqArticleOut(Schema):
    slug: str
    title: str
    body: str


class FaqSectionOut(Schema):
    category: str
    articles: list[FaqArticleOut]


class FaqQuery(Schema):
    language: Literal["uk", "en", "ru"] = "en"


def _detail(article: Article) -> Article:
    """The article with what ArticleDetailOut reads beside its columns."""
    article.used_by = selectors.article_used_by(slug=article.slug)  # type: ignore[attr-defined]
    article.opened = selectors.article_open_counts(article_id=article.pk)  # type: ignore[attr-defined]
    return article


@router.get("/search", response=SearchOut, auth=requires_api("knowledge.view"))
def article_search(request: ApiRequest, filters: Query[SearchQuery]) -> dict[str, Any]:
    """Published articles matching every word of `q` (prefixes, in the text's language),
    best first, with the matches highlighted. The same answer on SQLite and PostgreSQL."""
    hits = selectors.articles_search(
        filters.q,
        kinds=filters.kind,
        audience=filters.audience or None,
        language=filters.language or None,
        limit=filters.limit,
    )
    return {"items": hits}


@router.get("/articles", response=ArticlePageOut, auth=requires_api("knowledge.view"))
def article_list(request: ApiRequest, filters: Query[ArticleQuery]) -> dict[str, Any]:
    articles = selectors.article_list(
        kind=filters.kind,
        status=filters.status,
        audience=filters.audience,
        category_id=filters.category,
        tag=filters.tag,
    )
    page = keyset_page(articles, order=["-id"], cursor=filters.cursor, limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/articles", response={201: ArticleDetailOut}, auth=requires_api("knowledge.edit"))
def article_create(
    request: ApiRequest, payload: ArticleIn, idempotency_key: str | None = idempotency_header()
) -> Status[Article]:
    """A new article (revision 1). An objection protocol takes `protocol`, the others `body`."""
    article = services.article_create(
        kind=payload.kind,
        language=payload.language,
        title=payload.title,
        body=payload.body,
        protocol=payload.protocol.dict() if payload.protocol else None,
        audience=payload.audience,
        status=payload.status,
        category_id=payload.category,
        tags=payload.tags,
        slug=payload.slug,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, _detail(selectors.article_get(slug=article.slug)))


@router.get("/articles/{slug}", response=ArticleDetailOut, auth=requires_api("knowledge.view"))
def article_detail(request: ApiRequest, slug: Slug) -> Article:
    """An article with its revisions (newest first), the SOPs that link to it and its opens."""
    return _detail(selectors.article_get(slug=slug))


@router.get(
    "/articles/{slug}/revisions/{number}",
    response=ArticleRevisionOut,
    auth=requires_api("knowledge.view"),
)
def article_revision_detail(request: ApiRequest, slug: Slug, number: RevisionNumber) -> Revision:
    return selectors.article_revision_get(slug=slug, number=number)


@router.post(
    "/articles/{slug}/revisions",
    response={201: ArticleDetailOut},
    auth=requires_api("knowledge.edit"),
)
def article_revise(
    request: ApiRequest,
    slug: Slug,
    payload: RevisionIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[Article]:
    """Every edit is a new revision; `based_on` refuses (409) an edit of an older one."""
    article = selectors.article_get(slug=slug)
    services.article_revise(
        article_id=article.pk,
        title=payload.title,
        body=payload.body,
        protocol=payload.protocol.dict() if payload.protocol else None,
        audience=payload.audience,
        category_id=payload.category,
        tags=payload.tags,
        note=payload.note,
        based_on=payload.based_on,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, _detail(selectors.article_get(slug=slug)))


@router.post("/articles/{slug}/status", response=ArticleOut, auth=requires_api("knowledge.edit"))
def article_status_set(request: ApiRequest, payload: ArticleStatusIn, slug: Slug) -> Article:
    article = selectors.article_get(slug=slug)
    services.article_status_set(article_id=article.pk, status=payload.status, actor=request.auth)
    return selectors.article_get(slug=slug)


def _open_out(article: Article, row: ArticleOpen) -> dict[str, Any]:
    row.refresh_from_db()  # its count was raised in SQL
    return {
        "article": article.slug,
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "times": row.times,
    }


@router.post("/articles/{slug}/opens", response=OpenOut, auth=requires_api("knowledge.view"))
def article_open_record(request: ApiRequest, payload: OpenIn, slug: Slug) -> dict[str, Any]:
    """Record that the caller opened the article from a task (or a deal, a ticket…)."""
    article = selectors.article_get(slug=slug)
    opened = services.article_open_record(
        article_id=article.pk,
        subject_type=payload.subject_type,
        subject_id=payload.subject_id,
        actor=request.auth,
    )
    return _open_out(article, opened)


@router.post("/articles/{slug}/replies", response=OpenOut, auth=requires_api("knowledge.view"))
def article_reply_use_record(request: ApiRequest, payload: OpenIn, slug: Slug) -> dict[str, Any]:
    """Record that the caller put the article's text into a reply (a conversation's quick
    reply); the text itself is `reply_text` in the search results."""
    article = selectors.article_get(slug=slug)
    used = services.article_reply_use_record(
        article_id=article.pk,
        subject_type=payload.subject_type,
        subject_id=payload.subject_id,
        actor=request.auth,
    )
    return _open_out(article, used)


@router.get("/faq", response=list[FaqSectionOut], auth=requires_api("knowledge.view"))
def faq_list(request: ApiRequest, filters: Query[FaqQuery]) -> list[dict[str, Any]]:
    """The public FAQ page's content in one language, by category."""
    return [
        {"category": section.category, "articles": section.articles}
        for section in selectors.faq_sections(language=filters.language)
    ]
