"""LEARNED SPIKEs as event rows shaped like V3's, so causes, context, cooldown, the queue, alerts
and quality need no special case. The baselines are the rows' own (rolling and seasonal, from
the features table); `candidate_reasons` records the learned score, z and window.

An alert is a SPIKE only while the category is above its level now (delta, the current viewers
minus the median of the hour before, > 0): a rise seen over a long window (180 min) can become
improbable only once the category has already turned down, and an alert that says "spike" beside
"current 47, baseline 63" is not true. Such an alert is a CANDIDATE ("not above its level now");
its quiet period still starts (run.spike_rows), and the cooldowns (30 / 120 min) never reach a
LEARNED row, whose alerts are at least that quiet period (6 h) apart, so ticks and a backfill
agree. With the spike size (run.spike_rows: the row >= spike_growth x its level) this can only
meet a series whose level is not the hour's median (a coarse series: features.coarse_levels)."""

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


NOT_ABOVE = "not above its level now"


def _reasons(score: float, z: float, minutes: float, current, level, delta) -> str:
    span = "the row itself" if not minutes else f"{minutes:.0f} min"
    items = [f"learned score {score:.3f}", f"z {z:.1f} over {span}"]
    if _falling(delta):
        items.append(f"{NOT_ABOVE}: {current:.0f} viewers, the hour's median {level:.0f}")
    return json.dumps(items)


def _falling(delta) -> bool:
    """Whether a rise's row is at or below its level now (a known delta <= 0)."""
    return delta is not None and not pd.isna(delta) and float(delta) <= 0


def learned_rows(con, spikes: pd.DataFrame, features: str) -> pd.DataFrame:
    """Event rows (before causes and context) for the learned SPIKEs: level SPIKE, or CANDIDATE
    where the row is not above its level now."""
    if spikes.empty:
        return spikes.iloc[0:0]
    with registered(con, "_learned_spikes", spikes):
        rows = con.execute(_SQL.format(features=features)).df()
    rows["level"] = ["CANDIDATE" if _falling(d) else "SPIKE" for d in rows["delta"]]
    rows["is_major"] = False
    rows["required_delta"] = None
    cols = ["score", "z", "window_minutes", "current", "baseline_short", "delta"]
    rows["candidate_reasons"] = [
        _reasons(*values) for values in zip(*(rows[c] for c in cols), strict=True)
    ]
    return rows.drop(columns=["score", "z", "window", "window_minutes"]).sort_values(
        ["platform", "category_id", "ts"], ignore_index=True
    )
