"""Quick replies: an answer or a script found beside a conversation goes into the reply box,
and each use is recorded where it happened (the SOP review's "were the scripts used")."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.utils import translation

from procedo.accounts.roles import Role
from procedo.events.models import Event
from procedo.events.timeline import timeline_lines
from procedo.knowledge import selectors, services
from procedo.knowledge.models import Article, ArticleOpen
from procedo.testing import api_caller, logged_in

pytestmark = pytest.mark.django_db


def _buttons(page: str) -> list[str]:
    """The texts the page's quick-reply buttons put into the reply box `id_body`."""
    found = re.findall(r'data-quick-reply="id_body" data-text="([^"]*)"', page)
    return [html.unescape(text) for text in found]


def test_answers_and_scripts_offer_their_text_and_procedures_offer_nothing(
    articles: dict[str, Article], make_user: Any
) -> None:
    services.article_create(
        kind="procedure",
        language="uk",
        title="Як оформити повернення дорогого товару",
        body="Внутрішнє: перевірити пломбу, сфотографувати коробку.",
        status="published",
        actor=None,
    )
    script = articles["uk"].protocol["script"]
    assert {hit.title: hit.reply_text for hit in selectors.articles_search("дорого")} == {
        "Заперечення: дорого": script,
        "Як оформити повернення дорогого товару": "",
    }
    client = logged_in(make_user(Role.SUPPORT))
    search = {"q": "дорого", "subject_type": "conversation", "subject_id": "7"}
    beside_a_reply = client.get("/knowledge/search/", {**search, "reply_to": "id_body"})
    assert _buttons(beside_a_reply.content.decode()) == [script]
    assert 'hx-post="/knowledge/' in beside_a_reply.content.decode()
    assert _buttons(client.get("/knowledge/search/", search).content.decode()) == []
    # Only a plain element id goes into the page.
    hostile = client.get("/knowledge/search/", {**search, "reply_to": '"><script>'})
    assert "data-quick-reply" not in hostile.content.decode()
    hits = api_caller(make_user(Role.SUPPORT))("get", "/knowledge/search?q=delivery").json()
    assert [hit["reply_text"] for hit in hits["items"]] == [articles["en"].body]


def test_each_use_is_recorded_on_the_page_and_in_the_api_and_bad_input_changes_nothing(
    articles: dict[str, Article], make_user: Any
) -> None:
    iryna = make_user(Role.SUPPORT, first_name="Ірина")
    client = logged_in(iryna)
    slug = articles["uk"].slug
    for _ in range(2):
        assert client.post(f"/knowledge/{slug}/used/?from=conversation:7").status_code == 204
    refused = [
        client.post(f"/knowledge/{slug}/used/"),
        client.post(f"/knowledge/{slug}/used/?from=conversation:x"),
        client.post(f"/knowledge/{slug}/used/?from=Conversation:7"),
    ]
    assert [response.status_code for response in refused] == [400, 400, 400]
    assert client.post("/knowledge/no-such-article/used/?from=conversation:7").status_code == 404
    answered = api_caller(iryna)(
        "post", f"/knowledge/articles/{slug}/replies", {"subject_type": "ticket", "subject_id": 3}
    )
    assert answered.status_code == 200, answered.content
    assert answered.json() == {
        "article": slug,
        "subject_type": "ticket",
        "subject_id": 3,
        "times": 1,
    }
    rows = ArticleOpen.objects.order_by("subject_type").values_list(
        "subject_type", "subject_id", "times"
    )
    assert list(rows) == [("conversation", 7, 2), ("ticket", 3, 1)]
    used = Event.objects.filter(event_type="article.used_in_reply").order_by("id")
    assert used.count() == 3
    with translation.override("en"):
        line = timeline_lines([used[0]])[0]
    assert line.plain.startswith("Ірина answered with Заперечення: дорого in ")
    bad = api_caller(iryna)(
        "post", f"/knowledge/articles/{slug}/replies", {"subject_type": "Bad!", "subject_id": 3}
    )
    assert bad.status_code == 422 and "subject_type" in bad.content.decode()
    assert Event.objects.filter(event_type="article.used_in_reply").count() == 3
