"""Rolling (previous 60 minutes) and seasonal (same time of day 24 h / 7 d earlier) baselines.

Both are computed set-wise for a window [start, end) from the raw rows that exist: a missing
minute is absent from the windows, never a zero.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from streampulse_assets.lib.detection.band import Band, from_minutes, read_band, write_frame
from streampulse_assets.lib.detection.config import DetectionConfig, get_config
from streampulse_assets.lib.detection.windows import (
    centred_window,
    previous_window,
    step_sizes,
    window_mean,
    window_median,
)

DAY = 1440
WEEK = 7 * DAY
MAD_TO_SD = 1.4826 / math.sqrt(2)  # median |x_t - x_t-1| -> standard deviation of the noise


def rolling_ranges(start: datetime, end: datetime, cfg: DetectionConfig):
    back = cfg.noise_window_minutes + cfg.short_window_minutes
    return [(start - timedelta(minutes=back), end)]


def seasonal_ranges(start: datetime, end: datetime, cfg: DetectionConfig):
    half = cfg.season_half_window_minutes
    out = []
    for lag in (DAY, WEEK):
        out.append((start - timedelta(minutes=lag + half), end - timedelta(minutes=lag - half)))
    return [*out, (start, end)]


def compute_rolling(band: Band, cfg: DetectionConfig) -> pd.DataFrame:
    t = band.target
    lo, hi = previous_window(band.off, cfg.short_window_minutes)
    n = (hi - lo)[t]
    has = n > 0
    prev_i = np.where(has, hi[t] - 1, 0)
    ago_i = np.where(has, lo[t], 0)
    steps = step_sizes(band.viewers, band.off, cfg.short_window_minutes)
    nlo, nhi = previous_window(band.off, cfg.noise_window_minutes)
    noise = window_median(steps, nlo, nhi, t) * MAD_TO_SD
    return pd.DataFrame(
        {
            "sid": band.sid[t],
            "ts": from_minutes(band.minute[t]),
            "viewers": band.viewers[t],
            "median_60": window_median(band.viewers, lo, hi, t),
            "n_60": n.astype(np.int32),
            "prev_ts": pd.Series(from_minutes(band.minute[prev_i])).where(has),
            "prev_viewers": pd.Series(band.viewers[prev_i], dtype="Int64").where(has),
            "ago_ts": pd.Series(from_minutes(band.minute[ago_i])).where(has),
            "viewers_60_ago": pd.Series(band.viewers[ago_i], dtype="Int64").where(has),
            "noise_sd": noise,
        }
    )


def compute_seasonal(band: Band, cfg: DetectionConfig) -> pd.DataFrame:
    t = band.target
    half = cfg.season_half_window_minutes
    expected = 2 * half // cfg.step + 1
    cols: dict[str, np.ndarray] = {"sid": band.sid[t], "ts": from_minutes(band.minute[t])}
    for name, lag in (("24h", DAY), ("7d", WEEK)):
        lo, hi = centred_window(band.off, lag, half)
        mean, count = window_mean(band.viewers, lo, hi, t)
        cols[f"mean_{name}"] = mean
        cols[f"n_{name}"] = count.astype(np.int32)
        cols[f"coverage_{name}"] = np.minimum(1.0, count / expected)
    return pd.DataFrame(cols)


def refresh_rolling_baselines(
    con, start: datetime, end: datetime, config: DetectionConfig | str | None = None
) -> int:
    """Recompute rolling_baselines for [start, end) (delete-window-then-insert); rows written."""
    cfg = get_config(config)
    band = read_band(con, rolling_ranges(start, end, cfg), start, end)
    return write_frame(con, "rolling_baselines", compute_rolling(band, cfg), start, end)


def refresh_seasonal_baselines(
    con, start: datetime, end: datetime, config: DetectionConfig | str | None = None
) -> int:
    """Recompute seasonal_baselines for [start, end) (delete-window-then-insert); rows written."""
    cfg = get_config(config)
    band = read_band(con, seasonal_ranges(start, end, cfg), start, end)
    return write_frame(con, "seasonal_baselines", compute_seasonal(band, cfg), start, end)
