"""Cheap inline checks of the detection assets (evaluated in the asset's step, same connection)."""

from datetime import datetime

import dagster as dg

from streampulse_assets.lib.detection.window_checks import duplicate_event_keys, window_coverage

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
    raw, stored = window_coverage(con, table, start, end)
    return dg.AssetCheckResult(
        check_name="covers_window",
        asset_key=dg.AssetKey(table),
        passed=raw == stored,
        severity=WARN,
        metadata={"raw_rows": raw, "baseline_rows": stored},
    )


def has_unique_events(con, start: datetime, end: datetime) -> dg.AssetCheckResult:
    duplicates = duplicate_event_keys(con, start, end)
    return dg.AssetCheckResult(
        check_name="has_unique_events",
        asset_key=dg.AssetKey("signal_events"),
        passed=duplicates == 0,
        severity=WARN,
        metadata={"duplicate_keys": duplicates},
    )
