"""Exact window statistics over packed series rows (see band.py), vectorised.

A window is a packed row range [lo, hi) per target. Every statistic is exact (medians of
integers, integer sums), so the value for a minute does not depend on how much history was read
around it or how the series were chunked: a live tick and a backfill agree bit for bit.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Values gathered at once by the segment median (bounds its memory).
SEGMENT_CHUNK = 4_000_000
# A window size shared by this many values in all is worth a rank-filter pass of its own.
RANK_MIN_VALUES = 4_000_000


def window_median(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Median of values[lo[i]:hi[i]] for each i (NaN if empty); `values` are integers.

    Each window size shared by many windows takes a sliding rank filter over the whole array; the
    rest (series starts, gaps, a live tick's few targets) a segmented sort.
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
            ].astype(np.float64)

        out[now] = rank(half) if size % 2 else (rank(half - 1) + rank(half)) / 2
    rest = np.flatnonzero(left)
    if len(rest):
        chunk = max(1, SEGMENT_CHUNK // max(1, int(n[rest].max())))
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
    return sorted_medians(seg, picked, starts, n)


def sorted_medians(seg: np.ndarray, picked: np.ndarray, starts: np.ndarray, n: np.ndarray):
    """Medians of `picked` grouped by `seg` (sorted, groups at `starts` with `n` values each)."""
    small = picked.min() >= 0 and picked.max() < 2**31 and np.array_equal(picked, picked.round())
    if small:  # one int64 sort of (segment, value) keys
        ordered = (np.sort((seg << 32) | picked.astype(np.int64)) & 0xFFFFFFFF).astype(np.float64)
    else:
        ordered = picked[np.lexsort((picked, seg))].astype(np.float64)
    return (ordered[starts + (n - 1) // 2] + ordered[starts + n // 2]) / 2


def window_mean(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, ...]:
    """(mean, count) of integer values[lo:hi] from their prefix sum (prefix[0] = 0)."""
    count = hi - lo
    total = prefix[hi] - prefix[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return mean, count


def step_sizes(values: np.ndarray, sid: np.ndarray, minute: np.ndarray, max_gap: int):
    """|x[i] - x[i-1]| where row i-1 is of the same series at most `max_gap` minutes earlier,
    else NaN."""
    out = np.full(len(values), np.nan)
    if len(values) > 1:
        close = (np.diff(sid) == 0) & (np.diff(minute) <= max_gap)
        steps = np.abs(np.diff(values)).astype(np.float64)
        out[1:] = np.where(close, steps, np.nan)
    return out
