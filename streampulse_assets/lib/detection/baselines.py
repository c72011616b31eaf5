"""Rolling (previous 60 minutes) and seasonal (same time of day 24 h / 7 d earlier) baselines.

Both are computed set-wise for a window [start, end) from the raw rows that exist: a missing
minute is absent from the windows, never a zero.
"""

from __future__ import annotations

import math
import warnings
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
HOUR_KEY = 1 << 32  # (series, clock hour) key: sid * HOUR_KEY + hours since epoch
MAD_TO_SD = 1.4826 / math.sqrt(2)  # median |x_t - x_t-1| -> standard deviation of the noise


def rolling_ranges(start: datetime, end: datetime, cfg: DetectionConfig):
    hour = start.replace(minute=0, second=0, microsecond=0)
    back = noise_hours(cfg) * 60 + cfg.short_window_minutes
    return [(min(hour - timedelta(minutes=back), start - timedelta(minutes=back)), end)]


def noise_hours(cfg: DetectionConfig) -> int:
    return max(1, cfg.noise_window_minutes // 60)


def hourly_noise(band: Band, cfg: DetectionConfig) -> np.ndarray:
    """Robust noise deviation per target row.

    Median over the previous N whole clock hours of each hour's median |step| (a step is the
    change from the series' previous row, if that is within the short window), times
    1.4826 / sqrt(2). Constant within an hour: cheap, exact, independent of the window read.
    """
    n_hours = noise_hours(cfg)
    steps = step_sizes(band.viewers, band.off, cfg.short_window_minutes)
    hour = band.minute // 60
    key = band.sid * HOUR_KEY + hour
    ok = ~np.isnan(steps)
    if len(band.target):  # only the hours some target looks up (a tick's band holds more)
        target_hours = hour[band.target]
        ok &= (hour >= target_hours.min() - n_hours) & (hour < target_hours.max())
    per_hour = pd.Series(steps[ok]).groupby(key[ok]).median()
    keys = per_hour.index.to_numpy(dtype=np.int64)
    values = per_hour.to_numpy(dtype=np.float64)
    uniq, inverse = np.unique(key[band.target], return_inverse=True)
    grid = np.full((len(uniq), n_hours), np.nan)
    if len(keys):
        for j in range(1, n_hours + 1):
            pos = np.minimum(np.searchsorted(keys, uniq - j), len(keys) - 1)
            found = keys[pos] == uniq - j
            grid[found, j - 1] = values[pos[found]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows -> NaN
        med = np.nanmedian(grid, axis=1) if len(uniq) else np.zeros(0)
    return med[inverse] * MAD_TO_SD


def seasonal_ranges(start: datetime, end: datetime, cfg: DetectionConfig):
    half = cfg.season_half_window_minutes
    out = []
    for lag in (DAY, WEEK):
        out.append((start - timedelta(minutes=lag + half), end - timedelta(minutes=lag - half)))
    return [*out, (start, end)]


def compute_rolling(band: Band, cfg: DetectionConfig) -> dict[str, np.ndarray]:
    """rolling_baselines columns, aligned with band.target."""
    t = band.target
    lo, hi = previous_window(band.off, cfg.short_window_minutes, t)
    n = (hi - lo)[t]
    has = n > 0
    prev_i = np.where(has, hi[t] - 1, 0)
    ago_i = np.where(has, lo[t], 0)
    return {
        "ts": from_minutes(band.minute[t]),
        "viewers": band.viewers[t],
        "median_60": window_median(band.viewers, lo, hi, t),
        "n_60": n.astype(np.int32),
        "prev_ts": (from_minutes(band.minute[prev_i]), ~has),
        "prev_viewers": (band.viewers[prev_i], ~has),
        "ago_ts": (from_minutes(band.minute[ago_i]), ~has),
        "viewers_60_ago": (band.viewers[ago_i], ~has),
        "noise_sd": hourly_noise(band, cfg),
    }


def compute_seasonal(band: Band, cfg: DetectionConfig) -> dict[str, np.ndarray]:
    """seasonal_baselines columns, aligned with band.target."""
    t = band.target
    half = cfg.season_half_window_minutes
    expected = 2 * half // cfg.step + 1
    cols: dict[str, np.ndarray] = {"ts": from_minutes(band.minute[t])}
    for name, lag in (("24h", DAY), ("7d", WEEK)):
        lo, hi = centred_window(band.off, lag, half, t)
        mean, count = window_mean(band.viewers, lo, hi, t)
        cols[f"mean_{name}"] = mean
        cols[f"n_{name}"] = count.astype(np.int32)
        cols[f"coverage_{name}"] = np.minimum(1.0, count / expected)
    return cols


def refresh_rolling_baselines(
    con, start: datetime, end: datetime, config: DetectionConfig | str | None = None
) -> int:
    """Recompute rolling_baselines for [start, end) (delete-window-then-insert); rows written."""
    cfg = get_config(config)
    band = read_band(con, rolling_ranges(start, end, cfg), start, end)
    return write_frame(con, "rolling_baselines", band, compute_rolling(band, cfg), start, end)


def refresh_seasonal_baselines(
    con, start: datetime, end: datetime, config: DetectionConfig | str | None = None
) -> int:
    """Recompute seasonal_baselines for [start, end) (delete-window-then-insert); rows written."""
    cfg = get_config(config)
    band = read_band(con, seasonal_ranges(start, end, cfg), start, end)
    return write_frame(con, "seasonal_baselines", band, compute_seasonal(band, cfg), start, end)


def refresh_baselines(
    con, start: datetime, end: datetime, config: DetectionConfig | str | None = None
) -> int:
    """Both baseline tables for [start, end) from one read of the raw rows; rows written.

    Same rows as the two refreshes above: every window is exact, so reading the union of their
    ranges changes nothing but the number of scans.
    """
    cfg = get_config(config)
    band = read_band(con, [*rolling_ranges(start, end, cfg), *seasonal_ranges(start, end, cfg)],
                     start, end)  # fmt: skip
    rows = write_frame(con, "rolling_baselines", band, compute_rolling(band, cfg), start, end)
    write_frame(con, "seasonal_baselines", band, compute_seasonal(band, cfg), start, end)
    return rows
