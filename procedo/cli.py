"""The `procedo` command: Django's management commands, with configuration errors in one line."""

from __future__ import annotations

import importlib.util
import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from procedo.core.envconfig import ConfigError

    try:
        _settings_module_check(os.environ["DJANGO_SETTINGS_MODULE"])
        import django

        django.setup()

        from django.core.management import execute_from_command_line

        # Commands raise ConfigError too (`procedo run` for HOST, PORT and the backends).
        execute_from_command_line(["procedo", *(sys.argv[1:] if argv is None else argv)])
    except ConfigError as exc:
        sys.stderr.write(f"procedo: configuration error: {exc}\n")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        # Ctrl-C during start-up (a migration, the demo store): no traceback.
        raise SystemExit(130) from None


def _settings_module_check(name: str) -> None:
    from procedo.core.envconfig import ConfigError

    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ConfigError("DJANGO_SETTINGS_MODULE", f"no module named {name!r}")


if __name__ == "__main__":
    main()
