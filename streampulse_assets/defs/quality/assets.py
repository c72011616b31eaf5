from datetime import datetime

import dagster as dg
import pandas as pd

from streampulse_assets.defs.partition_metadata import partitions_span
from streampulse_assets.defs.partitions import daily_partitions
from streampulse_assets.defs.resources import PostgresResource, WarehouseResource
from streampulse_assets.lib.quality import labels
from streampulse_assets.lib.quality.day_data import MissingTableError, load_day
from streampulse_assets.lib.quality.report import build_report, render_markdown
from streampulse_assets.lib.settings import QualitySettings, get_settings


def gather_labels(start: datetime, end: datetime, postgres: PostgresResource, log) -> pd.DataFrame:
    """Labels from every source overlapping [start, end), with a `source` column."""
    with postgres.connect() as conn:
        try:
            return labels.gather_labels(
                start,
                end,
                conn,
                sources=get_settings().sources.names,
                label_files=QualitySettings().label_files,
                log=log,
            )
        except labels.LabelSourceError as exc:
            raise dg.Failure(str(exc)) from exc


@dg.asset(
    partitions_def=daily_partitions,
    pool="duckdb",
    group_name="quality",
    kinds={"duckdb", "postgres"},
)
def detection_labels(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource, postgres: PostgresResource
) -> dg.MaterializeResult:
    """Ground-truth windows for one UTC day: the simulator's injected events (when the simulator
    source is configured), the replay label files named in STREAMPULSE_LABEL_FILES (e.g. NAB
    windows) and operator verdicts from `streampulse label`. Every label overlapping the day is
    written to the `detection_labels` table under that day, replacing the day's previous rows, so
    re-running is idempotent and a bad label file fails the run without touching stored labels."""
    start, end = partitions_span(context)  # the day, naive UTC
    found = gather_labels(start, end, postgres, context.log)
    with duckdb.get_connection() as con:
        rows = labels.write_day_labels(con, start.date(), found)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "by_source": dg.MetadataValue.json(rows["source"].value_counts().to_dict()),
            "by_kind": dg.MetadataValue.json(rows["kind"].value_counts().to_dict()),
        }
    )


def quality_metadata(report: dict, events: pd.DataFrame, analysis) -> dict:
    """Plot-friendly numbers (omitting undefined ones) plus the Markdown report."""
    meta: dict = {}
    for name, d in report["detectors"].items():
        p = name.lower()
        values = {
            f"{p}_precision": d["precision"]["value"],
            f"{p}_recall": d["recall"]["value"],
            f"{p}_f1": d["f1"]["value"],
            f"{p}_false_alarms_per_category_day": d["false_alarms_per_category_day"],
            f"{p}_delay_median_min": d["delay_minutes"]["median"],
            f"{p}_delay_p90_min": d["delay_minutes"]["p90"],
            f"{p}_candidate_coverage": d["candidate_coverage"]["value"],
        }
        meta.update({k: dg.MetadataValue.float(v) for k, v in values.items() if v is not None})
        meta[f"{p}_alerts"] = dg.MetadataValue.int(d["alerts"])
        mine = events[events["detector"] == name] if len(events) else events
        meta[f"{p}_events_per_day"] = dg.MetadataValue.int(len(mine))
        meta[f"{p}_windows_caught"] = dg.MetadataValue.int(d["windows_caught"])
        # CANDIDATE rows: V3's weaker signals; LEARNED's rises that are one streamer going live
        meta[f"{p}_candidates"] = dg.MetadataValue.int(
            int((mine["level"] == "CANDIDATE").sum()) if len(mine) else 0
        )
    meta["windows"] = dg.MetadataValue.int(report["detectors"]["V3"]["windows"])
    meta["category_days"] = dg.MetadataValue.float(report["meta"]["category_days"])
    if report.get("warmup"):
        meta["warmup_days"] = dg.MetadataValue.float(float(report["warmup"].get("days") or 0))
    pvalue = report["comparison"]["mcnemar"]["pvalue"]
    if pvalue is not None:
        meta["mcnemar_pvalue"] = dg.MetadataValue.float(pvalue)
    if analysis is not None and analysis[0]:
        done, known, hits, cost = analysis
        meta["analysed_events"] = dg.MetadataValue.int(int(done))
        if known:
            meta["cache_hit_rate"] = dg.MetadataValue.float(hits / known)
        meta["llm_cost_usd_per_day"] = dg.MetadataValue.float(float(cost or 0.0))
    return meta


@dg.asset(
    partitions_def=daily_partitions,
    pool="duckdb",
    group_name="quality",
    kinds={"duckdb", "python"},
    deps=[dg.AssetKey("signal_events"), dg.AssetKey("detection_labels")],
)
def detection_quality(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    """Daily detection quality of V1, V3 and LEARNED: event-level precision and recall with
    Wilson 95% intervals, F1, false alarms per category-day, median and p90 detection delay,
    candidate coverage and McNemar's exact test on the windows each detector caught, scored from
    the day's signal_events against the day's detection_labels. Each series' first 7 days
    (before its seasonal baseline exists) are left out, and false alarms are divided by the
    category-days actually scored. When analysis has run, the day's cache hit rate and LLM cost
    come from analysed_events. Numbers are materialisation metadata, so the UI plots them per
    day; the Markdown report is attached too."""
    start, end = partitions_span(context)  # the day, naive UTC
    with duckdb.get_connection() as con:
        days = QualitySettings().warmup_days
        try:
            events, day_labels, expo, analysis, warmup = load_day(con, start, end, days)
        except MissingTableError as exc:
            raise dg.Failure(str(exc)) from exc
    report = build_report(
        events,
        day_labels,
        expo,
        meta={"day": start.date().isoformat()},
        n_resamples=999,
        warmup=warmup,
    )
    meta = quality_metadata(report, events, analysis)
    meta["report"] = dg.MetadataValue.md(render_markdown(report, f"Detection quality {start:%F}"))
    meta["report_json"] = dg.MetadataValue.json(report)
    return dg.MaterializeResult(metadata=meta)


# Both daily assets are requested by sensors.quality_after_detection_sensor whenever a complete
# day's signal_events change (bootstrap, backfills, and each day after it ends). Dagster's
# default automation sensor starts STOPPED; this one runs the quality checks after each scored
# day (and the backlog check every 15 minutes) from the first `streampulse dev`.
quality_automation_sensor = dg.AutomationConditionSensorDefinition(
    "quality_automation_sensor",
    target=dg.AssetSelection.groups("quality"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[detection_labels, detection_quality], sensors=[quality_automation_sensor]
    )
