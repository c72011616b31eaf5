"""Korean-time (UTC+9) daily and weekly seasonality and slow per-category drifts.

Minutes are integer minute indexes since the Unix epoch (UTC). KST minute = UTC minute + 540.
"""

from __future__ import annotations

import numpy as np

from streampulse_assets.lib.sources.simulator.hash import combine, normal

KST_OFFSET = 540
DAY = 1440
# Share of the daily peak by KST hour 0..24 (hour 24 = hour 0): trough 05-07, peak 21-23.
_HOURLY = np.array(
    [0.85, 0.70, 0.52, 0.38, 0.28, 0.22, 0.21, 0.24, 0.30, 0.36, 0.42, 0.48, 0.54,
     0.57, 0.60, 0.62, 0.65, 0.70, 0.78, 0.88, 0.95, 1.00, 1.00, 0.95, 0.85],
    dtype=np.float64,
)  # fmt: skip
_KNOTS = np.arange(25, dtype=np.float64) * 60.0
# Monday..Sunday
_WEEKDAY = np.array([0.93, 0.92, 0.94, 0.95, 1.02, 1.10, 1.07], dtype=np.float32)
S_DAYFAC, S_WANDER, S_TREND = 11, 12, 13
WANDER_STEP = 20
TREND_STEP = 3 * DAY  # knots of the multi-day organic trend
PLATFORM_KEY = 1_000_000  # day-factor key of a whole platform (beyond any category index)


def kst_day(minutes: np.ndarray) -> np.ndarray:
    return (np.asarray(minutes, np.int64) + KST_OFFSET) // DAY


def daily_curve(kst_minute_of_day: np.ndarray) -> np.ndarray:
    return np.interp(np.mod(kst_minute_of_day, DAY), _KNOTS, _HOURLY).astype(np.float32)


def night_weight(curve: np.ndarray) -> np.ndarray:
    """1 deep in the night (curve <= 0.25), 0 from the afternoon on (curve >= 0.55)."""
    return np.clip((0.55 - curve) / 0.30, 0.0, 1.0).astype(np.float32)


def seasonal_factor(shift: np.ndarray, weekend: np.ndarray, minutes: np.ndarray):
    """Deterministic daily x weekly factor [C, M] and the daily curve itself [C, M]."""
    kst = np.asarray(minutes, np.int64) + KST_OFFSET
    mod = (kst % DAY)[None, :].astype(np.float64) - shift[:, None]
    curve = daily_curve(mod)
    weekday = ((kst // DAY) + 3) % 7  # 1970-01-01 was a Thursday
    week = _WEEKDAY[weekday][None, :]
    afternoon = np.clip(1.0 - np.abs((kst % DAY) - 14 * 60) / 300.0, 0, 1).astype(np.float32)
    boost = 1.0 + (weekend[:, None] - 1.0) * (afternoon * (weekday >= 5))[None, :]
    return (curve * week * boost).astype(np.float32), curve


def _knot_interp(seed: int, stream: int, cats, knot_idx, frac, sigma: float, smooth: bool):
    lo = int(knot_idx.min()) if len(knot_idx) else 0
    span = int(knot_idx.max()) - lo + 2 if len(knot_idx) else 0
    if span <= len(knot_idx):  # draw each knot once, then gather per minute (same values)
        knots = normal(seed, stream, combine(cats[:, None], np.arange(lo, lo + span)[None, :]))
        left, right = knots[:, knot_idx - lo], knots[:, knot_idx - lo + 1]
    else:
        left = normal(seed, stream, combine(cats[:, None], knot_idx[None, :]))
        right = normal(seed, stream, combine(cats[:, None], knot_idx[None, :] + 1))
    if smooth:
        frac = 0.5 - 0.5 * np.cos(np.pi * frac)
    z = left + (right - left) * frac[None, :].astype(np.float32)
    return np.exp(np.float32(sigma) * z)


def day_factor(seed: int, cats: np.ndarray, minutes: np.ndarray, sigma: float = 0.08):
    """Day-to-day popularity drift per category, interpolated between KST noons."""
    pos = (np.asarray(minutes, np.int64) + KST_OFFSET - DAY // 2) / DAY
    knot = np.floor(pos).astype(np.int64)
    return _knot_interp(seed, S_DAYFAC, cats, knot, pos - knot, sigma, smooth=False)


def wander(seed: int, cats: np.ndarray, minutes: np.ndarray, sigma: np.ndarray | float):
    """Slow random wander of a category's background (knots every 20 minutes)."""
    m = np.asarray(minutes, np.int64)
    knot = m // WANDER_STEP
    frac = (m % WANDER_STEP) / WANDER_STEP
    base = _knot_interp(seed, S_WANDER, cats, knot, frac, 1.0, smooth=True)
    return base ** np.asarray(sigma, np.float32)


def trend(seed: int, cats: np.ndarray, minutes: np.ndarray, sigma: float):
    """Slow multi-day organic growth or decline per category (smooth knots every 3 days)."""
    m = np.asarray(minutes, np.int64)
    knot = m // TREND_STEP
    return _knot_interp(seed, S_TREND, cats, knot, (m % TREND_STEP) / TREND_STEP, sigma, True)
