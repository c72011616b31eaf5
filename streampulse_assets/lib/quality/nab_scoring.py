"""NAB scoring, exactly as numenta/NAB (ea702d7) scores a detector, vectorised with numpy.

Rules, from `nab/sweeper.py` (Sweeper.calcSweepScore, calcScoreByThreshold, scoreDataSet),
`nab/optimizer.py`, `nab/runner.py` (normalize) and `config/profiles.json`:
- the first min(floor(0.15 * rows), 0.15 * 5000) rows of a file are probationary: they are not
  scored at all (neither detections nor window misses; a window only counts through its
  non-probationary rows);
- a row is a detection when its anomaly score >= threshold;
- row i inside a window [left, right] (width = right - left + 1 rows) is worth
  scaledSigmoid(-(right - i + 1) / width) * tpWeight / scaledSigmoid(-1), so the window's first
  row is worth exactly tpWeight; a window is worth the best (= earliest) of its detections, or
  -fnWeight when it has none (later detections in it add nothing);
- a detection outside every window costs fpWeight * scaledSigmoid((i - prevRight) /
  (prevWidth - 1)) after a window (prevRight, prevWidth of the previous window), and -fpWeight
  before the first window; they all add up;
- scaledSigmoid(x) = 2 / (1 + exp(5x)) - 1, and -1 for x > 3;
- normalised = 100 * (S - S_null) / (S_perfect - S_null), S_perfect = windows * tpWeight,
  S_null = -windows * fnWeight (the null detector's score).

Beyond NAB (which needs window limits to be row timestamps and windows that do not overlap): a
window is snapped to the rows it contains (first row >= start, last row <= end), windows without
rows are dropped, and windows that overlap in rows are merged. A previous window one row wide
(NAB divides by zero there) counts as far away (-fpWeight).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

PROBATION_PERCENT = 0.15
NO_DETECTION_THRESHOLD = 1.1  # NAB's sweep starts above every score


@dataclass(frozen=True)
class Profile:
    name: str
    tp: float
    fn: float
    fp: float


PROFILES = {
    "standard": Profile("standard", tp=1.0, fn=1.0, fp=0.11),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", tp=1.0, fn=1.0, fp=0.22),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", tp=1.0, fn=2.0, fp=0.11),
}


def _profile(profile: Profile | str) -> Profile:
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"unknown NAB profile {profile!r}; known: {', '.join(PROFILES)}")
    return PROFILES[profile]


def scaled_sigmoid(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x > 3.0, -1.0, value)


MAX_TP = float(scaled_sigmoid(-1.0))


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> float:
    """NAB's util.getProbationPeriod: rows with index >= this are scored."""
    return min(math.floor(percent * n_rows), percent * 5000)


@dataclass(frozen=True)
class SweepRows:
    """One file's scorable rows: anomaly score, unweighted NAB value, window number (-1 outside).

    In-window values are already divided by scaledSigmoid(-1) (multiply by tpWeight); outside
    values multiply by fpWeight."""

    scores: np.ndarray
    unweighted: np.ndarray
    window: np.ndarray
    n_windows: int  # windows with at least one scorable row


def _as_datetime64(values) -> np.ndarray:
    return pd.to_datetime(pd.Series(values)).to_numpy(dtype="datetime64[ns]")


def _window_rows(ts: np.ndarray, windows) -> tuple[np.ndarray, np.ndarray]:
    """Row limits (left, right) of each window, snapped to rows, empty ones dropped, overlaps
    merged, sorted."""
    if not len(windows):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = _as_datetime64([w[0] for w in windows])
    ends = _as_datetime64([w[1] for w in windows])
    left = np.searchsorted(ts, starts, side="left")
    right = np.searchsorted(ts, ends, side="right") - 1
    keep = left <= right
    order = np.argsort(left[keep], kind="stable")
    lefts, rights = [], []
    for lo, hi in zip(left[keep][order], right[keep][order], strict=True):
        if rights and lo <= rights[-1]:
            rights[-1] = max(rights[-1], int(hi))
            continue
        lefts.append(int(lo))
        rights.append(int(hi))
    return np.array(lefts, np.int64), np.array(rights, np.int64)


