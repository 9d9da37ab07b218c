from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from procedo.imports.models import ImportKind


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(label=_("CSV file (UTF-8, may be .gz)"))
    source = forms.CharField(
        label=_("Source"),
        max_length=40,
        initial="csv",
        help_text=_(
            "Where the rows come from, e.g. shopify or old-crm. Import the same file with "
            "the same source and nothing is duplicated."
        ),
    )
    currency = forms.CharField(
        label=_("Currency"),
        max_length=3,
        required=False,
        help_text=_("For files without a currency column; empty: the business currency."),
    )
    time_zone = forms.CharField(
        label=_("Time zone of the file"),
        max_length=64,
        required=False,
        help_text=_("For times written without an offset; empty: the business time zone."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The limits are settings: stated where the file is chosen, not found out after.
        self.fields["file"].help_text = gettext(
            "Up to %(upload)s MB; uncompressed, up to %(plain)s MB and %(rows)s rows."
        ) % {
            "upload": settings.PROCEDO_MAX_UPLOAD_BYTES // (1024 * 1024),
            "plain": settings.PROCEDO_IMPORT_MAX_BYTES // (1024 * 1024),
            "rows": f"{settings.PROCEDO_IMPORT_MAX_ROWS:,}",
        }
