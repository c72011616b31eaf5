"""The learned detector over a whole frame in memory (replay files, NAB, benchmarks).

The same features, model and alert rule as the warehouse path (`store.py`); the level is the
median of the 60 minutes before each row, computed here as `rolling_baselines.median_60` is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from streampulse_assets.lib.detection.learned.config import DEFAULT, LearnedConfig
from streampulse_assets.lib.detection.learned.features import (
    Panel,
    coarse_levels,
    keys,
    lagged,
    model_inputs,
    rises,
    series_steps,
)
from streampulse_assets.lib.detection.learned.model import ModelState
from streampulse_assets.lib.detection.learned.run import alerts, score_panel, spike_rows
from streampulse_assets.lib.timeutil import datetime64_to_minutes


def level_60(sid: np.ndarray, ts: pd.Series, x: np.ndarray) -> np.ndarray:
    """Median of each series' values in [ts - 60 min, ts - 1 min] (NaN when there are none)."""
    frame = pd.DataFrame({"sid": sid, "ts": ts.to_numpy(), "x": x})
    rolled = frame.groupby("sid", sort=False).rolling("60min", on="ts", closed="left")["x"]
    return rolled.median().to_numpy(copy=True)  # writable: coarse_levels replaces some


def score_frame(frame: pd.DataFrame, cfg: LearnedConfig = DEFAULT) -> pd.DataFrame:
    """Per-row score and alert of every series in `frame` (platform, category_id, ts, value).

    Returns the rows sorted by series and time with columns platform, category_id, ts, value,
    level, score, z, window, alert (an anomaly either side: what NAB scores) and
    spike (an alert on a rise to the size of a spike, run.spike_rows).
    """
    data = frame[["platform", "category_id", "ts", "value"]].copy()
    data["ts"] = pd.to_datetime(data["ts"]).astype("datetime64[us]")
    data = data.sort_values(["platform", "category_id", "ts"], kind="stable", ignore_index=True)
    sid, _ = pd.factorize(data["platform"].astype(str) + "\x1f" + data["category_id"].astype(str))
    sid = sid.astype(np.int64)
    minute = datetime64_to_minutes(data["ts"].to_numpy())
    x = data["value"].to_numpy(dtype=np.float64)
    level = level_60(sid, data["ts"], x)
    n_series = int(sid.max()) + 1 if len(sid) else 0
    panel = Panel(sid, minute, x, level, series_steps(sid, minute, n_series))
    coarse_levels(panel, cfg)
    inputs = model_inputs(cfg, len(x))
    rise = rises(panel, cfg, out=inputs[:, 0])
    key = panel.key
    for j, lag in enumerate(cfg.seasonal_lags_minutes):
        inputs[:, 1 + j] = lagged(key, rise, keys(sid, minute - lag))
    state = ModelState.empty(n_series, inputs.shape[0], inputs.shape[1])
    rows = np.arange(len(x))
    result = score_panel(panel, rows, inputs, state, cfg, complete_hours=np.unique(minute // 60))
    data["level"] = panel.level
    data["score"] = result.score
    data["z"] = result.z
    data["window"] = result.window
    data["alert"] = alerts(sid, minute, result.score, cfg)
    data["spike"] = spike_rows(sid, minute, result.score, result.z, x, panel.level, cfg)
    return data
