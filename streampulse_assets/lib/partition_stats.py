"""Per-hour figures of the warehouse tables, one set-wise GROUP BY per table over a time window.

A single-run backfill materialises many hourly partitions at once; these functions give each
hour its own numbers (rows, minutes, spikes, coverage) so that every partition's metadata
describes that partition, not the whole run. Hours of the window without rows get zeros.
Windows are naive UTC [start, end); hour keys are naive UTC hour starts.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

HOUR = timedelta(hours=1)


def hours(start: datetime, end: datetime) -> list[datetime]:
    """Hour starts of every hour that [start, end) touches."""
    first = start.replace(minute=0, second=0, microsecond=0)
    out = []
    while first < end:
        out.append(first)
        first += HOUR
    return out


def raw_hour_stats(con, start: datetime, end: datetime) -> dict[datetime, dict]:
    """raw_snapshots per hour: rows, and per platform minutes with data, categories, mean
    platform viewers per minute (platforms seen anywhere in the window get zeros elsewhere)."""
    rows = con.execute(
        """
        SELECT date_trunc('hour', ts) AS h, platform, count(*), count(DISTINCT ts),
               count(DISTINCT category_id), sum(viewers) / count(DISTINCT ts)
        FROM raw_snapshots WHERE ts >= $1 AND ts < $2
        GROUP BY ALL ORDER BY ALL
        """,
        [start, end],
    ).fetchall()
    platforms = sorted({r[1] for r in rows})
    out = {
        h: {"dagster/row_count": 0}
        | {f"{p}_{k}": 0 for p in platforms for k in ("minutes", "categories", "viewers_mean")}
        for h in hours(start, end)
    }
    for h, platform, n, minutes, categories, viewers in rows:
        meta = out.setdefault(h, {"dagster/row_count": 0})
        meta["dagster/row_count"] += int(n)
        meta[f"{platform}_minutes"] = int(minutes)
        meta[f"{platform}_categories"] = int(categories)
        meta[f"{platform}_viewers_mean"] = round(float(viewers or 0), 1)
    return out


def event_hour_stats(con, start: datetime, end: datetime) -> dict[datetime, dict]:
    """signal_events per hour: stored events, V3/V1 spikes, V3 candidates, counts by detector
    and level and by cause (the JSON entries are dicts, plain values otherwise)."""
    rows = con.execute(
        """
        SELECT date_trunc('hour', ts) AS h, detector, level, coalesce(cause, 'none'), count(*)
        FROM signal_events WHERE ts >= $1 AND ts < $2 GROUP BY ALL
        """,
        [start, end],
    ).fetchall()
    levels: dict[datetime, Counter] = {h: Counter() for h in hours(start, end)}
    causes: dict[datetime, Counter] = {h: Counter() for h in levels}
    for h, detector, level, cause, n in rows:
        levels.setdefault(h, Counter())[f"{detector}:{level}"] += int(n)
        causes.setdefault(h, Counter())[cause] += int(n)
    return {
        h: {
            "dagster/row_count": sum(c.values()),
            "v3_spikes": c["V3:SPIKE"],
            "v3_candidates": c["V3:CANDIDATE"],
            "learned_spikes": c["LEARNED:SPIKE"],
            "v1_spikes": c["V1:SPIKE"],
            "by_detector_level": dict(sorted(c.items())),
            "by_cause": dict(sorted(causes[h].items())),
        }
        for h, c in levels.items()
    }


def baseline_hour_stats(con, table: str, start: datetime, end: datetime) -> dict[datetime, dict]:
    """rolling_baselines / seasonal_baselines per hour: rows (and mean coverages if seasonal)."""
    if table not in ("rolling_baselines", "seasonal_baselines"):
        raise ValueError(f"not a baseline table: {table!r}")
    seasonal = table == "seasonal_baselines"
    extra = ", avg(coverage_24h), avg(coverage_7d)" if seasonal else ""
    rows = con.execute(
        f"SELECT date_trunc('hour', ts) AS h, count(*){extra} FROM {table} "
        "WHERE ts >= $1 AND ts < $2 GROUP BY ALL",
        [start, end],
    ).fetchall()
    zero = {"dagster/row_count": 0}
    if seasonal:
        zero |= {"mean_coverage_24h": 0.0, "mean_coverage_7d": 0.0}
    out = {h: dict(zero) for h in hours(start, end)}
    for row in rows:
        meta = out.setdefault(row[0], dict(zero))
        meta["dagster/row_count"] = int(row[1])
        if seasonal:
            meta["mean_coverage_24h"] = round(float(row[2] or 0.0), 4)
            meta["mean_coverage_7d"] = round(float(row[3] or 0.0), 4)
    return out


def table_rows(con, table: str) -> int:
    """Rows of a whole warehouse table (DuckDB counts without a scan of the values)."""
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
