"""LEARNED SPIKEs as event rows shaped like V3's, so causes, context, cooldown, the queue, alerts
and quality need no special case. The baselines are the rows' own (rolling and seasonal, from
the features table); `candidate_reasons` records the learned score, z and window."""

from __future__ import annotations

import json

import pandas as pd

from streampulse_assets.lib.duck import registered

_SQL = """
SELECT s.platform, s.category_id, s.ts, s."current", s.score, s.z, s."window", s.window_minutes,
       coalesce(f.median_60, s.level) AS baseline_short, f.baseline_season, f.season_source,
       s."current" / nullif(coalesce(f.median_60, s.level), 0) AS growth_ratio,
       s."current" / nullif(f.baseline_season, 0) AS season_ratio,
       s."current" - coalesce(f.median_60, s.level) AS delta,
       f.ago_ts, f.viewers_60_ago, coalesce(f.unit, 1.0) AS unit
FROM _learned_spikes s
LEFT JOIN {features} f ON f.platform = s.platform AND f.category_id = s.category_id AND f.ts = s.ts
"""


def _reasons(score: float, z: float, minutes: float) -> str:
    span = "the row itself" if not minutes else f"{minutes:.0f} min"
    return json.dumps([f"learned score {score:.3f}", f"z {z:.1f} over {span}"])


def learned_rows(con, spikes: pd.DataFrame, features: str) -> pd.DataFrame:
    """Event rows (level SPIKE, before causes and context) for the learned SPIKEs."""
    if spikes.empty:
        return spikes.iloc[0:0]
    with registered(con, "_learned_spikes", spikes):
        rows = con.execute(_SQL.format(features=features)).df()
    rows["level"] = "SPIKE"
    rows["is_major"] = False
    rows["required_delta"] = None
    rows["candidate_reasons"] = [
        _reasons(s, z, m)
        for s, z, m in zip(rows["score"], rows["z"], rows["window_minutes"], strict=True)
    ]
    return rows.drop(columns=["score", "z", "window", "window_minutes"]).sort_values(
        ["platform", "category_id", "ts"], ignore_index=True
    )
