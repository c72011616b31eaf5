"""Cheap inline checks of the detection assets (evaluated in the asset's step, same connection)."""

from datetime import datetime

import dagster as dg

WARN = dg.AssetCheckSeverity.WARN


def _spec(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=dg.AssetKey(asset), description=description)


_COVERS = "One baseline row per raw snapshot of the window."
ROLLING_CHECKS = [_spec("covers_window", "rolling_baselines", _COVERS)]
SEASONAL_CHECKS = [_spec("covers_window", "seasonal_baselines", _COVERS)]
EVENT_CHECKS = [
    _spec("has_unique_events", "signal_events", "At most one event per detector, platform, "
          "category and minute."),
]  # fmt: skip


def covers_window(con, table: str, start: datetime, end: datetime) -> dg.AssetCheckResult:
    raw, stored = con.execute(
        f"""
        SELECT (SELECT count(*) FROM raw_snapshots WHERE ts >= $start AND ts < $end),
               (SELECT count(*) FROM {table} WHERE ts >= $start AND ts < $end)
        """,
        {"start": start, "end": end},
    ).fetchall()[0]
    return dg.AssetCheckResult(
        check_name="covers_window",
        asset_key=dg.AssetKey(table),
        passed=bool(raw == stored),
        severity=WARN,
        metadata={"raw_rows": int(raw), "baseline_rows": int(stored)},
    )


def has_unique_events(con, start: datetime, end: datetime) -> dg.AssetCheckResult:
    duplicates = con.execute(
        """
        SELECT count(*) FROM (
            SELECT detector, platform, category_id, ts FROM signal_events
            WHERE ts >= $start AND ts < $end GROUP BY ALL HAVING count(*) > 1)
        """,
        {"start": start, "end": end},
    ).fetchall()[0][0]
    return dg.AssetCheckResult(
        check_name="has_unique_events",
        asset_key=dg.AssetKey("signal_events"),
        passed=duplicates == 0,
        severity=WARN,
        metadata={"duplicate_keys": int(duplicates)},
    )
