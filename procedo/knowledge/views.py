"""The knowledge base's pages: list and search, an article with its history, editing, the FAQ."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.core.errors import DomainError
from procedo.core.forms import refusal_add
from procedo.core.paging import keyset_page
from procedo.knowledge import search, selectors, services
from procedo.knowledge.forms import ArticleForm, SearchForm
from procedo.knowledge.models import Article, Kind, Status, Technique
from procedo.knowledge.panel import search_box_context

# "?from=task:12": where the article was opened from, recorded for the SOP review.
_FROM = re.compile(r"^([a-z_]{1,20}):(\d{1,18})$")
_OPENED_FROM = {
    "task": gettext_lazy("tasks"),
    "deal": gettext_lazy("deals"),
    "conversation": gettext_lazy("conversations"),
    "ticket": gettext_lazy("tickets"),
}


@require_GET
@requires("knowledge.view")
def article_list(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    context: dict[str, Any] = {"form": form, "hits": None, "page": None}
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["q"].strip():
                context["hits"] = selectors.articles_search(
                    data["q"], kinds=[data["kind"]] if data["kind"] else None, limit=30
                )
            else:
                articles = selectors.article_list(kind=data["kind"], status=data["status"])
                context["page"] = keyset_page(
                    articles, order=["-id"], cursor=request.GET.get("cursor"), limit=50
                )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    context["can_edit"] = user_can(request.user, "knowledge.edit")
    return render(request, "knowledge/list.html", context, status=422 if form.errors else 200)


@require_GET
@requires("knowledge.view")
def article_search(request: HttpRequest) -> HttpResponse:
    """htmx: the search box's results (published articles), links carrying where from."""
    query = request.GET.get("q", "")
    kinds = [kind for kind in request.GET.getlist("kind") if kind]
    context = search_box_context(
        subject_type=request.GET.get("subject_type", ""),
        subject_id=request.GET.get("subject_id", ""),
        kinds=",".join(kinds),
        query=query,
        reply_to=request.GET.get("reply_to", ""),
    )
    status = 200
    try:
        context["hits"] = selectors.articles_search(query[: search.QUERY_MAX + 1], kinds=kinds)
    except DomainError as exc:
        context["hits"], context["error"], status = [], exc.message, 422
    return render(request, "knowledge/_search_results.html", context, status=status)


def _save(request: HttpRequest, form: ArticleForm, article: Article | None) -> Article | None:
    data = form.cleaned_data
    try:
        if article is None:
            return services.article_create(
                kind=data["kind"],
                language=data["language"],
                audience=data["audience"],
                status=data["status"],
                title=data["title"],
                body=data["body"],
                protocol=form.protocol(data["kind"]),
                category_id=data["category"].pk if data["category"] else None,
                tags=form.tag_names(),
                actor=request.user,
                idempotency_key=f"ui:{data['form_token']}",
            )
        return services.article_revise(
            article_id=article.pk,
            title=data["title"],
            body=data["body"],
            protocol=form.protocol(article.kind),
            audience=data["audience"],
            category_id=data["category"].pk if data["category"] else None,
            tags=form.tag_names(),
            note=data["note"],
            based_on=data["based_on"],
            actor=request.user,
            idempotency_key=f"ui:{data['form_token']}",
        )
    except DomainError as exc:
        # "protocol.script" is the form's "script".
        refusal_add(form, exc.field.removeprefix("protocol."), exc.message)
        return None


@require_http_methods(["GET", "POST"])
@requires("knowledge.edit")
def article_create(request: HttpRequest) -> HttpResponse:
    initial = {"kind": request.GET.get("kind", Kind.FAQ), "language": translation.get_language()}
    form = ArticleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        article = _save(request, form, None)
        if article is not None:
            messages.success(request, _("Article saved."))
            return redirect("knowledge:detail", article.slug)
    status = 422 if form.errors else 200
    return render(request, "knowledge/form.html", {"form": form, "article": None}, status=status)


