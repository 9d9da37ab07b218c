"""`procedo knowledge_reindex`: write the search index again from the articles.

The services keep the index in step with every change; this is for after a restore
of the articles table alone, or a change to how the text is indexed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from procedo.knowledge.search import index_rebuild


class Command(BaseCommand):
    help = "Rebuild the knowledge base's full-text index from the articles."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            count = index_rebuild()
        self.stdout.write(f"{count} articles indexed")
