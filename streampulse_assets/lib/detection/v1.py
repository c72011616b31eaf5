"""V1, the control detector: current >= 1.5 x the previous minute and delta >= 1000.

Run on every window beside V3, on identical data, so the two can be compared. "Previous" is the
newest row of the previous 60 minutes: after a missing minute it is the minute before the gap,
never a zero. V1 emits SPIKEs only; `growth_ratio` and `delta` are relative to that previous row.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from streampulse_assets.lib.detection.candidates import candidates_sql
from streampulse_assets.lib.detection.config import DetectionConfig


def v1_sql(cfg: DetectionConfig, candidates: str | None = None) -> str:
    """V1 rows from `candidates` (a table of candidates.candidates_sql, which lists the rows where
    V1 fires; default: that query inline)."""
    source = candidates or f"({candidates_sql(cfg)})"
    return f"""
    SELECT platform, category_id, ts, "current", median_60 AS baseline_short, baseline_season,
           season_source, "current" / prev_viewers AS growth_ratio,
           "current" / nullif(baseline_season, 0) AS season_ratio,
           "current" - prev_viewers AS delta, {cfg.v1_min_delta} * unit AS required_delta,
           ago_ts
    FROM (SELECT platform, ts, unnest(v1, recursive := true) FROM {source})
    """


def v1_triggers(
    con, start: datetime, end: datetime, cfg: DetectionConfig, candidates: str | None = None
) -> pd.DataFrame:
    """Rows of [start, end) where V1 fires (before cooldown)."""
    params = {} if candidates else {"start": start, "end": end}
    frame = con.execute(v1_sql(cfg, candidates), params).df()
    frame["level"] = "SPIKE"
    frame["candidate_reasons"] = '["v1_previous_minute"]'
    return frame.sort_values(["platform", "category_id", "ts"], ignore_index=True)
