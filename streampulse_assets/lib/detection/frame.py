"""Canonical snapshot frames -> an in-memory warehouse the engine can run on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from streampulse_assets.lib.duck import registered
from streampulse_assets.lib.timeutil import datetime64_to_minutes

REQUIRED = ["platform", "category_id", "ts", "viewers"]


class SnapshotFrameError(ValueError):
    """The snapshot frame cannot be used; the message says why."""


def normalise(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Canonical columns, naive UTC minutes, sorted by time (duplicate keys are refused later)."""
    missing = [c for c in REQUIRED if c not in snapshots.columns]
    if missing:
        raise SnapshotFrameError(f"snapshot frame lacks column(s): {', '.join(missing)}")
    frame = snapshots.copy()
    ts = pd.to_datetime(frame["ts"], utc=True, errors="coerce")
    if ts.isna().any():
        raise SnapshotFrameError(f"{int(ts.isna().sum())} row(s) have an unreadable ts")
    frame["ts"] = ts.dt.tz_convert(None).dt.floor("min").astype("datetime64[us]")
    viewers = pd.to_numeric(frame["viewers"], errors="coerce")
    if viewers.isna().any():
        raise SnapshotFrameError(f"{int(viewers.isna().sum())} row(s) have no numeric viewers")
    frame["viewers"] = viewers.round().astype("int64")
    frame["platform"] = frame["platform"].astype(str)
    frame["category_id"] = frame["category_id"].astype(str)
    if "category_name" not in frame:
        frame["category_name"] = frame["category_id"]
    frame["open_lives"] = (
        pd.to_numeric(frame["open_lives"], errors="coerce").astype("Int64")
        if "open_lives" in frame
        else pd.Series(pd.NA, index=frame.index, dtype="Int64")
    )
    if "top_streamers" not in frame:
        frame["top_streamers"] = None
    cols = ["platform", "category_id", "ts", "category_name", "viewers", "open_lives"]
    frame = frame[[*cols, "top_streamers"]]
    order = np.argsort(frame["ts"].to_numpy(), kind="stable")  # time order: tight zone maps
    return frame.iloc[order].reset_index(drop=True)


def infer_step(frame: pd.DataFrame) -> int:
    """Typical sampling step in minutes (median gap between a series' consecutive rows)."""
    codes, _ = pd.factorize(frame["platform"] + "\x1f" + frame["category_id"])
    minutes = datetime64_to_minutes(frame["ts"].to_numpy())
    order = np.lexsort((minutes, codes))
    same = np.diff(codes[order]) == 0
    gaps = np.diff(minutes[order])[same]
    return step_from_gaps(gaps[gaps > 0])


def step_from_gaps(gaps: np.ndarray) -> int:
    """The sampling step of positive gaps between consecutive rows of a series: their median."""
    return max(1, int(np.round(np.median(gaps)))) if len(gaps) else 1


def load_raw(con, frame: pd.DataFrame, source: str = "frame") -> int:
    """Insert a normalised frame into raw_snapshots."""
    with registered(con, "_detection_frame", frame):
        con.execute(
            "INSERT INTO raw_snapshots (platform, category_id, ts, category_name, viewers, "
            "open_lives, top_streamers, source) SELECT platform, category_id, ts, category_name, "
            "viewers, open_lives, top_streamers, ? FROM _detection_frame",
            [source],
        )
    return len(frame)
