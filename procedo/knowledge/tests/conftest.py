from __future__ import annotations

from typing import Any

import pytest

from procedo.knowledge import services
from procedo.knowledge.models import Article


def protocol(**overrides: Any) -> dict[str, Any]:
    return {
        "objection": "Це занадто дорого",
        "technique": "reframe",
        "script": "Розумію, ціна важлива. З чим порівнюєте? Наша ціна включає доставку і гарантію.",
        "follow_up": ["З чим ви порівнюєте?"],
        "next_step": "Запропонувати розстрочку або дешевшу модель.",
        **overrides,
    }


@pytest.fixture
def articles(db: None) -> dict[str, Article]:
    """One published article in each language, a draft and an internal FAQ."""
    made = {
        "uk": services.article_create(
            kind="objection",
            language="uk",
            title="Заперечення: дорого",
            protocol=protocol(),
            status="published",
            tags=["ціна"],
            actor=None,
        ),
        "ru": services.article_create(
            kind="solution",
            language="ru",
            title="Посылка задерживается",
            body="Если доставка задерживается, проверьте трекинг и позвоните перевозчику.",
            status="published",
            actor=None,
        ),
        "en": services.article_create(
            kind="faq",
            language="en",
            title="How long does delivery take?",
            body="Deliveries take one or two days. Shipping is free over 1000 UAH.",
            status="published",
            audience="public",
            actor=None,
        ),
        "draft": services.article_create(
            kind="faq",
            language="en",
            title="Delivery to the moon",
            body="Draft: deliveries to the moon are not offered yet.",
            actor=None,
        ),
    }
    return made
