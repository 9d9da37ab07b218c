"""Full-text search of articles in the language of their text, on SQLite and PostgreSQL alike.

The index is written by the services, in the transaction of the change, never by
triggers: what is indexed is assembled from the title, the tags, and an objection
protocol's parts (JSON), which a trigger on one table cannot see; and the services
are the only writers, so nothing else can bypass it. `index_rebuild()` writes it
again from the rows (the `knowledge_reindex` command).

- SQLite: an FTS5 table (`knowledge_fts`, rowid = the article's id) with the
  `porter unicode61` tokenizer: English words are stemmed, Cyrillic ones are folded
  to lower case only.
- PostgreSQL: a `tsvector` column on the article with a GIN index, made with the
  text search configuration of the article's language: `english`, `russian`, and
  for Ukrainian `simple`. PostgreSQL ships no Ukrainian stemmer (a hunspell
  dictionary would have to be installed in the server's own files, which a managed
  database does not allow), `russian` would mis-stem Ukrainian words and letters
  (і, ї, є, ґ), and `unaccent` does nothing for Cyrillic. So Ukrainian words are
  indexed whole and found by prefix.

The query is the same on both: each word of it (letters and digits only, so FTS
syntax in a query is plain text) matches as a prefix, and so does its Cyrillic form
without an inflectional ending (`light_stem`: "доставка" finds "доставки",
"дорогий" finds "дорого"). Words must all match. The rank weights the title over
the tags and the objection over the text; matches come back highlighted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from procedo.knowledge.models import Article

# Highlight markers from Unicode's private use area: the text is escaped after the
# database marks the matches, so the <mark> tags are ours and a stored "<script>" is text.
START, STOP = "\ue000", "\ue001"
QUERY_MAX = 200
TERMS_MAX = 8
TERM_MAX = 40
_WORD = re.compile(r"\w+", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# Ukrainian and Russian inflectional endings (nouns, adjectives, verbs), tried longest first.
_ENDING_TEXT = """
а я о е и і у ю ь й ї є ы
ам ям ах ях ом ем ів ей ов ев ій ий ої ою ею их ім ую юю ая яя ое ее ые ие ым им ть ти ся сь
ет ют ут ит ат ят
ями ами ові еві ого ому ими ись ися ают яют ешь ать ять ить уть
ться ется ются ится ается яется
"""
_ENDINGS = sorted(set(_ENDING_TEXT.split()), key=len, reverse=True)
_CONFIGS = {"en": "english", "ru": "russian", "uk": "simple"}


def light_stem(word: str) -> str:
    """A Cyrillic word without its ending, others as they are.

    The longest ending that leaves four letters; else a one-letter ending that leaves
    three ("ціну" → "цін"), so short words still find their other forms."""
    if not _CYRILLIC.search(word):
        return word
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[: -len(ending)]
    if len(word) == 4 and word[-1] in _ENDINGS:
        return word[:-1]
    return word


def query_terms(query: str) -> list[str]:
    """The words searched for: at most TERMS_MAX, each cut at TERM_MAX; one-letter words
    and two-letter ones ("it", "як") only when nothing longer is given."""
    words = [word.lower()[:TERM_MAX] for word in _WORD.findall(query)]
    longer = [word for word in words if len(word) > 2]
    return (longer or words)[:TERMS_MAX]


def _clean(text: str) -> str:
    return text.replace(START, "").replace(STOP, "")


def _marked(text: str) -> SafeString:
    escaped = str(escape(text))
    return mark_safe(escaped.replace(START, "<mark>").replace(STOP, "</mark>"))  # noqa: S308


@dataclass(frozen=True)
class Indexed:
    title: str
    keywords: str
    body: str


def indexed_text(article: Article, tags: list[str]) -> Indexed:
    protocol = article.protocol or {}
    keywords = " ".join([*tags, protocol.get("objection", "")])
    parts = [
        article.body,
        protocol.get("script", ""),
        *protocol.get("follow_up", []),
        protocol.get("next_step", ""),
    ]
    body = "\n".join(part for part in parts if part)
    return Indexed(_clean(article.title), _clean(keywords), _clean(body))


def index_write(article: Article) -> None:
    """(Re)index one article; called by every service that changes its text or tags."""
    text = indexed_text(article, sorted(article.tags.values_list("name", flat=True)))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE knowledge_article SET search_body = %s, search_vector ="
                " setweight(to_tsvector(%s::regconfig, %s), 'A')"
                " || setweight(to_tsvector(%s::regconfig, %s), 'B')"
                " || setweight(to_tsvector(%s::regconfig, %s), 'C') WHERE id = %s",
                [
                    text.body,
                    *(_CONFIGS[article.language], text.title),
                    *(_CONFIGS[article.language], text.keywords),
                    *(_CONFIGS[article.language], text.body),
                    article.pk,
                ],
            )
        else:
            cursor.execute("DELETE FROM knowledge_fts WHERE rowid = %s", [article.pk])
            cursor.execute(
                "INSERT INTO knowledge_fts (rowid, title, keywords, body) VALUES (%s, %s, %s, %s)",
                [article.pk, text.title, text.keywords, text.body],
            )


def index_rebuild() -> int:
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM knowledge_fts")
    count = 0
    for article in Article.objects.prefetch_related("tags").iterator(chunk_size=200):
        index_write(article)
        count += 1
    return count


@dataclass(frozen=True)
class Match:
    id: int
    title_html: SafeString
    snippet_html: SafeString
    rank: float


def matches(terms: list[str], *, where: str, params: list[Any], limit: int) -> list[Match]:
    """Articles matching every term, best first; `where` filters columns of the article `a`."""
    if not terms:
        return []
    if connection.vendor == "postgresql":
        return _matches_postgresql(terms, where=where, params=params, limit=limit)
    return _matches_sqlite(terms, where=where, params=params, limit=limit)


def _matches_sqlite(terms: list[str], *, where: str, params: list[Any], limit: int) -> list[Match]:
    # Each term a quoted prefix: FTS5 reads nothing inside quotes as syntax.
    expression = " AND ".join(
        f'("{term}"* OR "{light_stem(term)}"*)' if light_stem(term) != term else f'"{term}"*'
        for term in terms
    )
    # Only fixed SQL is interpolated (`where` is built from literals by the selector);
    # every value is a parameter.
    sql = (
        "SELECT a.id, highlight(knowledge_fts, 0, %s, %s),"  # noqa: S608
        " snippet(knowledge_fts, 2, %s, %s, '…', 16),"
        " bm25(knowledge_fts, 10.0, 5.0, 1.0) AS score"
        " FROM knowledge_fts JOIN knowledge_article a ON a.id = knowledge_fts.rowid"
        f" WHERE knowledge_fts MATCH %s AND {where} ORDER BY score, a.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [START, STOP, START, STOP, expression, *params, limit])
        rows = cursor.fetchall()
    # bm25 is lower for better matches; the API's rank is higher for better ones.
    return [Match(row[0], _marked(row[1]), _marked(row[2]), -float(row[3])) for row in rows]


def _matches_postgresql(
    terms: list[str], *, where: str, params: list[Any], limit: int
) -> list[Match]:
    # One query for every language, so the GIN index serves it: the English and the
    # Russian stems of each word, and its light stem for Ukrainian (simple), as prefixes.
    whole = " & ".join(f"{term}:*" for term in terms)
    light = " & ".join(f"{light_stem(term)}:*" for term in terms)
    config = (
        "(CASE a.language WHEN 'en' THEN 'english' WHEN 'ru' THEN 'russian'"
        " ELSE 'simple' END)::regconfig"
    )
    options = f"StartSel={START}, StopSel={STOP}"
    sql = (
        "WITH q AS (SELECT to_tsquery('english', %s) || to_tsquery('russian', %s)"  # noqa: S608
        " || to_tsquery('simple', %s) AS query)"
        f" SELECT a.id, ts_headline({config}, a.title, q.query, %s),"
        f" ts_headline({config}, a.search_body, q.query, %s),"
        " ts_rank(a.search_vector, q.query) AS score"
        " FROM knowledge_article a, q"
        f" WHERE a.search_vector @@ q.query AND {where} ORDER BY score DESC, a.id LIMIT %s"
    )
    snippet_options = f'{options}, MaxFragments=2, MaxWords=18, MinWords=6, FragmentDelimiter=" … "'
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                whole,
                whole,
                light,
                f"{options}, HighlightAll=true",
                snippet_options,
                *params,
                limit,
            ],
        )
        rows = cursor.fetchall()
    return [Match(row[0], _marked(row[1]), _marked(row[2]), float(row[3])) for row in rows]