@require_http_methods(["GET", "POST"])
@requires("knowledge.edit")
def article_revise(request: HttpRequest, slug: str) -> HttpResponse:
    article = _article(slug)
    form = ArticleForm(request.POST or None, article=article)
    if request.method == "POST" and form.is_valid():
        saved = _save(request, form, article)
        if saved is not None:
            messages.success(request, _("Revision %(n)s saved.") % {"n": saved.revision})
            return redirect("knowledge:detail", saved.slug)
    status = 422 if form.errors else 200
    return render(request, "knowledge/form.html", {"form": form, "article": article}, status=status)


def _article(slug: str) -> Article:
    try:
        return selectors.article_get(slug=slug)
    except DomainError:
        raise Http404 from None


@require_GET
@requires("knowledge.view")
def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    article = _article(slug)
    opened_from = _FROM.match(request.GET.get("from", ""))
    if opened_from:
        services.article_open_record(
            article_id=article.pk,
            subject_type=opened_from.group(1),
            subject_id=int(opened_from.group(2)),
            actor=request.user,
        )
    context = {
        "article": article,
        "revisions": list(article.revisions.all()),
        "used_by": selectors.article_used_by(slug=article.slug),
        "opened": [
            (_OPENED_FROM.get(where, where), times)
            for where, times in selectors.article_open_counts(article_id=article.pk).items()
        ],
        "can_edit": user_can(request.user, "knowledge.edit"),
        "technique": Technique(article.protocol["technique"]).label if article.protocol else "",
        "back_task": (
            opened_from.group(2) if opened_from and opened_from.group(1) == "task" else ""
        ),
    }
    return render(request, "knowledge/detail.html", context)


@require_POST
@requires("knowledge.view")
def article_reply_use(request: HttpRequest, slug: str) -> HttpResponse:
    """htmx, beside the quick reply the browser puts into the reply box: record the use."""
    used_in = _FROM.match(request.GET.get("from", ""))
    if used_in is None:
        return HttpResponse(_("Say where the reply is written (from=conversation:12)."), status=400)
    try:
        services.article_reply_use_record(
            article_id=_article(slug).pk,
            subject_type=used_in.group(1),
            subject_id=int(used_in.group(2)),
            actor=request.user,
        )
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status_code)
    return HttpResponse(status=204)


@require_GET
@requires("knowledge.view")
def article_revision_detail(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    try:
        revision = selectors.article_revision_get(slug=slug, number=number)
    except DomainError:
        raise Http404 from None
    return render(request, "knowledge/revision.html", {"revision": revision})


@require_POST
@requires("knowledge.edit")
def article_status_set(request: HttpRequest, slug: str) -> HttpResponse:
    article = _article(slug)
    status = request.POST.get("status", "")
    try:
        services.article_status_set(article_id=article.pk, status=status, actor=request.user)
        if status == Status.PUBLISHED:
            messages.success(request, _("Published."))
        else:
            messages.success(request, _("Back to draft."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("knowledge:detail", article.slug)


def _faq_language(request: HttpRequest, language: str | None) -> str:
    offered = {code for code, _name in settings.LANGUAGES}
    if language is not None:
        if language not in offered:
            raise Http404
        return language
    chosen = translation.get_language_from_request(request)
    return chosen if chosen in offered else settings.LANGUAGE_CODE


@require_GET
def faq(request: HttpRequest, language: str | None = None) -> HttpResponse:
    """For customers, no login: the published public FAQ in the store's languages."""
    language = _faq_language(request, language)
    with translation.override(language):
        context = {
            "sections": selectors.faq_sections(language=language),
            "language": language,
            "languages": [
                (code, translation.get_language_info(code)["name_local"])
                for code, _name in settings.LANGUAGES
            ],
        }
        response = render(request, "knowledge/faq.html", context)
    response["Content-Language"] = language
    response.headers.setdefault("Vary", "Accept-Language")
    return response
