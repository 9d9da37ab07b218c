"""Whether a message's text reads like an offer: what marks a step as marketing.

An offer sent as transactional mail skips consent, quiet hours and the cap; the law and the
customers see it as marketing. So a text with a discount, a code or a sale in it (in English,
Ukrainian or Russian) needs either the marketing purpose or a stated reason.
"""

from __future__ import annotations

import re

OFFER = re.compile(
    r"\b(discount|coupon|promo(?:tion|code)?|sale|offer|deal|"
    r"знижк\w*|промокод\w*|купон\w*|акці\w*|розпродаж\w*|пропозиці\w*|"
    r"скидк\w*|распродаж\w*|предложени\w*)\b"
    r"|[−-]\s?\d{1,2}\s?%|\d{1,2}\s?%\s?(?:off|знижк\w*|скидк\w*)",
    re.IGNORECASE,
)


def offer_words(*texts: str) -> str:
    """The first words that make the texts read like an offer ("discount", "−15%"); ""."""
    for text in texts:
        found = OFFER.search(text or "")
        if found:
            return found.group(0)
    return ""
