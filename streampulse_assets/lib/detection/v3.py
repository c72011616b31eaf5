"""V3, the StreamPulse detector: short median baseline, seasonal check, dynamic minimum delta.

SPIKE when growth over the 60-minute median >= 1.5 (major: top 12 of the platform by seasonal
baseline) or 1.7, season ratio >= 1.2 and delta >= max(1500, 0.3 x seasonal baseline); CANDIDATE
for notable rises (growth >= 1.2 and delta >= 500, or top-N of the minute by delta or by ratio).
This module finds the triggered rows set-wise; causes.py classifies them and decides the level.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from streampulse_assets.lib.detection.candidates import candidates_sql
from streampulse_assets.lib.detection.config import DetectionConfig


def v3_sql(cfg: DetectionConfig, candidates: str | None = None) -> str:
    """V3 triggers from `candidates` (a table of candidates.candidates_sql; default: that query
    inline).

    The candidates hold every row that can meet a rule (a SPIKE at the lower of the two growth
    thresholds, a rise or a top-N candidate; the last two do not depend on is_major) with its
    minute's major floor, so the rules, and the top-N ranks among the top_ok rows, see exactly
    the rows they would over every features row.
    """
    c = cfg
    source = candidates or f"({candidates_sql(cfg)})"
    return f"""
    WITH u AS (SELECT platform, ts, major_floor, unnest(v3, recursive := true) FROM {source}),
    f AS (
        SELECT *, baseline_season >= major_floor AS is_major,
            coalesce(growth_ratio >= CASE WHEN baseline_season >= major_floor
                                          THEN {c.growth_major} ELSE {c.growth_minor} END
                     AND season_ratio >= {c.season_ratio_min}
                     AND delta >= required_delta, false) AS spike_ok
        FROM u
    ),
    t AS (SELECT * FROM f WHERE spike_ok OR rise_ok OR top_ok),
    r AS (
        SELECT *,
            row_number() OVER (PARTITION BY platform, ts ORDER BY delta DESC, category_id)
                AS delta_rank,
            row_number() OVER (PARTITION BY platform, ts ORDER BY growth_ratio DESC, category_id)
                AS ratio_rank
        FROM t WHERE top_ok
    )
    SELECT t.platform, t.category_id, t.ts, t."current", t.median_60 AS baseline_short,
           t.baseline_season, t.season_source, t.growth_ratio, t.season_ratio, t.delta,
           t.required_delta, t.person_required_delta, t.is_major, t.ago_ts, t.viewers_60_ago,
           t.unit, t.spike_ok, t.rise_ok,
           coalesce(r.delta_rank <= {c.candidate_top_n}, false) AS top_delta,
           coalesce(r.ratio_rank <= {c.candidate_top_n}, false) AS top_ratio
    FROM t LEFT JOIN r ON r.platform = t.platform AND r.category_id = t.category_id AND r.ts = t.ts
    WHERE t.spike_ok OR t.rise_ok OR r.delta_rank <= {c.candidate_top_n}
       OR r.ratio_rank <= {c.candidate_top_n}
    """


def v3_triggers(
    con, start: datetime, end: datetime, cfg: DetectionConfig, candidates: str | None = None
) -> pd.DataFrame:
    """Rows of [start, end) meeting a V3 SPIKE or CANDIDATE rule (before causes and cooldown)."""
    params = {} if candidates else {"start": start, "end": end}
    frame = con.execute(v3_sql(cfg, candidates), params).df()
    return frame.sort_values(["platform", "category_id", "ts"], ignore_index=True)
