"""Run every benchmark on SQLite and, when DATABASE_URL reaches PostgreSQL, on PostgreSQL.

Each backend runs in its own process on a fresh database so that settings (and
Django's connection) are those of that backend alone. Figures are printed as
ratios to a baseline measured in the same run on the same database; nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit, urlunsplit

from bench.timing import scale_argument


def _postgres_bench_url(url: str, name: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        print(f"PostgreSQL: skipped ({type(exc).__name__}: {exc})")
        return None
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument(
        "--scale", type=scale_argument, default=1.0, help="shrink N for a quick run (> 0)"
    )
    parser.add_argument("--only", default="", help="comma-separated ids, e.g. B0")
    args = parser.parse_args()
    # The PostgreSQL database the bench drops and recreates (B8 adds <name>_b8_<crm> ones):
    # another name keeps two people's runs on one server apart.
    bench_db = os.environ.get("PROCEDO_BENCH_DB", "procedo_bench")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", bench_db):
        parser.error(f"PROCEDO_BENCH_DB must be a lower-case identifier, not {bench_db!r}")

    backends: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="procedo-bench-") as var:
        backends.append(("SQLite", f"sqlite:///{var}/bench.sqlite3"))
        pg_url = os.environ.get("DATABASE_URL", "")
        if pg_url.startswith("postgres"):
            bench_url = _postgres_bench_url(pg_url, bench_db)
            if bench_url:
                backends.append(("PostgreSQL", bench_url))
        else:
            print("PostgreSQL: skipped (DATABASE_URL is not set to a postgresql:// URL)")
        status = 0
        for label, url in backends:
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "PROCEDO_VAR": var,
                "DJANGO_SETTINGS_MODULE": "config.settings",
            }
            env.pop("REDIS_URL", None)
            command = [
                sys.executable,
                "-m",
                "bench.backend",
                "--label",
                label,
                "--scale",
                str(args.scale),
                "--only",
                args.only,
            ]
            status |= subprocess.run(command, env=env, check=False).returncode
    return status


if __name__ == "__main__":
    raise SystemExit(main())
