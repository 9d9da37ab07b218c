"""One backend's run of the benchmarks (started by `python -m bench`)."""

from __future__ import annotations

import argparse
import os

import django

from bench.timing import scale_argument


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", required=True)
    parser.add_argument("--scale", type=scale_argument, default=1.0)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    django.setup()

    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # pages render as in production
    print(f"\n{args.label} ({connection.vendor}), {os.cpu_count()} cores, scale {args.scale}")

    from bench import (
        b0_events,
        b1_ingest,
        b2_engine,
        b2b_latency,
        b3_sweeps,
        b3b_backfill,
        b4_analytics,
        b4_import,
        b4s_segments,
        b5_lists,
        b6_campaign,
        b8_peers,
        b9_morning,
        r1_storm,
    )

    selected = {item.strip().upper() for item in args.only.split(",") if item.strip()}
    status = 0
    for bench_id, module in [
        ("B0", b0_events),
        ("B1", b1_ingest),
        ("B2", b2_engine),
        ("B2B", b2b_latency),
        ("B3", b3_sweeps),
        ("B3B", b3b_backfill),
        ("B4", b4_import),
        ("B4A", b4_analytics),
        ("B4S", b4s_segments),
        ("B5", b5_lists),
        ("B6", b6_campaign),
        ("B8", b8_peers),
        ("B9", b9_morning),
        ("R1", r1_storm),
    ]:
        # B8 answers False when a CRM did not run: the run reports it, then fails.
        if (not selected or bench_id in selected) and module.run(scale=args.scale) is False:
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