def sweep_rows(timestamps, scores, windows, probation_percent: float = PROBATION_PERCENT):
    """calcSweepScore for one file: timestamps (any datetime-like, sorted here), scores, and
    windows as (start, end) pairs."""
    ts = _as_datetime64(timestamps)
    values = np.asarray(scores, dtype=float)
    if len(ts) != len(values):
        raise ValueError(f"{len(ts)} timestamps but {len(values)} scores")
    order = np.argsort(ts, kind="stable")
    ts, values = ts[order], values[order]
    n = len(ts)
    lefts, rights = _window_rows(ts, windows)
    i = np.arange(n)
    k = np.searchsorted(lefts, i, side="right") - 1
    has_prev = k >= 0
    kk = np.where(has_prev, k, 0)
    inside = has_prev & (i <= rights[kk]) if len(lefts) else np.zeros(n, bool)
    width = (rights - lefts + 1).astype(float)
    unweighted = np.full(n, -1.0)
    if len(lefts):
        pos_in = -(rights[kk] - i + 1) / width[kk]
        with np.errstate(divide="ignore", invalid="ignore"):
            pos_after = (i - rights[kk]) / (width[kk] - 1.0)
        pos_after = np.where(np.isfinite(pos_after), pos_after, np.inf)
        after = has_prev & ~inside
        unweighted[inside] = scaled_sigmoid(pos_in[inside]) / MAX_TP
        unweighted[after] = scaled_sigmoid(pos_after[after])
    scorable = i >= probation_length(n, probation_percent)
    window = np.where(inside, k, -1)[scorable]
    used, window_ids = np.unique(window[window >= 0], return_inverse=True)
    renumbered = np.full(len(window), -1)
    renumbered[window >= 0] = window_ids
    return SweepRows(values[scorable], unweighted[scorable], renumbered, len(used))


@dataclass(frozen=True)
class SeriesScore:
    raw: float
    tp: int  # detected rows inside windows
    fp: int  # detected rows outside windows (the false-positive count)
    fn: int  # undetected rows inside windows
    tn: int
    windows: int
    windows_hit: int
    threshold: float
    profile: str


def score_rows(rows: SweepRows, threshold: float, profile: Profile | str) -> SeriesScore:
    """calcScoreByThreshold + scoreDataSet at one threshold (detection = score >= threshold)."""
    p = _profile(profile)
    detected = rows.scores >= threshold
    inside = rows.window >= 0
    fp_value = float((rows.unweighted[detected & ~inside] * p.fp).sum())
    best = np.full(rows.n_windows, -p.fn)
    hit = detected & inside
    np.maximum.at(best, rows.window[hit], rows.unweighted[hit] * p.tp)
    return SeriesScore(
        raw=float(best.sum()) + fp_value,
        tp=int(hit.sum()),
        fp=int((detected & ~inside).sum()),
        fn=int((~detected & inside).sum()),
        tn=int((~detected & ~inside).sum()),
        windows=rows.n_windows,
        windows_hit=len(np.unique(rows.window[hit])),
        threshold=float(threshold),
        profile=p.name,
    )


def score_series(
    timestamps, scores, windows, threshold: float, profile: Profile | str = "standard",
    probation_percent: float = PROBATION_PERCENT,
) -> SeriesScore:  # fmt: skip
    """NAB's raw score of one file, as in its `<detector>_<profile>_scores.csv` Score column."""
    return score_rows(
        sweep_rows(timestamps, scores, windows, probation_percent), threshold, profile
    )


def normalised(total_raw: float, n_windows: int, profile: Profile | str) -> float | None:
    """100 * (S - S_null) / (S_perfect - S_null); None without windows."""
    p = _profile(profile)
    if n_windows <= 0:
        return None
    null, perfect = -n_windows * p.fn, n_windows * p.tp
    return 100.0 * (total_raw - null) / (perfect - null)
