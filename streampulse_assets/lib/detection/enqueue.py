"""Hand the primary detector's events to the Postgres analysis queue (`analysis_queue`,
lib/analysis/queue/), exactly once.

Only SPIKE/CANDIDATE rows of the primary detector (V3 unless `STREAMPULSE_PRIMARY_DETECTOR` says
LEARNED) are queued; the others run in shadow. CATEGORY_ADOPTION rows and LEARNED's going-live
CANDIDATEs (causes.is_going_live) are stored as SKIPPED: one streamer moving in, or going live,
needs no paid explanation. The unique key (detector,
platform, category_id, ts) with ON CONFLICT DO NOTHING makes re-runs and overlapping ticks safe.
With `series` (lib/detection/series.event_series), each row's evidence also carries the last hours
of viewers and baselines for its chart, captured now because the analysis never reads DuckDB.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.detection.causes import ADOPTION, is_going_live
from streampulse_assets.lib.detection.series import series_key
from streampulse_assets.lib.timeutil import aware_utc

EVIDENCE_FIELDS = [
    "category_name", "current", "baseline_short", "baseline_season", "season_source",
    "growth_ratio", "season_ratio", "delta", "required_delta", "is_major", "contribution_ratio",
    "dominance_index", "market_proof", "candidate_reasons", "open_lives", "open_lives_before",
    "profile",
]  # fmt: skip


@dataclass(frozen=True)
class EnqueueStats:
    offered: int = 0  # SPIKE/CANDIDATE rows of the primary detector considered
    inserted: int = 0  # new queue rows (pending + skipped)
    pending: int = 0
    skipped: int = 0  # CATEGORY_ADOPTION and going live, stored as SKIPPED
    duplicates: int = 0  # already queued earlier
    ignored: int = 0  # rows of the shadow detectors, never queued


def _plain(value):
    """JSON-safe Python value (numpy scalars, NaN/NA -> None)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _json_list(text) -> list:
    if _plain(text) is None:
        return []
    try:
        parsed = json.loads(text)
    except (TypeError, ValueError):
        return []
    return parsed if isinstance(parsed, list) else []


def evidence(row: dict) -> dict:
    """The queue row's evidence JSON (contracts.md), from one events-frame row."""
    out = {key: _plain(row.get(key)) for key in EVIDENCE_FIELDS}
    out["candidate_reasons"] = _json_list(row.get("candidate_reasons"))
    out["top_streamers"] = _json_list(row.get("top_streamers"))
    return out


def enqueue_events(
    pg_conn, events: pd.DataFrame, series: dict | None = None, detector: str = "V3"
) -> EnqueueStats:
    """Insert the `detector` SPIKE/CANDIDATE rows of `events` into the queue; commits. Returns
    counts.

    `series` maps (platform, category_id, ts) to a chart series (`event_series`); a row found in
    it gets `evidence["series"]`. Rows already queued keep their evidence (DO NOTHING).
    """
    if events is None or events.empty:
        return EnqueueStats()
    mask = (events["detector"] == detector) & events["level"].isin(["SPIKE", "CANDIDATE"])
    rows = events[mask].to_dict("records")
    values = []
    for r in rows:
        skip = r.get("cause") == ADOPTION or is_going_live(r.get("candidate_reasons"))
        status = "SKIPPED" if skip else "PENDING"
        ev = evidence(r)
        if series:
            found = series.get(series_key(r["platform"], r["category_id"], r["ts"]))
            if found:
                ev["series"] = found
        values.append(
            (
                detector, str(r["platform"]), str(r["category_id"]), _plain(r.get("category_name")),
                aware_utc(pd.Timestamp(r["ts"]).to_pydatetime()), r["level"],
                _plain(r.get("cause")),
                json.dumps(ev, ensure_ascii=False, separators=(",", ":")), status,
            )
        )  # fmt: skip
    statuses = queue.insert_events(pg_conn, values)
    return EnqueueStats(
        offered=len(values),
        inserted=len(statuses),
        pending=statuses.count("PENDING"),
        skipped=statuses.count("SKIPPED"),
        duplicates=len(values) - len(statuses),
        ignored=int((~mask).sum()),
    )
