"""The standard objection-handling protocols every store starts with.

The SOP library's "handling objections" links to them by address; installing that
SOP installs them (published, internal) in the installer's language, the way library
SOPs are installed, and a store edits them into its own words from then on. The
words are English source strings translated through the catalog.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

STANDARD: dict[str, dict[str, Any]] = {
    "objection-too-expensive": {
        "title": gettext_noop("Objection: “It's too expensive”"),
        "objection": gettext_noop("It's too expensive"),
        "technique": "reframe",
        "script": gettext_noop(
            "“I understand, the price matters. What are you comparing it with?” Listen. "
            "Then: “Our price includes the warranty, delivery and service. Spread over its "
            "lifetime, it costs less than a cup of coffee a week.” If the budget is tight, "
            "offer a cheaper model or payment in instalments."
        ),
        "follow_up": [
            gettext_noop("What are you comparing it with?"),
            gettext_noop("What matters most to you apart from the price?"),
        ],
        "next_step": gettext_noop("Offer the order with instalments, or a cheaper model, today."),
        "tags": [gettext_noop("price")],
    },
    "objection-think-it-over": {
        "title": gettext_noop("Objection: “I'll think about it”"),
        "objection": gettext_noop("I'll think about it"),
        "technique": "questions",
        "script": gettext_noop(
            "“Of course. To make the decision easier, what exactly would you like to think "
            "over: the price, the model or the timing?” “I'll think about it” usually hides "
            "something else: find it and answer it."
        ),
        "follow_up": [
            gettext_noop("What would help you decide today?"),
            gettext_noop("Is anyone else taking part in the decision?"),
        ],
        "next_step": gettext_noop("Agree on a specific day and time for the next call."),
        "tags": [gettext_noop("decision")],
    },
    "objection-quality": {
        "title": gettext_noop("Objection: “I heard the quality is low”"),
        "objection": gettext_noop("I heard the quality is low"),
        "technique": "social_proof",
        "script": gettext_noop(
            "“It's great that you choose carefully. Over four hundred buyers rated it 4.8 "
            "of 5; here are their reviews. It has a two-year warranty, and you can return it "
            "within 14 days without giving a reason.”"
        ),
        "follow_up": [
            gettext_noop("Where did you hear that?"),
            gettext_noop("What would convince you?"),
        ],
        "next_step": gettext_noop("Send the reviews and a video of the item by messenger."),
        "tags": [gettext_noop("quality")],
    },
    "objection-delivery-time": {
        "title": gettext_noop("Objection: “Delivery takes too long”"),
        "objection": gettext_noop("Delivery takes too long"),
        "technique": "facts",
        "script": gettext_noop(
            "“I understand, you want it sooner. If we place the order before 15:00, we ship "
            "today and the parcel is with you in one or two days. A courier can bring it to "
            "your door.”"
        ),
        "follow_up": [gettext_noop("By what date do you need it?")],
        "next_step": gettext_noop("Offer courier delivery or pick-up and place the order now."),
        "tags": [gettext_noop("delivery")],
    },
}


def standard_article(slug: str) -> dict[str, Any]:
    """One standard protocol in the active language, as `article_create` takes it."""
    entry = STANDARD[slug]
    return {
        "title": _(entry["title"]),
        "protocol": {
            "objection": _(entry["objection"]),
            "technique": entry["technique"],
            "script": _(entry["script"]),
            "follow_up": [_(question) for question in entry["follow_up"]],
            "next_step": _(entry["next_step"]),
        },
        "tags": [_(tag) for tag in entry["tags"]],
    }
