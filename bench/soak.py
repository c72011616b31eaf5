"""Soak benchmark: the minute pipeline at production scale, accelerated through simulated hours.

Starts its own embedded Postgres and Redis under bench/out/soak/, backfills 8 days of simulated
history (one single-run backfill), then runs the real `minute_pipeline` job once per simulated
minute through Dagster (Postgres-backed instance, in-process executor), and the analysis job every
few minutes. Prints run latency p50/p95, Postgres and DuckDB growth per simulated day, and memory.

    python3 -m uv run python bench/soak.py --hours 24 --categories 450
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours of minute ticks")
    parser.add_argument("--categories", type=int, default=450, help="categories per platform")
    parser.add_argument("--history-days", type=int, default=8)
    parser.add_argument("--day", default="2026-11-10", help="first simulated day (UTC)")
    parser.add_argument("--analysis-every", type=int, default=5, help="minutes between drains")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "soak"))
    args = parser.parse_args()

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    os.environ.update(
        {
            "STREAMPULSE_HOME": str(out),
            "STREAMPULSE_SOURCES": "simulator",
            "STREAMPULSE_SIMULATOR_CATEGORIES": str(args.categories),
        }
    )
    import psutil

    from streampulse_assets.lib.services.paths import free_port

    os.environ["STREAMPULSE_PG_PORT"] = str(free_port())
    os.environ["STREAMPULSE_REDIS_PORT"] = str(free_port())

    import dagster as dg

    from streampulse_assets.cli.dev import apply_schemas, prepare_dagster_home
    from streampulse_assets.defs.ticks import MINUTE_JOB
    from streampulse_assets.lib.services.manager import Services
    from streampulse_assets.lib.settings import get_settings
    from streampulse_assets.lib.ticks import Tick, tick_tags

    settings = get_settings()
    services = Services(settings.stores)
    services.up()
    try:
        apply_schemas()
        os.environ.update(services.dagster_pg_env())
        os.environ["DAGSTER_HOME"] = str(prepare_dagster_home())
        for key in ("STREAMPULSE_POSTGRES_URL", "STREAMPULSE_REDIS_URL"):
            os.environ.pop(key, None)
        instance = dg.DagsterInstance.get()
        from streampulse_assets.definitions import defs

        definitions = defs()
        minute_job = definitions.resolve_job_def(MINUTE_JOB)
        analysis_job = _analysis_job(definitions)
        process = psutil.Process()

        day = datetime.fromisoformat(args.day)
        history_start = day - timedelta(days=args.history_days)
        t0 = time.perf_counter()
        history = Tick(history_start, day, live=False)  # one single-run backfill
        result = minute_job.execute_in_process(instance=instance, tags=tick_tags(history))
        backfill_s = time.perf_counter() - t0
        assert result.success, "history backfill failed"
        sizes0 = _sizes(settings)
        print(
            f"history backfill: {args.history_days} days x {2 * args.categories} categories "
            f"in {backfill_s:.1f} s (one run)"
        )
        print(
            f"after backfill: {_fmt_sizes(sizes0)}  rss={process.memory_info().rss / 2**20:.0f} MiB"
        )

        latencies: list[float] = []
        minutes = int(args.hours * 60)
        samples = []
        for i in range(minutes):
            minute = day + timedelta(minutes=i)
            tick = Tick(minute, minute + timedelta(minutes=1))
            t = time.perf_counter()
            run = minute_job.execute_in_process(
                instance=instance, partition_key=tick.partition_key, tags=tick_tags(tick)
            )
            latencies.append(time.perf_counter() - t)
            if not run.success:
                print(f"tick {minute} failed", file=sys.stderr)
            if analysis_job is not None and i % args.analysis_every == 0:
                analysis_job.execute_in_process(instance=instance)
            if i % 60 == 59 or i == minutes - 1:
                rss = process.memory_info().rss / 2**20
                samples.append((minute, rss))
                p50 = statistics.median(latencies)
                print(
                    f"  {minute:%m-%d %H:%M}  ticks={i + 1}  p50={p50:.2f}s"
                    f"  p95={_percentile(latencies, 0.95):.2f}s  rss={rss:.0f} MiB  "
                    f"{_fmt_sizes(_sizes(settings))}",
                    flush=True,
                )
        sizes1 = _sizes(settings)
        per_day = 24 * 60 / max(minutes, 1)
        print("\n== soak summary ==")
        print(f"ticks: {minutes} simulated minutes, {2 * args.categories} categories")
        print(
            f"run latency: p50 {statistics.median(latencies):.2f} s, "
            f"p95 {_percentile(latencies, 0.95):.2f} s, max {max(latencies):.2f} s"
        )
        for key in sizes1:
            growth = (sizes1[key] - sizes0[key]) * per_day / 2**20
            print(f"growth per simulated day: {key} {growth:.1f} MiB")
        print("memory (RSS MiB) over time: " + ", ".join(f"{m:%H:%M}={r:.0f}" for m, r in samples))
    finally:
        services.down()


def _analysis_job(definitions):
    try:
        return definitions.resolve_job_def("analysis_job")
    except Exception:  # the analysis job is optional for the soak
        return None


def _sizes(settings) -> dict[str, int]:
    import psycopg2

    sizes = {"duckdb": _file_size(settings.stores.resolved_duckdb_path())}
    url = settings.stores.resolved_postgres_url()
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        for db in ("dagster", "streampulse"):
            cur.execute("SELECT pg_database_size(%s)", (db,))
            sizes[f"postgres:{db}"] = cur.fetchone()[0]
    conn.close()
    return sizes


def _file_size(path: Path) -> int:
    wal = Path(str(path) + ".wal")
    return (path.stat().st_size if path.exists() else 0) + (
        wal.stat().st_size if wal.exists() else 0
    )


def _fmt_sizes(sizes: dict[str, int]) -> str:
    return "  ".join(f"{k}={v / 2**20:.0f} MiB" for k, v in sizes.items())


if __name__ == "__main__":
    main()
