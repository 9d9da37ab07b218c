from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from procedo.demo.load import demo_store_load


class Command(BaseCommand):
    help = "Load the demo store the first time (does nothing once anyone has an account)."

    def handle(self, *args: Any, **options: Any) -> None:
        login = demo_store_load()
        login_file = settings.VAR_DIR / "demo-login.txt"
        if login is None:
            if options["verbosity"] > 1:
                self.stdout.write("Accounts exist already; the demo store was not loaded.")
            return
        text = (
            f"Demo owner login: username {login.username!r}, password {login.password!r}\n"
            f"(other demo staff use the same password: olena, taras, iryna, maksym, sofia)"
        )
        login_file.write_text(text + "\n")
        login_file.chmod(0o600)
        self.stdout.write(self.style.SUCCESS("Demo store loaded."))
