"""Cooldown per (detector, platform, category): the only sequential step, run on triggered rows.

A SPIKE is silenced by a SPIKE in the previous `cooldown_spike_minutes` (30); a CANDIDATE by any
event in the previous `cooldown_candidate_minutes` (120). A candidate never silences a SPIKE: a
rise may still escalate. State
is seeded with the events already stored before the window, so computing minute by minute and
computing a whole range in one pass emit the same events.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from streampulse_assets.lib.detection.config import DetectionConfig

KEY = ["detector", "platform", "category_id"]


def _minutes(ts: pd.Series) -> np.ndarray:
    return (pd.to_datetime(ts).astype("datetime64[us]").astype(np.int64) // 60_000_000).to_numpy()


def apply_cooldown(rows: pd.DataFrame, seeds: pd.DataFrame, cfg: DetectionConfig) -> pd.DataFrame:
    """The subset of `rows` (detector, platform, category_id, ts, level) that is emitted.

    `seeds` holds earlier emitted events (same columns); they are never re-emitted.
    """
    if rows.empty:
        return rows
    rows = rows.sort_values([*KEY, "ts"], ignore_index=True)
    last_spike: dict[tuple, int] = {}
    last_cand: dict[tuple, int] = {}
    if not seeds.empty:
        seeds = seeds.sort_values("ts")
        for key, t, level in zip(
            seeds[KEY].itertuples(index=False, name=None),
            _minutes(seeds["ts"]),
            seeds["level"],
            strict=True,
        ):
            (last_spike if level == "SPIKE" else last_cand)[key] = int(t)
    keep = np.zeros(len(rows), dtype=bool)
    spike_cd, cand_cd = cfg.cooldown_spike_minutes, cfg.cooldown_candidate_minutes
    keys = rows[KEY].itertuples(index=False, name=None)
    stream = zip(keys, _minutes(rows["ts"]), rows["level"], strict=True)
    for i, (key, t, level) in enumerate(stream):
        t = int(t)
        ls, lc = last_spike.get(key), last_cand.get(key)
        if level == "SPIKE":
            if ls is not None and t - ls < spike_cd:
                continue
            last_spike[key] = t
        else:
            latest = max(x for x in (ls, lc, -(10**12)) if x is not None)
            if t - latest < cand_cd:
                continue
            last_cand[key] = t
        keep[i] = True
    return rows[keep].reset_index(drop=True)
