from datetime import timedelta

import dagster as dg

from streampulse_assets.defs.resources import PostgresResource
from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.settings import QualitySettings

QUALITY = dg.AssetKey("detection_quality")
ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
AFTER_QUALITY = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.in_progress()
).with_label("after detection_quality updates")
EVERY_15_MINUTES = dg.AutomationCondition.cron_tick_passed("*/15 * * * *").since_last_handled()


def latest_quality(context) -> tuple[str | None, dict]:
    """(partition, plain metadata values) of the newest detection_quality materialisation."""
    event = context.instance.get_latest_materialization_event(QUALITY)
    if event is None or event.asset_materialization is None:
        return None, {}
    mat = event.asset_materialization
    return mat.partition, {k: getattr(v, "value", v) for k, v in mat.metadata.items()}


def _missing(severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False, severity=severity, description="detection_quality has no materialisation"
    )


def _floor_check(context, metric: str, count_key: str, floor: float, minimum: int, what: str):
    partition, meta = latest_quality(context)
    if partition is None:
        return _missing(ERROR)
    value, count = meta.get(metric), int(meta.get(count_key, 0))
    info = {"partition": partition, metric: value, count_key: count, "floor": floor}
    if value is None or count < minimum:
        return dg.AssetCheckResult(
            passed=True,
            metadata=info,
            description=f"{partition}: only {count} {what} (< {minimum}); not judged",
        )
    return dg.AssetCheckResult(
        passed=value >= floor,
        severity=ERROR,
        metadata=info,
        description=f"{partition}: {metric} {value:.3f} vs floor {floor:.2f}",
    )


@dg.asset_check(asset=QUALITY, automation_condition=AFTER_QUALITY)
def v3_precision_above_floor(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """V3 precision of the newest quality day is at least the configured floor (ERROR)."""
    t = QualitySettings()
    return _floor_check(
        context, "v3_precision", "v3_alerts", t.v3_precision_floor, t.min_alerts, "V3 alerts"
    )


@dg.asset_check(asset=QUALITY, automation_condition=AFTER_QUALITY)
def v3_recall_above_floor(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """V3 recall of the newest quality day is at least the configured floor (ERROR)."""
    t = QualitySettings()
    return _floor_check(
        context, "v3_recall", "windows", t.v3_recall_floor, t.min_windows, "labelled windows"
    )


@dg.asset_check(asset=QUALITY, automation_condition=AFTER_QUALITY)
def v3_f1_not_worse_than_v1(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """V3's F1 is not below V1's on the newest quality day (WARN)."""
    partition, meta = latest_quality(context)
    if partition is None:
        return _missing(WARN)
    tolerance = QualitySettings().f1_tolerance
    v1, v3 = meta.get("v1_f1"), meta.get("v3_f1")
    info = {"partition": partition, "v1_f1": v1, "v3_f1": v3, "tolerance": tolerance}
    if v1 is None or v3 is None:
        return dg.AssetCheckResult(passed=True, metadata=info, description="F1 undefined")
    return dg.AssetCheckResult(
        passed=v3 >= v1 - tolerance,
        severity=WARN,
        metadata=info,
        description=f"{partition}: V3 F1 {v3:.3f} vs V1 F1 {v1:.3f}",
    )


@dg.asset_check(asset=QUALITY, automation_condition=AFTER_QUALITY)
def daily_event_volume_in_band(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """V3 emitted neither too few (silence) nor too many (a storm) events that day (WARN)."""
    partition, meta = latest_quality(context)
    if partition is None:
        return _missing(WARN)
    t = QualitySettings()
    events = int(meta.get("v3_events_per_day", 0))
    low, high = t.events_per_day_min, t.events_per_day_max
    verdict = "silence" if events < low else "storm" if events > high else "in band"
    return dg.AssetCheckResult(
        passed=low <= events <= high,
        severity=WARN,
        metadata={"partition": partition, "v3_events": events, "min": low, "max": high},
        description=f"{partition}: {events} V3 events ({verdict}; band {low}–{high})",
    )


@dg.asset_check(asset=QUALITY, automation_condition=EVERY_15_MINUTES)
def analysis_backlog_is_fresh(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource
) -> dg.AssetCheckResult:
    """No queued event has waited for analysis (PENDING) longer than the configured age (WARN)."""
    max_age = timedelta(minutes=QualitySettings().backlog_max_age_minutes)
    with postgres.connect() as conn:
        stale, oldest = queue.stale_pending(conn, max_age)
    oldest_min = round(float(oldest) / 60, 1) if oldest is not None else 0.0
    return dg.AssetCheckResult(
        passed=stale == 0,
        severity=WARN,
        metadata={"stale_pending": int(stale), "oldest_pending_minutes": oldest_min},
        description=f"{stale} PENDING event(s) older than {max_age}; oldest {oldest_min} min",
    )


QUALITY_CHECKS = [
    v3_precision_above_floor,
    v3_recall_above_floor,
    v3_f1_not_worse_than_v1,
    daily_event_volume_in_band,
    analysis_backlog_is_fresh,
]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=QUALITY_CHECKS)
