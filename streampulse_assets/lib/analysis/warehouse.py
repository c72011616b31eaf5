"""Copy analysed queue rows (Postgres) into the warehouse table `analysed_events` (DuckDB).

Incremental and idempotent: rows finished since the warehouse's newest `analysed_at` (minus an
overlap, because `now()` in a concurrent worker's transaction can be slightly older than a row
already copied) are upserted by id. Only DONE rows are copied; FAILED rows stay in Postgres with
their `last_error`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd

from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.duck import registered
from streampulse_assets.lib.timeutil import naive_utc

OVERLAP = timedelta(minutes=10)
_RESULT_FIELDS = {
    "verdict": str,
    "event_kind": str,
    "summary": str,
    "reason": str,
    "confidence": float,
    "cache_key": str,
    "cache_hit": bool,
    "tier": str,
    "tokens_in": int,
    "tokens_out": int,
    "cost_usd": float,
    "latency_ms": float,
}
_COLUMNS = [
    "id", "detector", "platform", "category_id", "category_name", "ts", "level", "cause",
    "analysis_status", "attempts", "last_error", "created_at", "analysed_at", "lead_channel_id",
    *_RESULT_FIELDS, "keywords", "search_queries", "models", "result",
]  # fmt: skip


def fetch_done(pg_conn, since: datetime | None) -> pd.DataFrame:
    """DONE rows analysed at or after `since` (naive UTC; None = all), result flattened."""
    rows = queue.done_since(pg_conn, since)
    records = []
    for row in rows:
        rec = dict(zip(_COLUMNS[:14], row[:14], strict=True))
        result = row[14] if isinstance(row[14], dict) else json.loads(row[14] or "{}")
        for key in ("ts", "created_at", "analysed_at"):
            rec[key] = None if rec[key] is None else naive_utc(rec[key])
        for key, cast in _RESULT_FIELDS.items():
            rec[key] = cast(result[key]) if result.get(key) is not None else None
        for key in ("keywords", "search_queries", "models"):
            rec[key] = json.dumps(result.get(key), ensure_ascii=False)
        rec["result"] = json.dumps(result, ensure_ascii=False)
        records.append(rec)
    return pd.DataFrame.from_records(records, columns=_COLUMNS)


def warehouse_totals(duck_con) -> tuple[int, float | None, float | None]:
    """(rows, mean cache hit, total estimated cost) of the warehouse's `analysed_events`."""
    ((total, hit_rate, cost),) = duck_con.execute(
        "SELECT count(*), avg(cache_hit::INT), sum(cost_usd) FROM analysed_events"
    ).fetchall()
    return total, hit_rate, cost


def copy_to_warehouse(pg_conn, duck_con, *, full: bool = False) -> pd.DataFrame:
    """Upsert newly analysed rows into `analysed_events`; returns the rows copied."""
    watermark = None
    if not full:
        watermark = duck_con.execute("SELECT max(analysed_at) FROM analysed_events").fetchall()[0][
            0
        ]
    frame = fetch_done(pg_conn, None if watermark is None else watermark - OVERLAP)
    if frame.empty:
        return frame
    cols = ", ".join(_COLUMNS)
    with registered(duck_con, "analysed_batch", frame):
        duck_con.execute(
            f"INSERT OR REPLACE INTO analysed_events ({cols}, copied_at) "
            f"SELECT {cols}, now() AT TIME ZONE 'UTC' FROM analysed_batch"
        )
    return frame
