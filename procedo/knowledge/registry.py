"""What apps above the knowledge base tell it, without it importing them.

- SOPs link steps and checklist items to articles (by slug); `procedo.sops` registers
  `article_users`, so an article's page lists the SOPs that use it.
- A task an SOP run made belongs to a step; the SOP side registers `task_articles`,
  so the task's knowledge panel offers the step's articles first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procedo.work.models import Task


@dataclass(frozen=True)
class ArticleUser:
    """Something that links to an article: an SOP step ("Sales call · Script: too expensive")."""

    label: str
    url: str


_article_users: dict[str, Callable[[str], list[ArticleUser]]] = {}
_task_articles: dict[str, Callable[[Task], list[str]]] = {}


def article_users_register(name: str, finder: Callable[[str], list[ArticleUser]]) -> None:
    _article_users[name] = finder


def article_users(slug: str) -> list[ArticleUser]:
    return [user for finder in _article_users.values() for user in finder(slug)]


def task_articles_register(name: str, finder: Callable[[Task], list[str]]) -> None:
    _task_articles[name] = finder


def task_articles(task: Any) -> list[str]:
    """The slugs of the articles the task's step links to, in the step's order, once each."""
    return list(dict.fromkeys(slug for finder in _task_articles.values() for slug in finder(task)))
