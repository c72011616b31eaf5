"""Exposure (the category-days false alarms are divided by) and the per-series warm-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from streampulse_assets.lib.timeutil import naive_utc_minutes

PLATFORM_WIDE = "*"  # category_id of platform-wide labels (missing minutes, partial outages)
_KEY = ["platform", "category_id"]


@dataclass(frozen=True)
class Exposure:
    """The denominator of false alarms: distinct categories x days covered by the snapshots.

    `scored`, when set, is the category-days actually scored per UTC day (after each series'
    warm-up, within each series' own span); it then replaces categories x day fractions."""

    n_categories: int
    day_fractions: dict[date, float] = field(default_factory=dict)
    scored: dict[date, float] | None = None

    @property
    def days(self) -> float:
        return float(sum(self.day_fractions.values()))

    @property
    def category_days(self) -> float:
        if self.scored is not None:
            return float(sum(self.scored.values()))
        return self.n_categories * self.days

    def category_days_on(self, day: date) -> float:
        if self.scored is not None:
            return self.scored.get(day, 0.0)
        return self.n_categories * self.day_fractions.get(day, 0.0)


def exposure_from_span(n_categories: int, first, last) -> Exposure:
    """Exposure of `n_categories` observed from minute `first` to minute `last` (inclusive):
    per UTC day, the share of its minutes inside that span."""
    if not n_categories or first is None or pd.isna(first):
        return Exposure(int(n_categories or 0), {})
    first = pd.Timestamp(first).floor("min")
    last = pd.Timestamp(last).floor("min") + pd.Timedelta(minutes=1)
    fractions: dict[date, float] = {}
    day = first.normalize()
    while day < last:
        nxt = day + pd.Timedelta(days=1)
        fractions[day.date()] = float((min(nxt, last) - max(day, first)) / pd.Timedelta(days=1))
        day = nxt
    return Exposure(int(n_categories), fractions)


def exposure(snapshots: pd.DataFrame) -> Exposure:
    """Distinct platform+category pairs in a snapshot frame, observed from its first to its
    last minute."""
    if snapshots.empty:
        return Exposure(0, {})
    n = int(snapshots[_KEY].astype(str).drop_duplicates().shape[0])
    ts = naive_utc_minutes(snapshots["ts"])
    return exposure_from_span(n, ts.min(), ts.max())


DEFAULT_WARMUP_DAYS = 7.0


@dataclass(frozen=True)
class Warmup:
    """Per series: first and last minute, and `until` = first + days (scored from `until` on)."""

    days: float
    series: pd.DataFrame  # platform, category_id, first, last, until


def series_spans(rows: pd.DataFrame) -> pd.DataFrame:
    """First and last minute of every platform + category in a frame with a ts column."""
    cols = [*_KEY, "first", "last"]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    ts = pd.to_datetime(rows["ts"]).dt.floor("min")
    spans = ts.groupby([rows[k] for k in _KEY], sort=True, observed=True).agg(["min", "max"])
    spans = spans.reset_index().rename(columns={"min": "first", "max": "last"})
    for col in _KEY:
        spans[col] = spans[col].astype(str)
    return spans[cols]


def warmup_from_spans(spans: pd.DataFrame, days: float = DEFAULT_WARMUP_DAYS) -> Warmup:
    if days < 0:
        raise ValueError(f"warm-up days must be >= 0, not {days}")
    series = spans[[*_KEY, "first", "last"]].copy()
    series["until"] = series["first"] + pd.Timedelta(days=days)
    return Warmup(float(days), series.reset_index(drop=True))


def scored_exposure(warmup: Warmup, start=None, end=None) -> Exposure:
    """Exposure whose category-days are each series' minutes from `until` to its last minute,
    optionally only those in [start, end) (a daily partition whose series began earlier)."""
    s = warmup.series
    if s.empty:
        return Exposure(0, {}, {})
    first, last = s["first"].min(), s["last"].max()
    if start is not None:
        first = max(first, pd.Timestamp(start))
    if end is not None:
        last = min(last, pd.Timestamp(end) - pd.Timedelta(minutes=1))
    base = exposure_from_span(len(s), first, last)
    lo = np.maximum(s["until"].to_numpy(), s["first"].to_numpy())
    hi = (s["last"] + pd.Timedelta(minutes=1)).to_numpy()
    lo = np.maximum(lo, np.datetime64(pd.Timestamp(first)))
    hi = np.minimum(hi, np.datetime64(pd.Timestamp(last) + pd.Timedelta(minutes=1)))
    scored: dict[date, float] = {}
    for day in base.day_fractions:
        day_start = np.datetime64(pd.Timestamp(day))
        day_end = day_start + np.timedelta64(1, "D")
        overlap = np.minimum(hi, day_end) - np.maximum(lo, day_start)
        overlap = np.clip(overlap, np.timedelta64(0), None)
        scored[day] = float(overlap.sum() / np.timedelta64(1, "D"))
    return Exposure(base.n_categories, base.day_fractions, scored)


def _until(frame: pd.DataFrame, warmup: Warmup) -> np.ndarray:
    """Warm-up end of each row's series (NaT when unknown; "*" = the platform's earliest)."""
    spans = warmup.series[[*_KEY, "until"]]
    out = frame[_KEY].astype(str).merge(spans, on=_KEY, how="left")["until"].to_numpy()
    wide = (frame["category_id"].astype(str) == PLATFORM_WIDE).to_numpy()
    if wide.any():
        per_platform = spans.groupby("platform")["until"].min()
        out[wide] = frame.loc[wide, "platform"].astype(str).map(per_platform).to_numpy()
    return out.astype("datetime64[us]")
