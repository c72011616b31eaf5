"""Statistics for comparing detectors: Wilson intervals, exact McNemar, day-block bootstrap.

Only library statistics (statsmodels, scipy); nothing hand-written.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from streampulse_assets.lib.quality.metrics import Exposure, f1_from_counts

DEFAULT_SEED = 20250301
DEFAULT_RESAMPLES = 4999
_COUNTS = ["alerts", "true_alerts", "windows", "windows_caught", "false_alarms"]


def wilson(count: int, nobs: int, alpha: float = 0.05) -> tuple[float, float] | None:
    """Wilson score interval for count/nobs; None when nobs is 0."""
    if nobs <= 0:
        return None
    low, high = proportion_confint(count, nobs, alpha=alpha, method="wilson")
    return float(low), float(high)


@dataclass(frozen=True)
class McNemarResult:
    table: list[list[int]]  # rows: A caught / missed; columns: B caught / missed
    statistic: float | None
    pvalue: float | None

    @property
    def a_only(self) -> int:
        return self.table[0][1]

    @property
    def b_only(self) -> int:
        return self.table[1][0]


def mcnemar_windows(caught_a: list[bool], caught_b: list[bool]) -> McNemarResult:
    """McNemar's exact test on the same labelled windows caught by detector A and by B."""
    if len(caught_a) != len(caught_b):
        raise ValueError(f"window lists differ in length: {len(caught_a)} vs {len(caught_b)}")
    a, b = np.asarray(caught_a, dtype=bool), np.asarray(caught_b, dtype=bool)
    table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
    if not len(a):
        return McNemarResult(table, None, None)
    res = mcnemar(np.array(table), exact=True)
    return McNemarResult(table, float(res.statistic), float(res.pvalue))


@dataclass(frozen=True)
class Interval:
    value: float | None
    low: float | None
    high: float | None
    method: str

    def as_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high, "method": self.method}


def _day_matrix(per_day: list[pd.DataFrame], expo: Exposure) -> tuple[list, np.ndarray]:
    """One row per day (union of all days); columns: counts of each frame, then category-days."""
    days = sorted(set(expo.day_fractions).union(*(set(f.index) for f in per_day)))
    blocks = [f.reindex(days, fill_value=0)[_COUNTS].to_numpy(float) for f in per_day]
    blocks = [b.reshape(-1, len(_COUNTS)) for b in blocks]
    exposure = np.array([expo.category_days_on(d) for d in days], dtype=float).reshape(-1, 1)
    return days, np.hstack([*blocks, exposure])


def _stats(rows: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """F1 and false alarms per category-day of each frame from summed day rows (axis -2)."""
    sums = rows.sum(axis=-2)
    k = len(_COUNTS)
    cat_days = sums[..., n_frames * k]
    f1s, fas = [], []
    for i in range(n_frames):
        a, t, w, c, fa = (sums[..., i * k + j] for j in range(k))
        f1s.append(f1_from_counts(a, t, w, c))
        with np.errstate(divide="ignore", invalid="ignore"):
            fas.append(np.where(cat_days > 0, fa / np.where(cat_days > 0, cat_days, 1), np.nan))
    return np.stack(f1s), np.stack(fas)


def _clean(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def _bootstrap(matrix: np.ndarray, statistic, seed: int, n_resamples: int) -> Interval:
    """BCa interval from scipy; when some resampled statistics are undefined (e.g. F1 of a
    resample with neither alerts nor windows), a numpy percentile interval over the defined
    resamples, with the same seed."""
    point = _clean(statistic(np.arange(len(matrix))))
    if point is None:
        return Interval(None, None, None, "none (undefined)")
    if len(matrix) < 2:
        return Interval(point, None, None, "none (fewer than 2 days)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sps.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # BCa acceleration of constant data
        res = sps.bootstrap(
            (np.arange(len(matrix)),),
            statistic,
            n_resamples=n_resamples,
            vectorized=True,
            method="BCa",
            rng=np.random.default_rng(seed),
        )
    low, high = _clean(res.confidence_interval.low), _clean(res.confidence_interval.high)
    if low is not None and high is not None:
        return Interval(point, low, high, "day-block bootstrap (BCa)")
    draws = np.random.default_rng(seed).integers(0, len(matrix), (n_resamples, len(matrix)))
    values = np.asarray(statistic(draws), dtype=float)
    defined = values[~np.isnan(values)]
    if not len(defined):
        return Interval(point, None, None, "none (degenerate resamples)")
    low, high = np.percentile(defined, [2.5, 97.5])
    dropped = len(values) - len(defined)
    return Interval(
        point,
        float(low),
        float(high),
        f"day-block bootstrap (percentile, {dropped} undefined resamples dropped)",
    )


def bootstrap_f1(
    per_day: pd.DataFrame,
    expo: Exposure,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> Interval:
    """Day-block bootstrap interval of one detector's F1 (days resampled with replacement)."""
    _, matrix = _day_matrix([per_day], expo)

    def statistic(idx, axis=-1):
        return _stats(matrix[np.asarray(idx)], 1)[0][0]

    return _bootstrap(matrix, statistic, seed, n_resamples)


def bootstrap_differences(
    per_day_a: pd.DataFrame,
    per_day_b: pd.DataFrame,
    expo: Exposure,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> dict[str, Interval]:
    """Intervals for B - A in F1 and in false alarms per category-day; both detectors see the
    same resampled days (paired blocks)."""
    _, matrix = _day_matrix([per_day_a, per_day_b], expo)

    def f1_diff(idx, axis=-1):
        f1, _ = _stats(matrix[np.asarray(idx)], 2)
        return f1[1] - f1[0]

    def fa_diff(idx, axis=-1):
        _, fa = _stats(matrix[np.asarray(idx)], 2)
        return fa[1] - fa[0]

    return {
        "f1": _bootstrap(matrix, f1_diff, seed, n_resamples),
        "false_alarms_per_category_day": _bootstrap(matrix, fa_diff, seed, n_resamples),
    }
