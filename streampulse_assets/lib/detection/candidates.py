"""The rows the V3 and V1 rules can fire on, from one pass over the features join.

Per platform and minute of [$start, $end): V3's major floor (the seasonal baseline of the N-th
largest usable category) and, as lists of structs, the rows that can meet a V3 rule (a SPIKE at
the lower of the two growth thresholds, a rise or a top-N candidate: a superset of V3's
triggers, see v3.py) and the rows V1 fires on. One aggregate over the joined baselines gives all
three, so the 1.4 M joined rows of a day are never materialised; v3.py and v1.py read the few
thousand listed rows. The values are those of the same expressions over the features rows.
"""

from __future__ import annotations

from streampulse_assets.lib.detection.config import DetectionConfig
from streampulse_assets.lib.detection.features import features_sql, min_short_points

# Fields of the listed rows (each a column of the features rows or of V3's per-row inputs).
V3_FIELDS = [
    "category_id", '"current"', "median_60", "baseline_season", "season_source", "growth_ratio",
    "season_ratio", "delta", "required_delta", "person_required_delta", "ago_ts",
    "viewers_60_ago", "unit", "rise_ok", "top_ok",
]  # fmt: skip
V1_FIELDS = [
    "category_id", '"current"', "median_60", "baseline_season", "season_source", "prev_viewers",
    "ago_ts", "unit",
]  # fmt: skip


def _major_floor(cfg: DetectionConfig) -> str:
    """`baseline_season >= major_floor` is exactly `rank() <= N` among the usable rows of the
    platform and minute, via a cheap aggregate instead of a window over many small partitions."""
    if cfg.major_top_n <= 0:
        return "'Infinity'::DOUBLE"
    return f"list_min(max(baseline_season, {cfg.major_top_n}) FILTER (WHERE usable))"


def candidates_sql(cfg: DetectionConfig) -> str:
    """SELECT of one row per platform and minute of [$start, $end): platform, ts, major_floor,
    v3 (list of V3_FIELDS structs) and v1 (list of V1_FIELDS structs)."""
    c = cfg
    return f"""
    WITH m AS ({features_sql(cfg)}),
    g AS (
        SELECT *,
            median_60 IS NOT NULL AND n_60 >= {min_short_points(cfg)} AS usable,
            "current" / greatest(median_60, {c.baseline_floor} * unit) AS growth_ratio,
            "current" / greatest(baseline_season, {c.baseline_floor} * unit) AS season_ratio,
            "current" - median_60 AS delta,
            greatest({c.min_delta} * unit, {c.season_delta_frac} * baseline_season)
                AS required_delta,
            greatest({c.person_min_delta} * unit, {c.person_delta_frac} * baseline_season)
                AS person_required_delta
        FROM m
    ),
    h AS (
        SELECT *,
            coalesce(growth_ratio >= {c.candidate_growth}
                     AND delta >= {c.candidate_min_delta} * unit, false) AS rise_ok,
            coalesce(growth_ratio >= {c.candidate_top_min_growth}
                     AND delta >= {c.candidate_min_delta} * unit, false) AS top_ok,
            coalesce(growth_ratio >= {min(c.growth_major, c.growth_minor)}
                     AND season_ratio >= {c.season_ratio_min}
                     AND delta >= required_delta, false) AS spike_any,
            coalesce(prev_viewers IS NOT NULL
                     AND "current" >= {c.v1_growth} * prev_viewers
                     AND "current" - prev_viewers >= {c.v1_min_delta} * unit, false) AS v1_ok
        FROM g
    )
    SELECT platform, ts, {_major_floor(cfg)} AS major_floor,
        list(struct_pack({", ".join(V3_FIELDS)}))
            FILTER (WHERE usable AND (spike_any OR rise_ok OR top_ok)) AS v3,
        list(struct_pack({", ".join(V1_FIELDS)})) FILTER (WHERE v1_ok) AS v1
    FROM h
    GROUP BY platform, ts
    """
