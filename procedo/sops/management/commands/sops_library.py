"""`procedo sops_library --list | --install KEY ... | --all [--owner USERNAME] [--language uk]`.

`--strings` prints `procedo/sops/library/strings.py` (the library's words for
makemessages) after a library file changed.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.core.errors import DomainError
from procedo.sops.library import (
    LIBRARY,
    PENDING,
    library_install,
    library_installed,
    strings_module,
)


class Command(BaseCommand):
    help = (
        "The library of ready SOPs: list it, or install entries as drafts to adapt. "
        "Installing twice changes nothing. Exit status 1 on an unknown key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--list", action="store_true", help="list the library")
        action.add_argument("--install", nargs="*", metavar="KEY", help="install these entries")
        action.add_argument("--all", action="store_true", help="install every entry")
        action.add_argument(
            "--strings",
            action="store_true",
            help="print strings.py: the library's words for makemessages",
        )
        parser.add_argument(
            "--owner",
            default="",
            help="username who owns the installed SOPs (default: the first active owner)",
        )
        parser.add_argument(
            "--language",
            default=settings.LANGUAGE_CODE,
            choices=[code for code, _name in settings.LANGUAGES],
            help="the language of the SOPs' texts (default: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["strings"]:
            self.stdout.write(strings_module(), ending="")
            return
        if options["list"]:
            with translation.override(options["language"]):
                self._list()
            return
        keys: list[str] | None = None if options["all"] else list(options["install"] or [])
        if keys is not None and not keys:
            raise CommandError("--install: name at least one key (see --list), or use --all")
        unknown = [key for key in keys or [] if key not in LIBRARY]
        if unknown:  # before the database is asked anything
            raise CommandError(
                f"keys: no SOP {unknown[0]!r} in the library (it has: {', '.join(LIBRARY)})"
            )
        owner = self._owner(options["owner"])
        try:
            result = library_install(keys=keys, actor=owner, language=options["language"])
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from None
        if result:
            names = ", ".join(str(sop.library_key) for sop in result)
            self.stdout.write(self.style.SUCCESS(f"Installed: {names}"))
            self.stdout.write(
                f"Each is a draft owned by {owner}: adapt it, then send it for review."
            )
        if result.already:
            names = ", ".join(str(sop.library_key) for sop in result.already)
            self.stdout.write(f"Already there: {names}")

    def _owner(self, username: str) -> User:
        people = User.objects.filter(is_active=True)
        if username:
            found = people.filter(username=username).first()
            if found is None:
                raise CommandError(f"--owner: no active person {username!r}")
            return found
        found = people.filter(role=Role.OWNER).order_by("pk").first()
        if found is None:
            raise CommandError("--owner: nobody owns the store yet; name a person with --owner")
        return found

    def _list(self) -> None:
        installed = library_installed()
        for key, source in LIBRARY.items():
            entry = source.translated()
            sop = installed.get(key)
            where = f"installed as SOP {sop.pk}" if sop else "not installed"
            self.stdout.write(f"{key:<20} {entry.subject_type:<9} {where:<22} {entry.name}")
        for pending in PENDING:
            self.stdout.write(f"{'(later)':<20} {pending.needs!s:<9} {'':<22} {pending.name}")
