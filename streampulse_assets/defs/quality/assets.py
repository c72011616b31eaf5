import json
import os
from datetime import datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from streampulse_assets.defs.partition_metadata import partitions_span
from streampulse_assets.defs.partitions import daily_partitions
from streampulse_assets.defs.quality.checks import QualityThresholds
from streampulse_assets.defs.resources import PostgresResource, WarehouseResource
from streampulse_assets.lib.quality.exposure import (
    DEFAULT_WARMUP_DAYS,
    scored_exposure,
    warmup_from_spans,
)
from streampulse_assets.lib.quality.feedback import labels_from_feedback
from streampulse_assets.lib.quality.metrics import LabelError, labels_frame
from streampulse_assets.lib.quality.report import build_report, render_markdown
from streampulse_assets.lib.settings import get_settings

LABEL_FILES_ENV = "STREAMPULSE_LABEL_FILES"
_LABEL_COLUMNS = ["platform", "category_id", "start", "end", "kind"]


def _simulator_labels(start: datetime, end: datetime, log) -> list[dict]:
    sources = {s.strip().lower() for s in get_settings().sources.split(",")}
    if "simulator" not in sources:
        return []
    try:
        from streampulse_assets.lib.sources.simulator import Simulator
    except ImportError:
        log.warning("simulator source configured but lib/sources/simulator.py is not available")
        return []
    return list(Simulator.from_settings().labels(start, end))


def _file_labels() -> list[dict]:
    labels: list[dict] = []
    for name in filter(None, (p.strip() for p in os.environ.get(LABEL_FILES_ENV, "").split(","))):
        try:
            items = json.loads(Path(name).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise dg.Failure(f"{LABEL_FILES_ENV}: cannot read label file {name}: {exc}") from exc
        if not isinstance(items, list):
            raise dg.Failure(f"{LABEL_FILES_ENV}: {name} is not a JSON list of label windows")
        labels += items
    return labels


def gather_labels(start: datetime, end: datetime, postgres: PostgresResource, log) -> pd.DataFrame:
    """Labels from every source overlapping [start, end), with a `source` column."""
    parts = []
    with postgres.connect() as conn:
        operator = labels_from_feedback(conn)
    sources = {
        "simulator": _simulator_labels(start, end, log),
        "file": _file_labels(),
        "operator": operator,
    }
    for source, items in sources.items():
        try:
            frame = labels_frame(items)
        except LabelError as exc:
            raise dg.Failure(f"bad {source} label: {exc}") from exc
        parts.append(frame.assign(source=source))
    labels = pd.concat(parts, ignore_index=True)
    overlapping = (labels["start"] < pd.Timestamp(end)) & (labels["end"] >= pd.Timestamp(start))
    return labels[overlapping].drop_duplicates().reset_index(drop=True)


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
    labels = gather_labels(start, end, postgres, context.log)
    rows = labels.rename(columns={"start": "start_ts", "end": "end_ts"}).assign(day=start.date())
    rows = rows[["day", "platform", "category_id", "start_ts", "end_ts", "kind", "source"]]
    with duckdb.get_connection() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM detection_labels WHERE day = ?", [start.date()])
            con.register("new_labels", rows)
            con.execute(
                "INSERT INTO detection_labels (day, platform, category_id, start_ts, end_ts, "
                "kind, source) SELECT * FROM new_labels"
            )
            con.unregister("new_labels")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "by_source": dg.MetadataValue.json(rows["source"].value_counts().to_dict()),
            "by_kind": dg.MetadataValue.json(rows["kind"].value_counts().to_dict()),
        }
    )


def series_spans_of(spans: pd.DataFrame) -> pd.DataFrame:
    """The per-series first/last minutes as lib/quality/exposure expects them."""
    out = spans.copy()
    for col in ("platform", "category_id"):
        out[col] = out[col].astype(str)
    for col in ("first", "last"):
        out[col] = pd.to_datetime(out[col]).dt.floor("min")
    return out[["platform", "category_id", "first", "last"]]


def _table_exists(con, name: str) -> bool:
    sql = "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
    return con.execute(sql, [name]).fetchone()[0] > 0


def load_day(con, start: datetime, end: datetime, warmup_days: float = DEFAULT_WARMUP_DAYS):
    """(events, labels, exposure, analysis, warmup) of one day from the warehouse. Each series'
    first `warmup_days` (counted from its first stored minute: the seasonal baseline needs 7 days
    of it) are left out of event-level scoring; the exposure is the category-days scored."""
    spans = con.execute(
        "SELECT platform, category_id, min(ts) AS first, max(ts) AS last FROM raw_snapshots "
        "WHERE ts < ? GROUP BY ALL HAVING max(ts) >= ?",
        [end, start],
    ).df()
    warmup = warmup_from_spans(series_spans_of(spans), warmup_days)
    if not _table_exists(con, "signal_events"):
        raise dg.Failure("warehouse table signal_events does not exist yet (detection not run)")
    events = con.execute(
        "SELECT detector, platform, category_id, ts, level FROM signal_events "
        "WHERE ts >= ? AND ts < ?",
        [start, end],
    ).df()
    labels = con.execute(
        'SELECT platform, category_id, start_ts AS start, end_ts AS "end", kind '
        "FROM detection_labels WHERE day = ?",
        [start.date()],
    ).df()
    analysis = None
    if _table_exists(con, "analysed_events"):
        analysis = con.execute(
            "SELECT count(*), count(cache_hit), count(*) FILTER (WHERE cache_hit), sum(cost_usd) "
            "FROM analysed_events WHERE ts >= ? AND ts < ? AND analysis_status = 'DONE'",
            [start, end],
        ).fetchone()
    expo = scored_exposure(warmup, start, end)
    return events, labels.drop_duplicates(), expo, analysis, warmup


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
        meta[f"{p}_events_per_day"] = dg.MetadataValue.int(
            int((events["detector"] == name).sum()) if len(events) else 0
        )
        meta[f"{p}_windows_caught"] = dg.MetadataValue.int(d["windows_caught"])
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
        days = QualityThresholds().warmup_days
        events, labels, expo, analysis, warmup = load_day(con, start, end, days)
    report = build_report(
        events,
        labels,
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
