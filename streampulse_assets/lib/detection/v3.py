"""V3, the StreamPulse detector: short median baseline, seasonal check, dynamic minimum delta.

SPIKE when growth over the 60-minute median >= 1.5 (major: top 12 of the platform by seasonal
baseline) or 1.7, season ratio >= 1.2 and delta >= max(1500, 0.3 x seasonal baseline); CANDIDATE
for notable rises (growth >= 1.2 and delta >= 500, or top-N of the minute by delta or by ratio).
This module finds the triggered rows set-wise; causes.py classifies them and decides the level.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from streampulse_assets.lib.detection.config import DetectionConfig
from streampulse_assets.lib.detection.features import features_sql, min_short_points


def v3_sql(cfg: DetectionConfig) -> str:
    c = cfg
    return f"""
    WITH m AS ({features_sql(cfg)}),
    g AS (
        SELECT *,
            "current" / greatest(median_60, {c.baseline_floor} * unit) AS growth_ratio,
            "current" / greatest(baseline_season, {c.baseline_floor} * unit) AS season_ratio,
            "current" - median_60 AS delta,
            greatest({c.min_delta} * unit, {c.season_delta_frac} * baseline_season)
                AS required_delta,
            greatest({c.person_min_delta} * unit, {c.person_delta_frac} * baseline_season)
                AS person_required_delta,
            rank() OVER (PARTITION BY platform, ts ORDER BY baseline_season DESC)
                <= {c.major_top_n} AS is_major
        FROM m
        WHERE median_60 IS NOT NULL AND n_60 >= {min_short_points(cfg)}
    ),
    f AS (
        SELECT *,
            coalesce(growth_ratio >= CASE WHEN is_major THEN {c.growth_major}
                                          ELSE {c.growth_minor} END
                     AND season_ratio >= {c.season_ratio_min}
                     AND delta >= required_delta, false) AS spike_ok,
            coalesce(growth_ratio >= {c.candidate_growth}
                     AND delta >= {c.candidate_min_delta} * unit, false) AS rise_ok,
            coalesce(growth_ratio >= {c.candidate_top_min_growth}
                     AND delta >= {c.candidate_min_delta} * unit, false) AS top_ok
        FROM g
    ),
    r AS (
        SELECT *,
            CASE WHEN top_ok THEN row_number() OVER (
                PARTITION BY platform, ts, top_ok ORDER BY delta DESC, category_id) END
                AS delta_rank,
            CASE WHEN top_ok THEN row_number() OVER (
                PARTITION BY platform, ts, top_ok ORDER BY growth_ratio DESC, category_id) END
                AS ratio_rank
        FROM f
    )
    SELECT platform, category_id, ts, "current", median_60 AS baseline_short, baseline_season,
           season_source, growth_ratio, season_ratio, delta, required_delta,
           person_required_delta, is_major, ago_ts, viewers_60_ago, unit, spike_ok, rise_ok,
           coalesce(delta_rank <= {c.candidate_top_n}, false) AS top_delta,
           coalesce(ratio_rank <= {c.candidate_top_n}, false) AS top_ratio
    FROM r
    WHERE spike_ok OR rise_ok OR delta_rank <= {c.candidate_top_n}
       OR ratio_rank <= {c.candidate_top_n}
    """


def v3_triggers(con, start: datetime, end: datetime, cfg: DetectionConfig) -> pd.DataFrame:
    """Rows of [start, end) meeting a V3 SPIKE or CANDIDATE rule (before causes and cooldown)."""
    frame = con.execute(v3_sql(cfg), {"start": start, "end": end}).df()
    return frame.sort_values(["platform", "category_id", "ts"], ignore_index=True)
