"""What queueing and composing share: the unsubscribe line every marketing email carries."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _

from procedo.business.selectors import business_language


def _unsubscribe_line_ensured(body: str, recipient: str) -> str:
    """Every marketing email says how to stop them: its text links to the recipient's own
    unsubscribe page, added at the end when the template did not place the link itself."""
    from procedo.messaging.services.unsubscribe import unsubscribe_url

    url = unsubscribe_url(recipient)
    if url in body:
        return body
    with translation.override(business_language()):
        line = _("Unsubscribe: %(url)s") % {"url": url}
    return f"{body.rstrip()}\n\n-- \n{line}"
