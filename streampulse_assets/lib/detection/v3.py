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


def _major_sql(cfg: DetectionConfig, source: str, usable: str) -> str:
    """Per platform and minute, the seasonal baseline of the N-th largest category.

    `baseline_season >= that` is exactly `rank() <= N`, via a cheap aggregate instead of a
    window over many small partitions.
    """
    if cfg.major_top_n <= 0:
        return (
            "SELECT DISTINCT platform, ts, 'Infinity'::DOUBLE AS major_floor "
            f"FROM {source} WHERE {usable}"
        )
    return (
        f"SELECT platform, ts, list_min(max(baseline_season, {cfg.major_top_n})) AS major_floor "
        f"FROM {source} WHERE {usable} GROUP BY platform, ts"
    )


def v3_sql(cfg: DetectionConfig, features: str | None = None) -> str:
    """V3 triggers from `features` (a table name; default: the features query inline).

    Only the rows that can meet a rule reach the join with the major floors: a SPIKE at the
    lower of the two growth thresholds, a rise or a top-N candidate (neither depends on
    is_major). That is a superset of the triggered rows, so they are exactly those of joining
    every row; the floors themselves are aggregated over every usable row.
    """
    c = cfg
    source = features or "m"
    head = "" if features else f"m AS ({features_sql(cfg)}),"
    usable = f"median_60 IS NOT NULL AND n_60 >= {min_short_points(cfg)}"
    return f"""
    WITH {head}
    g AS (
        SELECT *,
            "current" / greatest(median_60, {c.baseline_floor} * unit) AS growth_ratio,
            "current" / greatest(baseline_season, {c.baseline_floor} * unit) AS season_ratio,
            "current" - median_60 AS delta,
            greatest({c.min_delta} * unit, {c.season_delta_frac} * baseline_season)
                AS required_delta,
            greatest({c.person_min_delta} * unit, {c.person_delta_frac} * baseline_season)
                AS person_required_delta
        FROM {source}
        WHERE {usable}
    ),
    h AS (
        SELECT *,
            coalesce(growth_ratio >= {c.candidate_growth}
                     AND delta >= {c.candidate_min_delta} * unit, false) AS rise_ok,
            coalesce(growth_ratio >= {c.candidate_top_min_growth}
                     AND delta >= {c.candidate_min_delta} * unit, false) AS top_ok,
            coalesce(growth_ratio >= {min(c.growth_major, c.growth_minor)}
                     AND season_ratio >= {c.season_ratio_min}
                     AND delta >= required_delta, false) AS spike_any
        FROM g
    ),
    k AS ({_major_sql(cfg, source, usable)}),
    f AS (
        SELECT h.* EXCLUDE (spike_any), h.baseline_season >= k.major_floor AS is_major,
            coalesce(growth_ratio >= CASE WHEN h.baseline_season >= k.major_floor
                                          THEN {c.growth_major} ELSE {c.growth_minor} END
                     AND season_ratio >= {c.season_ratio_min}
                     AND delta >= required_delta, false) AS spike_ok
        FROM h JOIN k ON k.platform = h.platform AND k.ts = h.ts
        WHERE h.spike_any OR h.rise_ok OR h.top_ok
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
    con, start: datetime, end: datetime, cfg: DetectionConfig, features: str | None = None
) -> pd.DataFrame:
    """Rows of [start, end) meeting a V3 SPIKE or CANDIDATE rule (before causes and cooldown)."""
    params = {} if features else {"start": start, "end": end}
    frame = con.execute(v3_sql(cfg, features), params).df()
    return frame.sort_values(["platform", "category_id", "ts"], ignore_index=True)
