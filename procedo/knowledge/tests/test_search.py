"""Search in the language of the text, on whichever database the suite runs on.

The same assertions hold on SQLite (FTS5, porter for English, prefixes and light
stems for Cyrillic) and on PostgreSQL (english/russian configurations, `simple` for
Ukrainian, prefixes and light stems): the results API does not depend on the backend.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from procedo.core.errors import DomainError
from procedo.knowledge import search, selectors, services
from procedo.knowledge.models import Article

pytestmark = pytest.mark.django_db


def _slugs(query: str, **filters: object) -> list[str]:
    return [hit.slug for hit in selectors.articles_search(query, **filters)]  # type: ignore[arg-type]


def test_english_words_are_stemmed(articles: dict[str, Article]) -> None:
    # "delivering" shares its stem with "Deliveries"; the draft about the moon is not shown.
    hits = selectors.articles_search("delivering")
    assert [hit.slug for hit in hits] == [articles["en"].slug]
    assert "<mark>Deliveries</mark>" in hits[0].snippet_html
    assert "<mark>delivery</mark>" in hits[0].title_html


def test_ukrainian_words_match_their_other_forms(articles: dict[str, Article]) -> None:
    # PostgreSQL has no Ukrainian stemmer: the word without its ending, as a prefix.
    assert search.light_stem("дорогий") == "дорог"
    assert _slugs("дорогий") == [articles["uk"].slug]  # the text says "дорого"
    hits = selectors.articles_search("ціну")  # the script says "ціна"
    assert [hit.slug for hit in hits] == [articles["uk"].slug]
    assert "<mark>ціна</mark>" in hits[0].snippet_html
    assert _slugs("порівнює") == [articles["uk"].slug]  # a prefix of "порівнюєте"


def test_russian_words_match_their_other_forms(articles: dict[str, Article]) -> None:
    hits = selectors.articles_search("задерживаются трекинга")
    assert [hit.slug for hit in hits] == [articles["ru"].slug]
    assert "<mark>задерживается</mark>" in hits[0].snippet_html
    # "доставка" is in the Russian text and, as "доставку", in the Ukrainian script.
    assert set(_slugs("доставка")) == {articles["ru"].slug, articles["uk"].slug}
    assert _slugs("доставка", language="ru") == [articles["ru"].slug]


def test_a_match_in_the_title_ranks_above_one_in_the_text(articles: dict[str, Article]) -> None:
    in_text = services.article_create(
        kind="solution",
        language="en",
        title="Parcel lost",
        body="Ask the carrier; a lost parcel delays the delivery by a week.",
        status="published",
        actor=None,
    )
    hits = selectors.articles_search("delivery", language="en")
    assert [hit.slug for hit in hits] == [articles["en"].slug, in_text.slug]
    assert hits[0].rank > hits[1].rank


def test_kinds_and_audience_narrow_the_search(articles: dict[str, Article]) -> None:
    assert _slugs("доставка", kinds=["objection"]) == [articles["uk"].slug]
    assert _slugs("delivery", audience="internal") == []
    with pytest.raises(DomainError) as caught:
        selectors.articles_search("delivery", kinds=["poem"])
    assert caught.value.field == "kinds"


@pytest.mark.parametrize(
    "query",
    ['"', "price OR", "NEAR(a b)", "*", "deliv:*", "!&|()", "'); DROP TABLE x; --", "a -b ^c"],
)
def test_search_syntax_in_a_query_is_plain_text(articles: dict[str, Article], query: str) -> None:
    assert isinstance(selectors.articles_search(query), list)


def test_empty_and_huge_queries(articles: dict[str, Article]) -> None:
    assert selectors.articles_search("") == []
    assert selectors.articles_search("   ") == []
    with pytest.raises(DomainError) as caught:
        selectors.articles_search("x" * (search.QUERY_MAX + 1))
    assert caught.value.field == "q"
    # Many words: the first eight count, and the query still runs.
    assert selectors.articles_search(" ".join(["delivery"] * 20)) != []


def test_stored_markup_is_text_and_only_matches_are_marked(db: None) -> None:
    services.article_create(
        kind="solution",
        language="en",
        title="<script>alert(1)</script> refunds",
        body="Refunds take <b>five</b> days.",
        status="published",
        actor=None,
    )
    hit = selectors.articles_search("refunds")[0]
    assert "&lt;script&gt;" in hit.title_html and "<script>" not in hit.title_html
    # SQLite shows the tag as text; PostgreSQL's ts_headline leaves markup out. Never HTML.
    assert "five" in hit.snippet_html and "<b>" not in hit.snippet_html
    assert "<mark>Refunds</mark>" in hit.snippet_html


def test_a_new_revision_is_what_is_found(articles: dict[str, Article]) -> None:
    services.article_revise(
        article_id=articles["en"].pk,
        title="How long does shipping take?",
        body="Parcels arrive within two working days.",
        actor=None,
    )
    assert _slugs("deliveries") == []
    assert _slugs("parcels") == [articles["en"].slug]
    # Rebuilding the index from the rows finds the same.
    out = StringIO()
    call_command("knowledge_reindex", stdout=out)
    assert out.getvalue() == "4 articles indexed\n"
    assert _slugs("parcels") == [articles["en"].slug]


def test_the_api_answers_the_same_and_names_bad_fields(
    articles: dict[str, Article], make_user: object
) -> None:
    from procedo.accounts.roles import Role
    from procedo.testing import logged_in

    client: Client = logged_in(make_user(Role.OPERATOR))  # type: ignore[operator]
    response = client.get("/api/knowledge/search", {"q": "дорогий", "kind": "objection"})
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["slug"] == articles["uk"].slug and item["url"].endswith(f"/{item['slug']}/")
    response = client.get("/api/knowledge/search", {"q": "ціна", "kind": "poem"})
    assert response.status_code == 422 and response.json()["field"] == "kinds"
    response = client.get("/api/knowledge/search", {"q": "x" * 201})
    assert response.status_code == 422 and response.json()["field"] == "q"
    response = client.get("/api/knowledge/search", {"q": '"NEAR(*'})
    assert response.status_code == 200


def test_the_index_is_the_backends_own(articles: dict[str, Article]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT search_vector::text FROM knowledge_article WHERE id = %s",
                [articles["ru"].pk],
            )
            # The Russian stemmer made the lexemes; the Ukrainian article's stay whole.
            assert "'задержива'" in cursor.fetchone()[0]
            cursor.execute(
                "SELECT search_vector::text FROM knowledge_article WHERE id = %s",
                [articles["uk"].pk],
            )
            assert "'порівнюєте'" in cursor.fetchone()[0]
        else:
            cursor.execute("SELECT count(*) FROM knowledge_fts")
            assert cursor.fetchone()[0] == 4
