"""Simulator throughput: one-minute frames (the live tick) and a one-day window (backfill).

Run: uv run python bench/simulator.py [--categories N] [--days D]
Prints rows/s; not a test (no timing assertions anywhere).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from streampulse_assets.lib.sources.replay import write_snapshots
from streampulse_assets.lib.sources.simulator import Simulator


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--categories", type=int, default=300, help="per platform")
    parser.add_argument("--days", type=int, default=1, help="days written to parquet")
    args = parser.parse_args()
    t0 = time.perf_counter()
    sim = Simulator(seed=7, categories_per_platform=args.categories)
    print(f"catalogue ({sim.catalog.n} categories): {time.perf_counter() - t0:.2f} s")
    start = datetime(2024, 5, 1, 12)
    sim.frame(start, start + timedelta(minutes=1))  # warm the day's event plan
    times, rows = [], 0
    for k in range(1, 31):
        minute = start + timedelta(minutes=k)
        t = time.perf_counter()
        rows += len(sim.frame(minute, minute + timedelta(minutes=1)))
        times.append(time.perf_counter() - t)
    times.sort()
    print(
        f"one-minute frame: median {times[len(times) // 2] * 1000:.1f} ms, "
        f"max {times[-1] * 1000:.1f} ms, {rows / sum(times):,.0f} rows/s"
    )
    day = datetime(2024, 5, 2)
    t = time.perf_counter()
    frame = sim.frame(day, day + timedelta(days=1))
    elapsed, n = time.perf_counter() - t, len(frame)
    print(f"one-day window: {n:,} rows in {elapsed:.2f} s = {n / elapsed:,.0f} rows/s")
    del frame
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sim.parquet"
        t = time.perf_counter()
        n = write_snapshots(sim.iter_frames(day, day + timedelta(days=args.days)), out)
        elapsed = time.perf_counter() - t
        size = out.stat().st_size / 1e6
        print(
            f"{args.days} day(s) to parquet: {n:,} rows in {elapsed:.1f} s "
            f"= {n / elapsed:,.0f} rows/s, {size:.0f} MB"
        )


if __name__ == "__main__":
    main()
