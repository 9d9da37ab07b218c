from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SopsConfig(AppConfig):
    name = "procedo.sops"
    label = "sops"
    verbose_name = _("SOPs")

    def ready(self) -> None:
        from procedo.sops.timeline import timeline_register

        timeline_register()
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.core.search import search_provider_register
        from procedo.sops.search import sop_search

        search_provider_register(sop_search)
        # Steps link to knowledge base articles: the article lists its SOPs, the task its articles.
        from procedo.knowledge.registry import article_users_register, task_articles_register
        from procedo.sops import knowledge_links

        article_users_register("sops", knowledge_links.article_users)
        task_articles_register("sops", knowledge_links.task_articles)
        nav_register(NavEntry("sops:list", _("SOPs"), "sops.view", order=400))
        nav_register(NavEntry("sops:mine", _("My SOPs"), "sops.view", order=410))
        nav_register(NavEntry("sops:recognition", _("Recognition"), "sops.view", order=420))
