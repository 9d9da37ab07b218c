"""Run every benchmark on SQLite and, when DATABASE_URL reaches PostgreSQL, on PostgreSQL.

Each backend runs in its own process on a fresh database so that settings (and
Django's connection) are those of that backend alone. Figures are printed as
ratios to a baseline measured in the same run on the same database; nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit, urlunsplit


def _postgres_bench_url(url: str, name: str) -> str | None:
    try:
        import psycopg
        from psycopg import sql

        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except Exception as exc:
        print(f"PostgreSQL: skipped ({type(exc).__name__}: {exc})")
        return None
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and math.isfinite(value)):  # NaN compares false
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, got {text}")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--scale", type=_scale, default=1.0, help="shrink N for a quick run")
    parser.add_argument("--only", default="", help="comma-separated ids, e.g. B0")
    args = parser.parse_args()

    backends: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="procedo-bench-") as var:
        backends.append(("SQLite", f"sqlite:///{var}/bench.sqlite3"))
        pg_url = os.environ.get("DATABASE_URL", "")
        if pg_url.startswith("postgres"):
            bench_url = _postgres_bench_url(
                pg_url, os.environ.get("PROCEDO_BENCH_DB", "procedo_bench")
            )
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
