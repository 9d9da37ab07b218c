from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from procedo.automation.services.signing import webhook_secret


class Command(BaseCommand):
    help = _(
        "Print the secret that signs outgoing SOP webhooks (header Procedo-Signature:"
        " t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>'>), making it the first time."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(webhook_secret())
