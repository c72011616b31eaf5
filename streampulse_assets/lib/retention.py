"""Retention: prune warehouse tables, landing payload files and Postgres rows older than N days.

Pure functions, each returning the counts it removed. A retention of 0 days (or less) means "keep
forever". `raw_snapshots` must keep at least 8 days: the seasonal baseline reads the same minute
7 days earlier with a 2-hour window, so shorter retention silently degrades detection to fallbacks.
The days come from the settings tree (lib/settings/retention.py, STREAMPULSE_RETENTION_*_DAYS
and STREAMPULSE_RUN_RETENTION_DAYS); lib/settings/configs.retention_policy builds the policy.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.timeutil import aware_utc, naive_utc, naive_utc_now

WAREHOUSE_RETENTION_DAYS = {
    "raw_snapshots": 35,
    "rolling_baselines": 14,
    "seasonal_baselines": 14,
    "signal_events": 365,
    "analysed_events": 365,
    "learned_scores": 14,  # the learned detector reads 7 days back (seasonal moves)
    "learned_state": 14,  # its error model per series and hour
}
TIME_COLUMNS = {"learned_state": "hour"}  # tables whose time column is not `ts`
MIN_RAW_SNAPSHOT_DAYS = 8  # 7 days + 2 hours for the seasonal baseline, rounded up
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class RetentionPolicy:
    warehouse_days: dict[str, int] = field(default_factory=lambda: dict(WAREHOUSE_RETENTION_DAYS))
    landing_days: int = 14
    pg_events_days: int = 365
    alert_deliveries_days: int = 90
    run_days: int = 7

    def __post_init__(self) -> None:
        raw = self.warehouse_days.get("raw_snapshots", 0)
        if 0 < raw < MIN_RAW_SNAPSHOT_DAYS:
            raise ValueError(
                f"raw_snapshots retention {raw} d is shorter than the {MIN_RAW_SNAPSHOT_DAYS} d "
                "the seasonal baseline (7 d + 2 h) needs"
            )
        for table in self.warehouse_days:
            if not _IDENT.match(table):
                raise ValueError(f"not a table name: {table!r}")


def prune_warehouse(
    con, days_by_table: Mapping[str, int], *, now: datetime | None = None, ts_column: str = "ts"
) -> dict[str, int]:
    """DELETE rows with `ts` older than each table's retention; returns rows removed per table.

    Tables (or the `ts` column) that do not exist yet are left out of the result; 0 days = keep.
    """
    now = naive_utc(now or naive_utc_now())
    removed: dict[str, int] = {}
    for table, days in days_by_table.items():
        if days <= 0 or not _IDENT.match(table):
            continue
        column = TIME_COLUMNS.get(table, ts_column)
        found = con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = ? "
            "AND column_name = ? AND table_schema = current_schema()",
            [table, column],
        ).fetchone()[0]
        if not found:
            continue
        cutoff = (now - timedelta(days=days)).replace(second=0, microsecond=0)
        row = con.execute(f'DELETE FROM "{table}" WHERE "{column}" < ?', [cutoff]).fetchone()
        removed[table] = int(row[0]) if row else 0
    if any(removed.values()):
        # Lets DuckDB reuse the freed blocks; if another transaction is open, a later one does it.
        with contextlib.suppress(Exception):
            con.execute("CHECKPOINT")
    return removed


def prune_landing(root: Path | str, days: int, *, now: datetime | None = None) -> dict[str, int]:
    """Remove landing date folders (`.../YYYY-MM-DD/`) whose whole day is older than `days`.

    Only folders named like a date are touched, at any depth under `root` (layout
    `<root>/<platform>/<YYYY-MM-DD>/<HHMM>.json.zst`). Returns files, bytes and folders removed.
    """
    result = {"files": 0, "bytes": 0, "folders": 0}
    root = Path(root)
    if days <= 0 or not root.is_dir():
        return result
    cutoff = (naive_utc(now or naive_utc_now()) - timedelta(days=days)).date()
    expired: list[Path] = []
    for parent, dirnames, _files in os.walk(root):  # never descends into date folders
        for name in list(dirnames):
            if not _DATE_DIR.match(name):
                continue
            dirnames.remove(name)
            try:
                day = date.fromisoformat(name)
            except ValueError:
                continue
            if day + timedelta(days=1) <= cutoff:  # every minute of that day is past retention
                expired.append(Path(parent) / name)
    for folder in sorted(expired):
        if folder.is_symlink():
            continue
        for file in folder.rglob("*"):
            if file.is_file():
                result["files"] += 1
                result["bytes"] += file.stat().st_size
        shutil.rmtree(folder)
        result["folders"] += 1
    return result


def prune_postgres(
    pg_conn, *, events_days: int, deliveries_days: int, now: datetime | None = None
) -> dict[str, int]:
    """Delete finished queue rows and alert deliveries older than their retention; commits.

    Analysis queue rows go only when DONE, FAILED or SKIPPED (never PENDING/IN_PROGRESS work) and
    not labelled by an operator (`operator_feedback` is ground truth, kept with its event); their
    delivery rows go with them (FK cascade). A delivery row goes when it and its event are
    older than `deliveries_days`; keep that longer than the alert gate's max age so a pruned
    delivery can never make its event look undelivered.
    """
    now_sql = None
    if now is not None:
        now_sql = aware_utc(now)
    removed = {"alert_deliveries": 0, "analysis_queue": 0}
    if deliveries_days > 0:
        removed["alert_deliveries"] = queue.prune_deliveries(pg_conn, deliveries_days, now_sql)
    if events_days > 0:
        removed["analysis_queue"] = queue.prune_finished(pg_conn, events_days, now_sql)
    pg_conn.commit()
    return removed
