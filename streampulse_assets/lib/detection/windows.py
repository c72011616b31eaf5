"""Exact window statistics over sorted series arrays (see band.py), vectorised.

Every statistic is exact (medians of integers, integer sums), so the value for a minute does not
depend on how much history was read around it: a live tick and a backfill agree bit for bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer
from scipy import ndimage

# Below this many target rows a per-target loop beats a rolling pass over the whole band.
LOOP_MAX_TARGETS = 4000
# Values gathered at once by the segment median (bounds its memory).
SEGMENT_CHUNK = 4_000_000
# A window size shared by this many values in all is worth a rank-filter pass of its own.
RANK_MIN_VALUES = 4_000_000


class _Bounds(BaseIndexer):
    def __init__(self, lo: np.ndarray, hi: np.ndarray):
        super().__init__()
        self.lo, self.hi = lo, hi

    def get_window_bounds(
        self, num_values=0, min_periods=None, center=None, closed=None, step=None
    ):
        return self.lo, self.hi


def _rows_only(off: np.ndarray, rows: np.ndarray | None) -> bool:
    return rows is not None and len(rows) <= LOOP_MAX_TARGETS < len(off)


def previous_window(
    off: np.ndarray, minutes: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row bounds [lo, hi) of the window [t - minutes, t - 1 min] for every row.

    With `rows` (at most LOOP_MAX_TARGETS of them, the targets), only those rows' bounds are
    searched (others are 0): a live tick does not search its whole band.
    """
    if _rows_only(off, rows):
        lo = np.zeros(len(off), dtype=np.int64)
        lo[rows] = np.searchsorted(off, off[rows] - minutes, side="left")
        return lo, np.arange(len(off), dtype=np.int64)
    lo = np.searchsorted(off, off - minutes, side="left").astype(np.int64)
    return lo, np.arange(len(off), dtype=np.int64)


def centred_window(
    off: np.ndarray, lag: int, half: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row bounds of [t - lag - half, t - lag + half] (inclusive) for every row (or `rows`)."""
    if _rows_only(off, rows):
        lo, hi = np.zeros(len(off), dtype=np.int64), np.zeros(len(off), dtype=np.int64)
        lo[rows] = np.searchsorted(off, off[rows] - lag - half, side="left")
        hi[rows] = np.searchsorted(off, off[rows] - lag + half, side="right")
        return lo, hi
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
    if np.isnan(values).any():
        return _rolling_median(values, lo, hi)[targets]
    return _bulk_median(values, lo, hi)[targets]


def _bulk_median(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Exact medians of values[lo:hi] for every row (no NaN).

    Each window size shared by many rows takes a sliding rank filter over the whole array; the
    rest (series starts, gaps) a segmented sort. Same values as pandas' rolling median.
    """
    n = hi - lo
    out = np.full(len(n), np.nan)
    sizes, counts = np.unique(n[n > 0], return_counts=True)
    left = n > 0
    for size in sizes[counts * sizes >= RANK_MIN_VALUES]:
        size = int(size)
        now = n == size
        left &= ~now
        half = size // 2

        def rank(k: int, size=size, at=lo[now]) -> np.ndarray:  # k-th of values[p : p + size]
            return ndimage.rank_filter(values, k, size=size, origin=-(size // 2), mode="nearest")[
                at
            ]

        out[now] = rank(half) if size % 2 else (rank(half - 1) + rank(half)) / 2
    rest = np.flatnonzero(left)
    chunk = max(1, SEGMENT_CHUNK // max(1, int(n.max())))
    for i in range(0, len(rest), chunk):
        part = rest[i : i + chunk]
        out[part] = _segment_median(values, lo[part], n[part])
    return out


def _segment_median(values: np.ndarray, lo: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Median of each values[lo[j] : lo[j] + n[j]] (n > 0), by one sort of all segments."""
    ends = np.cumsum(n)
    starts = ends - n
    seg = np.repeat(np.arange(len(n), dtype=np.int64), n)
    picked = values[np.arange(ends[-1]) - np.repeat(starts, n) + np.repeat(lo, n)]
    small = picked.min() >= 0 and picked.max() < 2**31 and np.array_equal(picked, picked.round())
    if small:  # one int64 sort of (segment, value) keys
        ordered = (np.sort((seg << 32) | picked.astype(np.int64)) & 0xFFFFFFFF).astype(np.float64)
    else:
        ordered = picked[np.lexsort((picked, seg))]
    return (ordered[starts + (n - 1) // 2] + ordered[starts + n // 2]) / 2


def _rolling_median(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """pandas' exact skip-list rolling median with per-row bounds."""
    return pd.Series(values).rolling(_Bounds(lo, hi), min_periods=1).median().to_numpy()


def window_mean(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, count) of integer values[lo:hi] per target, from an exact integer prefix sum."""
    prefix = np.concatenate([[0], np.cumsum(np.asarray(values, dtype=np.int64))])
    if len(targets) > LOOP_MAX_TARGETS:  # sequential pass over all rows, one gather at the end
        count_all = hi - lo
        total, count = (prefix[hi] - prefix[lo])[targets], count_all[targets]
    else:
        lo_t, hi_t = lo[targets], hi[targets]
        count, total = hi_t - lo_t, prefix[hi_t] - prefix[lo_t]
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
