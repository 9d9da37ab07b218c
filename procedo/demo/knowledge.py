"""The demo store's knowledge base: the standard objection scripts in English too, and a
public FAQ in Ukrainian and English (the Ukrainian scripts come with the objection SOP)."""

from __future__ import annotations

from typing import Any

from django.utils import translation

from procedo.knowledge import services
from procedo.knowledge.models import Article
from procedo.knowledge.standard import STANDARD, standard_article

# (language, category, title, text): what the shop's customers ask most.
FAQ = [
    (
        "uk",
        "Доставка",
        "Скільки триває доставка?",
        "Замовлення, оформлені до 15:00, ми відправляємо того ж дня. Нова пошта доставляє "
        "за 1–2 дні, кур'єр — наступного дня у великих містах.",
    ),
    (
        "uk",
        "Оплата і повернення",
        "Як повернути товар?",
        "Протягом 14 днів без пояснення причин: напишіть нам, і ми надішлемо накладну для "
        "безкоштовного повернення. Гроші повертаємо за 3 робочі дні.",
    ),
    (
        "en",
        "Shipping and delivery",
        "How long does delivery take?",
        "Orders placed before 15:00 ship the same day. Nova Poshta delivers in 1–2 days; "
        "a courier brings it the next day in the big cities.",
    ),
    (
        "en",
        "Payment and returns",
        "How do I return an item?",
        "Within 14 days, no reason needed: write to us and we send a free return label. "
        "The money is back within 3 working days.",
    ),
]


def demo_knowledge_load(*, owner: Any) -> None:
    with translation.override("en"):
        for slug in STANDARD:
            if not Article.objects.filter(slug=f"{slug}-en").exists():
                services.article_create(
                    kind="objection",
                    language="en",
                    status="published",
                    slug=f"{slug}-en",
                    actor=owner,
                    **standard_article(slug),
                )
    for language, category, title, body in FAQ:
        services.article_create(
            kind="faq",
            language=language,
            audience="public",
            status="published",
            category_id=services.category_ensure(name=category).pk,
            title=title,
            body=body,
            actor=owner,
        )
