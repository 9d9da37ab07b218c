"""`procedo compile_locale`: write each django.mo from its django.po, in pure Python (Babel).

The .mo files are generated, never committed: `procedo run` and the test suite call this
command, so a fresh clone needs neither gettext's msgfmt nor a build step. A .mo is rewritten
only when it is missing or older than its .po, and it is replaced atomically (written beside
it, then renamed), so a web worker reading it never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def catalogs(locale_paths: Iterable[Path | str]) -> list[Path]:
    """Every `<locale path>/<language>/LC_MESSAGES/*.po`, sorted."""
    return sorted(p for root in locale_paths for p in Path(root).glob("*/LC_MESSAGES/*.po"))


def is_stale(po: Path) -> bool:
    mo = po.with_suffix(".mo")
    return not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime


def compile_po(po: Path) -> Path:
    """Write `po`'s .mo beside it; fuzzy entries are left out, as msgfmt does."""
    mo = po.with_suffix(".mo")
    try:
        with po.open("rb") as source:
            catalog = read_po(source, abort_invalid=True)
    except (PoFileError, ValueError) as exc:
        raise CommandError(f"{po}: {exc}") from None
    fd, tmp = tempfile.mkstemp(dir=mo.parent, prefix=f".{mo.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            write_mo(out, catalog, use_fuzzy=False)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the web server must read it
        os.replace(tmp, mo)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return mo


def compile_locale(*, force: bool = False) -> list[Path]:
    """Compile the stale catalogs of settings.LOCALE_PATHS; returns the .mo files written."""
    return [compile_po(po) for po in catalogs(settings.LOCALE_PATHS) if force or is_stale(po)]


class Command(BaseCommand):
    help = "Compile the translation catalogs (.po → .mo) of LOCALE_PATHS that changed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Recompile every catalog.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            written = compile_locale(force=options["force"])
        except OSError as exc:
            raise CommandError(f"cannot write a translation catalog: {exc}") from None
        for mo in written:
            if options["verbosity"] > 1:
                self.stdout.write(f"compiled {mo}")
        if options["verbosity"] > 0:
            self.stdout.write(f"{len(written)} translation catalog(s) compiled.")
