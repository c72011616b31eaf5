"""Exact window statistics over sorted series arrays (see band.py), vectorised.

Every statistic is exact (medians of integers, integer sums), so the value for a minute does not
depend on how much history was read around it: a live tick and a backfill agree bit for bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer

# Below this many target rows a per-target loop beats a rolling pass over the whole band.
LOOP_MAX_TARGETS = 4000


class _Bounds(BaseIndexer):
    def __init__(self, lo: np.ndarray, hi: np.ndarray):
        super().__init__()
        self.lo, self.hi = lo, hi

    def get_window_bounds(
        self, num_values=0, min_periods=None, center=None, closed=None, step=None
    ):
        return self.lo, self.hi


def previous_window(off: np.ndarray, minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """Row bounds [lo, hi) of the window [t - minutes, t - 1 min] for every row."""
    lo = np.searchsorted(off, off - minutes, side="left").astype(np.int64)
    return lo, np.arange(len(off), dtype=np.int64)


def centred_window(off: np.ndarray, lag: int, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Row bounds of [t - lag - half, t - lag + half] (inclusive) for every row."""
    lo = np.searchsorted(off, off - lag - half, side="left").astype(np.int64)
    hi = np.searchsorted(off, off - lag + half, side="right").astype(np.int64)
    return lo, hi


def window_median(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Median of values[lo[i]:hi[i]] (NaN ignored; NaN if empty) for each i in `targets`."""
    values = np.asarray(values, dtype=np.float64)
    if len(targets) <= LOOP_MAX_TARGETS:
        out = np.full(len(targets), np.nan)
        for j, i in enumerate(targets):
            chunk = values[lo[i] : hi[i]]
            chunk = chunk[~np.isnan(chunk)]
            if len(chunk):
                out[j] = np.median(chunk)
        return out
    return _rolling_median(values, lo, hi)[targets]


def _rolling_median(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """pandas' exact skip-list rolling median with per-row bounds."""
    return pd.Series(values).rolling(_Bounds(lo, hi), min_periods=1).median().to_numpy()


def window_mean(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, count) of integer values[lo:hi] per target, from an exact integer prefix sum."""
    prefix = np.concatenate([[0], np.cumsum(np.asarray(values, dtype=np.int64))])
    lo_t, hi_t = lo[targets], hi[targets]
    count = hi_t - lo_t
    total = prefix[hi_t] - prefix[lo_t]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return mean, count


def step_sizes(values: np.ndarray, off: np.ndarray, max_gap: int) -> np.ndarray:
    """|x[i] - x[i-1]| where the previous row is at most `max_gap` minutes earlier, else NaN."""
    out = np.full(len(values), np.nan)
    if len(values) > 1:
        close = np.diff(off) <= max_gap
        steps = np.abs(np.diff(np.asarray(values, dtype=np.float64)))
        out[1:] = np.where(close, steps, np.nan)
    return out
