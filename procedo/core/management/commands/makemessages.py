"""Django's makemessages, knowing Procedo's own marker for counted sentences stored for later.

`later_plural("%(count)s task…", "%(count)s tasks…", ...)` (procedo.core.texts) carries a
singular and a plural that must reach the catalog like ngettext's do.
"""

from __future__ import annotations

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=later_plural:1,2"]
