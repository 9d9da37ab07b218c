"""Articles: revisions, protocols, publishing, opens, the pages and the public FAQ."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from procedo.accounts.roles import Role
from procedo.core.errors import Conflict, DomainError
from procedo.events.models import Event
from procedo.knowledge import selectors, services
from procedo.knowledge.models import Article, ArticleOpen, Revision
from procedo.knowledge.tests.conftest import protocol
from procedo.testing import logged_in
from procedo.work.services.lifecycle import task_create

pytestmark = pytest.mark.django_db


def test_every_edit_is_a_revision_with_its_author_and_a_stale_edit_is_refused(
    make_user: Any,
) -> None:
    olena, maksym = make_user(Role.MANAGER), make_user(Role.SUPPORT)
    article = services.article_create(
        kind="solution", language="uk", title="Повернення", body="Перший текст.", actor=olena
    )
    services.article_revise(
        article_id=article.pk, title="Повернення", body="Другий.", based_on=1, actor=maksym
    )
    with pytest.raises(Conflict) as caught:  # edited from revision 1 after 2 was saved
        services.article_revise(
            article_id=article.pk, title="Повернення", body="Третій.", based_on=1, actor=olena
        )
    assert caught.value.field == "based_on"
    article.refresh_from_db()
    assert article.revision == 2 and article.body == "Другий."
    assert article.slug == "povernennia"  # the title, romanised
    assert [(r.number, r.body, r.author) for r in Revision.objects.filter(article=article)] == [
        (2, "Другий.", maksym),
        (1, "Перший текст.", olena),
    ]
    assert [e.event_type for e in Event.objects.filter(subject_type="article")] == [
        "article.created",
        "article.revised",
    ]


def test_a_protocol_has_its_parts_and_a_bad_one_names_the_part(db: None) -> None:
    for bad, field in [
        (protocol(script=""), "protocol.script"),
        (protocol(technique="flattery"), "protocol.technique"),
        (protocol(follow_up=["x" * 301]), "protocol.follow_up.0"),
        ({**protocol(), "mood": "sad"}, "protocol.mood"),
    ]:
        with pytest.raises(DomainError) as caught:
            services.article_create(
                kind="objection", language="uk", title="Дорого", protocol=bad, actor=None
            )
        assert caught.value.field == field
    with pytest.raises(DomainError) as caught:
        services.article_create(
            kind="faq", language="en", title="Q", body="A", protocol=protocol(), actor=None
        )
    assert caught.value.field == "protocol"
    with pytest.raises(DomainError) as caught:
        services.article_create(kind="poem", language="en", title="Q", body="A", actor=None)
    assert caught.value.field == "kind"
    assert not Article.objects.exists()


def test_the_api_writes_revisions_and_names_bad_fields(make_user: Any) -> None:
    client = logged_in(make_user(Role.SUPPORT))
    body = {
        "kind": "objection",
        "language": "en",
        "title": "Too expensive",
        "protocol": protocol(objection="It's too expensive", script="What do you compare with?"),
        "tags": ["Price", "price "],
    }
    response = client.post(
        "/api/knowledge/articles", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="a1"
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["tags"] == ["price"] and created["status"] == "draft"
    again = client.post(
        "/api/knowledge/articles", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="a1"
    )
    assert again.json()["id"] == created["id"] and Article.objects.count() == 1
    slug = created["slug"]
    response = client.post(
        f"/api/knowledge/articles/{slug}/revisions",
        {"title": "Too expensive", "protocol": body["protocol"], "note": "typo", "based_on": 1},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["revision"] == 2
    assert [r["number"] for r in response.json()["revisions"]] == [2, 1]
    response = client.post(
        f"/api/knowledge/articles/{slug}/status", {"status": "published"}, "application/json"
    )
    assert response.json()["status"] == "published"
    bad = client.post(
        "/api/knowledge/articles", {**body, "kind": "poem"}, content_type="application/json"
    )
    assert bad.status_code == 422 and bad.json()["field"] == "kind"
    assert client.get("/api/knowledge/articles?kind=poem").json()["field"] == "kind"
    viewer = logged_in(make_user(Role.OPERATOR))
    assert viewer.post("/api/knowledge/articles", body, "application/json").status_code == 403


def test_opening_from_a_task_is_recorded_once_per_person_and_counted(
    articles: dict[str, Article], make_user: Any
) -> None:
    taras = make_user(Role.OPERATOR)
    task = task_create(title="Дзвінок клієнтці", assignee_role="operator")
    other = task_create(title="Інший дзвінок", assignee_role="operator")
    client = logged_in(taras)
    page = f"/knowledge/{articles['uk'].slug}/?from=task:{task.pk}"
    for _ in range(2):
        response = client.get(page, HTTP_ACCEPT_LANGUAGE="uk")
        assert response.status_code == 200
    assert "Назад до завдання" in response.content.decode()
    opened = ArticleOpen.objects.get()
    assert (opened.subject_type, opened.subject_id, opened.user, opened.times) == (
        "task",
        task.pk,
        taras,
        2,
    )
    assert Event.objects.filter(event_type="article.opened").count() == 1
    from procedo.events.timeline import timeline_lines

    with translation.override("en"):
        [line] = timeline_lines(list(Event.objects.filter(event_type="article.opened")))
    assert line.plain.endswith(f"opened {articles['uk'].title} from {task.title}")
    use = selectors.script_use(task_ids=[task.pk, other.pk])
    assert (use.tasks, use.tasks_with_opens, use.opens) == (2, 1, 2)
    assert use.by_article == {articles["uk"].slug: 1}
    assert selectors.articles_opened_from_tasks(task_ids=[task.pk, other.pk]) == {
        task.pk: [articles["uk"].slug]
    }


def test_the_pages_in_ukrainian(articles: dict[str, Article], make_user: Any) -> None:
    client = logged_in(make_user(Role.MANAGER))
    client.cookies["django_language"] = "uk"
    listing = client.get("/knowledge/", HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert "База знань" in listing and "Посылка задерживается" in listing
    found = client.get("/knowledge/?q=дорогий", HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert "Заперечення: <mark>дорого</mark>" in found and "Посылка" not in found
    everywhere = client.get("/search/?q=дорогий", HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert f"/knowledge/{articles['uk'].slug}/" in everywhere  # the top bar's search too
    detail = client.get(f"/knowledge/{articles['uk'].slug}/", HTTP_ACCEPT_LANGUAGE="uk")
    text = detail.content.decode()
    assert "Скрипт відповіді" in text and "Визнати і переформулювати" in text
    assert "Історія" in text and "Редакція 1" in text
    response = client.post(
        f"/knowledge/{articles['uk'].slug}/edit/",
        {
            "title": "Заперечення: дорого",
            "audience": "internal",
            "objection": "Дорого",
            "technique": "facts",
            "script": "Назвіть гарантію і доставку.",
            "follow_up": "З чим порівнюєте?\n\nЩо ще важливо?",
            "next_step": "Розстрочка",
            "note": "коротше",
            "based_on": "1",
            "form_token": "3f0c2f2e-6a2f-4d59-9d7a-2c1f0d8d4c11",
        },
        HTTP_ACCEPT_LANGUAGE="uk",
    )
    assert response.status_code == 302
    article = Article.objects.get(pk=articles["uk"].pk)
    assert article.revision == 2 and article.protocol["follow_up"] == [
        "З чим порівнюєте?",
        "Що ще важливо?",
    ]
    results = client.get(
        "/knowledge/search/",
        {"q": "гарантію", "subject_type": "task", "subject_id": "7", "kind": "objection"},
        HTTP_ACCEPT_LANGUAGE="uk",
    ).content.decode()
    assert f"/knowledge/{article.slug}/?from=task:7" in results and "<mark>" in results
    refused = client.get("/knowledge/search/", {"q": "x", "kind": "poem"})
    assert refused.status_code == 422 and "kinds" in refused.content.decode()


def test_the_public_faq_needs_no_login_and_speaks_the_customers_language(
    articles: dict[str, Article],
) -> None:
    services.article_create(
        kind="faq",
        language="uk",
        title="Скільки триває доставка?",
        body="Один-два дні.",
        audience="public",
        status="published",
        category_id=services.category_ensure(name="Доставка").pk,
        actor=None,
    )
    services.article_create(
        kind="faq",
        language="uk",
        title="Внутрішнє",
        body="Лише для нас.",
        status="published",
        actor=None,
    )
    anonymous = Client()
    ukrainian = anonymous.get("/faq/", HTTP_ACCEPT_LANGUAGE="uk,en;q=0.5")
    text = ukrainian.content.decode()
    assert ukrainian.status_code == 200 and ukrainian["Content-Language"] == "uk"
    assert "Часті запитання" in text and "Скільки триває доставка?" in text
    assert "Внутрішнє" not in text and "How long" not in text
    english = anonymous.get("/faq/en/", HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert "Frequently asked questions" in english and "How long does delivery take?" in english
    assert "Delivery to the moon" not in english  # a draft
    assert anonymous.get("/faq/de/").status_code == 404
