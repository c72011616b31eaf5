"""A backfill warehouse and a live-tick warehouse over the same snapshots (for the tests that
prove a live tick and a backfill store identical rows)."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from streampulse_assets.lib.detection.engine import refresh_all
from streampulse_assets.lib.detection.frame import load_raw
from streampulse_assets.lib.schema import migrate_duckdb


def backfill_and_ticks(folder: Path, raw: pd.DataFrame, start: datetime, edges: list, cfg):
    """(backfill, live) connections: `backfill` ran refresh_all over [start, edges[-1]) at once;
    `live` ran it over [start, edges[0]), then once per [edges[i], edges[i + 1]), each tick's
    rows arriving just before it."""
    end = edges[-1]
    backfill = duckdb.connect(str(folder / "backfill.duckdb"))
    migrate_duckdb(backfill)
    load_raw(backfill, raw[raw["ts"] < end])
    refresh_all(backfill, start, end, cfg)

    live = duckdb.connect(str(folder / "live.duckdb"))
    migrate_duckdb(live)
    load_raw(live, raw[raw["ts"] < edges[0]])
    refresh_all(live, start, edges[0], cfg)
    for lo, hi in itertools.pairwise(edges):
        load_raw(live, raw[(raw["ts"] >= lo) & (raw["ts"] < hi)])
        refresh_all(live, lo, hi, cfg)
    return backfill, live
