from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from procedo.work.models import Task


def _task_panel(task: Task) -> dict[str, Any]:
    from procedo.knowledge import registry, selectors

    return {"linked": selectors.articles_by_slugs(registry.task_articles(task))}


class KnowledgeConfig(AppConfig):
    name = "procedo.knowledge"
    label = "knowledge"
    verbose_name = _("Knowledge base")

    def ready(self) -> None:
        from procedo.knowledge.timeline import timeline_register

        timeline_register()
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.core.search import search_provider_register
        from procedo.knowledge.panel import article_search_provider
        from procedo.work.registry import TaskPanel, task_panel_register

        nav_register(NavEntry("knowledge:list", _("Knowledge base"), "knowledge.view", order=420))
        search_provider_register(article_search_provider)
        # The step's articles and one search box for the matching script, beside the checklist.
        task_panel_register(
            TaskPanel(
                key="knowledge",
                template="knowledge/_task_panel.html",
                context=_task_panel,
                order=20,
            )
        )
