"""Detection benchmark: backfills and live ticks through baselines and both detectors.

    uv run python bench/detection.py                 # 14 days x 2 platforms x 300 categories
    uv run python bench/detection.py --days 8 --categories 250

Prints rows/s for a backfill of the whole range and of its last day, for a live tick (one minute
of every category) on a warehouse holding 1 day and holding the whole history, and the time of
the original StreamPulse way (one full detection query per minute) on a sample of minutes,
extrapolated to the range, so the speed-up is a ratio from one run. Simulated data (seed 7).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from streampulse_assets.lib.detection.baselines import (
    refresh_rolling_baselines,
    refresh_seasonal_baselines,
)
from streampulse_assets.lib.detection.engine import refresh_signal_events
from streampulse_assets.lib.detection.frame import load_raw
from streampulse_assets.lib.schema import migrate_duckdb

END = datetime(2025, 3, 1)

# The original way: for one minute, one query over the history computing every baseline.
NAIVE_MINUTE = """
SELECT platform, category_id,
       median(viewers) FILTER (WHERE ts >= $t - INTERVAL 60 MINUTE AND ts < $t) AS median_60,
       avg(viewers) FILTER (WHERE ts BETWEEN $t - INTERVAL 26 HOUR AND $t - INTERVAL 22 HOUR),
       avg(viewers) FILTER (WHERE ts BETWEEN $t - INTERVAL 170 HOUR AND $t - INTERVAL 166 HOUR),
       max(viewers) FILTER (WHERE ts = $t) AS current
FROM raw_snapshots WHERE ts <= $t GROUP BY ALL
"""


def build(path: Path, start: datetime, end: datetime, categories: int) -> int:
    from streampulse_assets.lib.sources.simulator import Simulator

    con = duckdb.connect(str(path))
    migrate_duckdb(con)
    if con.execute("SELECT count(*) FROM raw_snapshots").fetchall()[0][0] == 0:
        sim = Simulator(seed=7, categories_per_platform=categories)
        for frame in sim.iter_frames(start, end):
            load_raw(con, frame, source="simulator")
    rows = con.execute("SELECT count(*) FROM raw_snapshots").fetchall()[0][0]
    con.close()
    return rows


def run(con, start: datetime, end: datetime) -> dict[str, float]:
    out = {}
    t = time.perf_counter()
    out["rows"] = refresh_rolling_baselines(con, start, end)
    out["rolling_s"] = time.perf_counter() - t
    t = time.perf_counter()
    refresh_seasonal_baselines(con, start, end)
    out["seasonal_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out["events"] = len(refresh_signal_events(con, start, end))
    out["events_s"] = time.perf_counter() - t
    out["total_s"] = out["rolling_s"] + out["seasonal_s"] + out["events_s"]
    return out


def show(name: str, r: dict[str, float]) -> None:
    print(
        f"{name:<34} {r['rows']:>11,.0f} rows {r['total_s']:8.2f} s "
        f"{r['rows'] / r['total_s']:>12,.0f} rows/s  (rolling {r['rolling_s']:.2f}, "
        f"seasonal {r['seasonal_s']:.2f}, events {r['events_s']:.2f}; {r['events']:.0f} events)"
    )


def ticks(path: Path, minute: datetime, n: int = 5) -> dict[str, float]:
    con = duckdb.connect(str(path))
    results = [run(con, minute - timedelta(minutes=i), minute - timedelta(minutes=i - 1))
               for i in range(n, 0, -1)]  # fmt: skip
    con.close()
    best = {k: statistics.median(r[k] for r in results) for k in results[0]}
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--categories", type=int, default=300, help="per platform")
    parser.add_argument("--dir", default="/tmp/streampulse_bench")
    parser.add_argument("--naive-sample", type=int, default=5)
    args = parser.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    start = END - timedelta(days=args.days)
    full = folder / f"sim_{args.days}d_{args.categories}.duckdb"
    one_day = folder / f"sim_1d_{args.categories}.duckdb"
    t = time.perf_counter()
    rows = build(full, start, END, args.categories)
    build(one_day, END - timedelta(days=1), END, args.categories)
    print(f"warehouse: {rows:,} raw rows over {args.days} days ({time.perf_counter() - t:.0f} s)")

    con = duckdb.connect(str(full))
    show(f"backfill {args.days} days", run(con, start, END))
    show("backfill last day", run(con, END - timedelta(days=1), END))
    sample = [END - timedelta(minutes=37 * i + 1) for i in range(args.naive_sample)]
    t = time.perf_counter()
    for minute in sample:
        con.execute(NAIVE_MINUTE, {"t": minute}).fetchall()
    per_minute = (time.perf_counter() - t) / len(sample)
    con.close()
    minutes = args.days * 1440
    print(f"original way: {per_minute * 1000:.0f} ms per minute-query -> "
          f"{per_minute * minutes:,.0f} s for {args.days} days (extrapolated)")  # fmt: skip

    con = duckdb.connect(str(one_day))
    run(con, END - timedelta(days=1), END - timedelta(minutes=10))  # history for the ticks
    con.close()
    last = END - timedelta(minutes=1)
    small, large = ticks(one_day, last), ticks(full, last)
    show("live tick, 1 day in table", small)
    show(f"live tick, {args.days} days in table", large)
    print(f"tick cost ratio {args.days}d / 1d: {large['total_s'] / small['total_s']:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (whole process, incl. data generation): {peak:,.0f} MB")


if __name__ == "__main__":
    main()
