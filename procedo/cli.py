"""The `procedo` command: Django's management commands, with configuration errors in one line."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from procedo.core.envconfig import ConfigError

    try:
        import django

        django.setup()
    except ConfigError as exc:
        sys.stderr.write(f"procedo: configuration error: {exc}\n")
        raise SystemExit(2) from None

    from django.core.management import execute_from_command_line

    execute_from_command_line(["procedo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
