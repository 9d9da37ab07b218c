"""SOP steps and checklist items that link to knowledge base articles (by address).

The knowledge base stands below the SOPs, so it learns who links to an article and
which articles a task's step offers through its own registry, filled here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.errors import DomainError
from procedo.knowledge.registry import ArticleUser
from procedo.knowledge.selectors import article_slugs_existing
from procedo.knowledge.services import standard_articles_install
from procedo.knowledge.standard import STANDARD


def _refs(definition: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(field, slug, step title) of every article a stored definition links to."""
    for index, step in enumerate(definition.get("steps") or []):
        if not isinstance(step, dict):
            continue
        title = str(step.get("title", ""))
        for n, slug in enumerate(step.get("articles") or []):
            yield f"steps.{index}.articles.{n}", slug, title
        for i, item in enumerate(step.get("items") or []):
            for n, slug in enumerate((item or {}).get("articles") or []):
                yield f"steps.{index}.items.{i}.articles.{n}", slug, title


def article_links(definition: dict[str, Any]) -> list[str]:
    """Every article the definition links to, once each, in order."""
    return list(dict.fromkeys(slug for _field, slug, _title in _refs(definition)))


def articles_check(definition: dict[str, Any]) -> None:
    """Refuse a link to an article that does not exist, naming the field.

    The standard protocols count as existing: installing the library SOP that links to
    them installs them (`articles_install`), so the library validates in any store."""
    refs = list(_refs(definition))
    existing = article_slugs_existing(slug for _field, slug, _title in refs) | set(STANDARD)
    for field, slug, _title in refs:
        if slug not in existing:
            raise DomainError(
                field=field,
                message=_("%(field)s: no knowledge base article “%(slug)s”")
                % {"field": field, "slug": slug},
            )


def item_articles_kept(step: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """The step form edits a step's own articles, not its items': keep those by item key."""
    kept = {
        item.get("key"): item["articles"]
        for item in (existing or {}).get("items") or []
        if isinstance(item, dict) and item.get("articles")
    }
    if not kept or not step.get("items"):
        return step
    items = [
        {**item, "articles": kept[item["key"]]} if item.get("key") in kept else item
        for item in step["items"]
    ]
    return {**step, "items": items}


def articles_install(definition: dict[str, Any], *, actor: Actor) -> None:
    """The standard articles a library SOP links to, made if the store lacks them."""
    standard_articles_install(slugs=article_links(definition), actor=actor)


def article_users(slug: str) -> list[ArticleUser]:
    """The SOP revisions in use (not retired) whose steps link to the article."""
    from procedo.sops.models import Revision, RevisionState

    users: dict[tuple[int, str], ArticleUser] = {}
    revisions = (
        Revision.objects.exclude(state=RevisionState.RETIRED)
        .filter(definition__icontains=slug)  # a cheap filter; the scan below decides
        .select_related("sop")
        .order_by("sop__name", "-id")
    )
    for revision in revisions[:200]:
        for _field, linked, title in _refs(revision.definition or {}):
            if linked == slug and (revision.sop_id, title) not in users:
                users[(revision.sop_id, title)] = ArticleUser(
                    label=f"{revision.sop.name} · {title}",
                    url=reverse("sops:detail", args=[revision.sop_id]),
                )
    return list(users.values())


def task_articles(task: Any) -> list[str]:
    """The articles linked from the step (and its items) that made this task."""
    from procedo.sops.models import Revision
    from procedo.sops.registry import run_facts

    if not (task.run_id and task.run_step_id):
        return []
    facts = run_facts()
    run, key = facts.run_get(task.run_id), facts.step_key_get(task.run_step_id)
    if run is None or not key:
        return []
    definition = (
        Revision.objects.filter(pk=run.revision_id).values_list("definition", flat=True).first()
    )
    for step in (definition or {}).get("steps") or []:
        if isinstance(step, dict) and step.get("key") == key:
            items = step.get("items") or []
            return [*step.get("articles", []), *(s for i in items for s in i.get("articles", []))]
    return []
