"""One UTC day's scoring inputs from the warehouse: detector events, labels, the exposure scored
and the analysis totals (DuckDB)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from streampulse_assets.lib.quality.exposure import (
    DEFAULT_WARMUP_DAYS,
    scored_exposure,
    warmup_from_spans,
)


class MissingTableError(LookupError):
    """A table the day's scoring reads does not exist yet."""


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
    of it) are left out of event-level scoring; the exposure is the category-days scored.

    Raises MissingTableError when the detection output `signal_events` does not exist yet."""
    spans = con.execute(
        "SELECT platform, category_id, min(ts) AS first, max(ts) AS last FROM raw_snapshots "
        "WHERE ts < ? GROUP BY ALL HAVING max(ts) >= ?",
        [end, start],
    ).df()
    warmup = warmup_from_spans(series_spans_of(spans), warmup_days)
    if not _table_exists(con, "signal_events"):
        raise MissingTableError(
            "warehouse table signal_events does not exist yet (detection not run)"
        )
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
