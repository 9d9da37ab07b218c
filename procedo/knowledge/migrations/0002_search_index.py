"""The search index, one form per database (see procedo/knowledge/search.py).

SQLite: an FTS5 table, rowid = the article's id. PostgreSQL: a tsvector column and
the text it was made from on the article, with a GIN index. The columns are not on
the model: only the search module reads or writes them, in SQL.
"""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE knowledge_fts USING fts5("
    "title, keywords, body, tokenize = 'porter unicode61 remove_diacritics 2')",
]
SQLITE_BACK = ["DROP TABLE knowledge_fts"]
POSTGRESQL = [
    "ALTER TABLE knowledge_article ADD COLUMN search_vector tsvector NOT NULL DEFAULT ''",
    "ALTER TABLE knowledge_article ADD COLUMN search_body text NOT NULL DEFAULT ''",
    "CREATE INDEX knowledge_article_search ON knowledge_article USING gin (search_vector)",
]
POSTGRESQL_BACK = [
    "DROP INDEX knowledge_article_search",
    "ALTER TABLE knowledge_article DROP COLUMN search_vector",
    "ALTER TABLE knowledge_article DROP COLUMN search_body",
]


def _run(forwards: bool):
    def run(apps, schema_editor):
        postgresql = schema_editor.connection.vendor == "postgresql"
        if postgresql:
            statements = POSTGRESQL if forwards else POSTGRESQL_BACK
        else:
            statements = SQLITE if forwards else SQLITE_BACK
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [migrations.RunPython(_run(True), _run(False))]
