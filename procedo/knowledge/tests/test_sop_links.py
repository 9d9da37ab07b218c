"""SOP steps and checklist items link to articles; the article lists its SOPs, the task
its step's articles; the library's objection SOP brings its scripts along."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from procedo.accounts.roles import Role
from procedo.automation.services import engine
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import customer, engine_drain, sop_live
from procedo.core.errors import DomainError
from procedo.knowledge import selectors
from procedo.knowledge.models import Article
from procedo.sops.library import library_install
from procedo.sops.validation import definition_clean
from procedo.testing import logged_in
from procedo.work.models import Task

pytestmark = pytest.mark.django_db


def _definition(*, step_articles: list[str], item_articles: list[str]) -> dict[str, Any]:
    return {
        "triggers": [{"kind": "manual", "key": "by_hand"}],
        "steps": [
            {
                "kind": "checklist",
                "checklist_kind": "simple",
                "key": "call",
                "title": "Call about the price",
                "assignee": {"kind": "role", "role": "operator"},
                "articles": step_articles,
                "items": [{"key": "asked", "text": "Asked", "articles": item_articles}],
            }
        ],
    }


def test_a_link_to_a_missing_article_is_refused_naming_it(articles: dict[str, Article]) -> None:
    slug = articles["uk"].slug
    with pytest.raises(DomainError) as caught:
        definition_clean(
            _definition(step_articles=[slug], item_articles=["no-such-article"]),
            subject_type="customer",
            sop_id=None,
        )
    assert caught.value.field == "steps.0.items.0.articles.0"
    with pytest.raises(DomainError) as caught:
        definition_clean(
            _definition(step_articles=["Not A Slug"], item_articles=[]),
            subject_type="customer",
            sop_id=None,
        )
    assert caught.value.field.startswith("steps.0.articles")


def test_the_task_offers_its_steps_articles_and_the_article_names_its_sop(
    articles: dict[str, Article], make_user: Any
) -> None:
    definition = _definition(
        step_articles=[articles["uk"].slug], item_articles=[articles["ru"].slug]
    )
    sop, _revision = sop_live(definition=definition, subject_type="customer", name="Дзвінок")
    taras = make_user(Role.OPERATOR)
    engine.run_start_manual(
        sop_id=sop.pk,
        subject_type="customer",
        subject_id=customer().pk,
        actor=taras,
        idempotency_key="k1",
    )
    engine_drain()
    executor.runs_advance_all()
    task = Task.objects.get(run_id__isnull=False)
    client = logged_in(taras)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert f"/knowledge/{articles['uk'].slug}/?from=task:{task.pk}" in page
    assert f"/knowledge/{articles['ru'].slug}/?from=task:{task.pk}" in page
    assert 'name="subject_type" value="task"' in page  # the search box, for any other script
    [user] = selectors.article_used_by(slug=articles["uk"].slug)
    assert user.label == "Дзвінок · Call about the price" and user.url == f"/sops/{sop.pk}/"
    detail = client.get(f"/knowledge/{articles['ru'].slug}/").content.decode()
    assert "Дзвінок · Call about the price" in detail
    # The SOP's page: were the scripts used? Not yet; then once, from this task.
    owner = logged_in(make_user(Role.OWNER))
    assert "0 of the latest 1 tasks" in owner.get(f"/sops/{sop.pk}/").content.decode()
    client.get(f"/knowledge/{articles['ru'].slug}/?from=task:{task.pk}")
    page = owner.get(f"/sops/{sop.pk}/").content.decode()
    assert "1 of the latest 1 tasks" in page and f"/knowledge/{articles['ru'].slug}/" in page


def test_installing_the_objection_sop_brings_its_scripts_in_the_installers_language(
    make_user: Any,
) -> None:
    owner = make_user(Role.OWNER)
    with translation.override("uk"):
        [sop] = library_install(keys=["objection_handling"], actor=owner)
    scripts = Article.objects.filter(kind="objection").order_by("slug")
    assert [(a.slug, a.language, a.status) for a in scripts] == [
        ("objection-delivery-time", "uk", "published"),
        ("objection-quality", "uk", "published"),
        ("objection-think-it-over", "uk", "published"),
        ("objection-too-expensive", "uk", "published"),
    ]
    price = Article.objects.get(slug="objection-too-expensive")
    assert price.title == "Заперечення: «Це занадто дорого»"
    call = sop.revisions.get().definition["steps"][0]
    assert call["items"][0]["articles"][0] == "objection-too-expensive"
    assert [hit.slug for hit in selectors.articles_search("дорого")] == [price.slug]
    assert {u.label.split(" · ")[0] for u in selectors.article_used_by(slug=price.slug)} == {
        sop.name
    }


def test_editing_a_step_keeps_its_items_articles_and_edits_its_own() -> None:
    from procedo.sops.forms.steps import TaskForm
    from procedo.sops.knowledge_links import item_articles_kept

    stored = _definition(step_articles=["a-1", "a-2"], item_articles=["b-1"])["steps"][0]
    assert TaskForm.initial_from(stored)["articles"] == "a-1, a-2"
    # The form's checklist rows carry no articles; the stored item's come back by its key.
    edited = {**stored, "items": [{"key": "asked", "text": "Asked again"}, {"key": "new"}]}
    kept = item_articles_kept(edited, stored)
    assert kept["items"] == [
        {"key": "asked", "text": "Asked again", "articles": ["b-1"]},
        {"key": "new"},
    ]
