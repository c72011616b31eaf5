"""NAB scoring of a corpus of series (as nab/scorer.py scoreCorpus and nab/optimizer.py do), and
the frames that turn StreamPulse detectors and labels into NAB's input.

A series is one platform + category ("platform/category_id"); its rows are every snapshot minute
of it; its windows are the positive labels of it (kind in POSITIVE_KINDS, overlaps merged; a
"*" positive label applies to every category of its platform). Binary detectors (V1, V3) score 1
at an emitted SPIKE row and 0 elsewhere, and are scored at threshold 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from streampulse_assets.lib.quality.metrics import (
    PLATFORM_WIDE,
    POSITIVE_KINDS,
    labels_frame,
    positive_windows,
)
from streampulse_assets.lib.quality.nab_scoring import (
    NO_DETECTION_THRESHOLD,
    PROBATION_PERCENT,
    PROFILES,
    SeriesScore,
    SweepRows,
    _profile,
    normalised,
    score_rows,
    sweep_rows,
)

BINARY_THRESHOLD = 0.5
_KEY = ["platform", "category_id"]


@dataclass
class CorpusScore:
    profile: str
    threshold: float
    raw: dict[str, float]  # per series
    total_raw: float
    normalised: float | None
    windows: int
    hits: int
    fp_count: int
    per_series: dict[str, SeriesScore] = field(repr=False, default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "threshold": self.threshold,
            "normalised": self.normalised,
            "raw": self.total_raw,
            "windows": self.windows,
            "windows_hit": self.hits,
            "fp_count": self.fp_count,
        }


def _sweeps(series: dict, windows: dict, probation_percent: float) -> dict[str, SweepRows]:
    return {
        name: sweep_rows(ts, scores, windows.get(name, []), probation_percent)
        for name, (ts, scores) in series.items()
    }


def _threshold(threshold: float | dict[str, float], profile: str) -> float:
    return float(threshold[profile] if isinstance(threshold, dict) else threshold)


def score_corpus(
    series: dict[str, tuple],
    windows: dict[str, list],
    threshold: float | dict[str, float],
    profiles=tuple(PROFILES),
    probation_percent: float = PROBATION_PERCENT,
) -> dict[str, CorpusScore]:
    """Per profile: raw score per series, their total, normalised total, windows, hits and
    false positives. `threshold` is one value or one per profile (NAB tunes one per profile)."""
    sweeps = _sweeps(series, windows, probation_percent)
    out: dict[str, CorpusScore] = {}
    for name in profiles:
        t = _threshold(threshold, name)
        per = {key: score_rows(rows, t, name) for key, rows in sweeps.items()}
        total = float(sum(s.raw for s in per.values()))
        n_windows = sum(s.windows for s in per.values())
        out[name] = CorpusScore(
            profile=name,
            threshold=t,
            raw={key: s.raw for key, s in per.items()},
            total_raw=total,
            normalised=normalised(total, n_windows, name),
            windows=n_windows,
            hits=sum(s.windows_hit for s in per.values()),
            fp_count=sum(s.fp for s in per.values()),
            per_series=per,
        )
    return out


@dataclass(frozen=True)
class InSampleOptimum:
    """The best threshold on the very data it is scored on (as NAB's optimizer reports it): an
    in-sample, optimistic number, not a held-out score."""

    profile: str
    threshold: float
    total_raw: float
    normalised: float | None


def _sweep_totals(sweeps: dict[str, SweepRows], profile) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, corpus raw score) for every distinct score, highest first, after the
    no-detection state at NO_DETECTION_THRESHOLD (nab/sweeper.py calcScoreByThreshold)."""
    p = _profile(profile)
    parts, offset = [], 0
    for rows in sweeps.values():
        gid = np.where(rows.window >= 0, rows.window + offset, -1)
        parts.append(pd.DataFrame({"score": rows.scores, "u": rows.unweighted, "w": gid}))
        offset += rows.n_windows
    base = -p.fn * offset
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["score"])
    frame = frame[frame["score"].notna()].sort_values("score", ascending=False, kind="stable")
    if frame.empty:
        return np.array([NO_DETECTION_THRESHOLD]), np.array([base])
    inside = frame["w"].to_numpy() >= 0
    value = np.where(inside, frame["u"].to_numpy() * p.tp, frame["u"].to_numpy() * p.fp)
    inc = value.copy()
    win = pd.DataFrame({"w": frame["w"].to_numpy()[inside], "v": value[inside]})
    best = win.groupby("w")["v"].cummax()
    inc[inside] = (best - best.groupby(win["w"]).shift(fill_value=-p.fn)).to_numpy()
    totals = base + np.cumsum(inc)
    scores = frame["score"].to_numpy()
    last = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))
    return np.append(NO_DETECTION_THRESHOLD, scores[last]), np.append(base, totals[last])


def optimise_threshold(
    series: dict[str, tuple],
    windows: dict[str, list],
    profiles=tuple(PROFILES),
    probation_percent: float = PROBATION_PERCENT,
) -> dict[str, InSampleOptimum]:
    """NAB's optimizer: sweep every distinct score of the corpus, keep the best total per
    profile (ties: the highest threshold). In-sample by construction."""
    sweeps = _sweeps(series, windows, probation_percent)
    n_windows = sum(r.n_windows for r in sweeps.values())
    out = {}
    for name in profiles:
        thresholds, totals = _sweep_totals(sweeps, name)
        k = int(np.argmax(totals))
        score = float(totals[k])
        out[name] = InSampleOptimum(
            name, float(thresholds[k]), score, normalised(score, n_windows, name)
        )
    return out


def series_name(platform, category_id) -> str:
    return f"{platform}/{category_id}"


def _categorical(values: pd.Series) -> pd.Categorical:
    """Strings as a categorical (cheap on a categorical column of millions of rows)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.rename_categories([str(c) for c in values.cat.categories]).array
    return pd.Categorical(values.astype(str))


def _minutes(values) -> np.ndarray:
    ts = pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[m]")
    return ts.astype(np.int64)


def _row_keys(frame: pd.DataFrame, platforms, categories) -> np.ndarray:
    """One int64 per (platform, category, minute), coded on the given categories (-1: absent)."""
    p = pd.Categorical(frame["platform"].astype(str), categories=platforms).codes.astype(np.int64)
    c = pd.Categorical(frame["category_id"].astype(str), categories=categories).codes
    combo = np.where((p < 0) | (c < 0), -1, p * len(categories) + c.astype(np.int64))
    return np.where(combo < 0, -1, combo * 10**9 + _minutes(frame["ts"]))


def with_learned_alerts(
    events: pd.DataFrame, alerts: pd.DataFrame, rises_as: str | None = None
) -> pd.DataFrame:
    """The events NAB scores: the learned detector's rows replaced by its alerts on either side
    (`alerts`: platform, category_id, ts; its anomaly score, of which only the alerts on rises
    are SPIKE events), as detector "LEARNED" level "SPIKE". With `rises_as`, its SPIKE events
    are kept too, under that detector name."""
    learned = events["detector"] == "LEARNED"
    kept = (
        events[~learned]
        if rises_as is None
        else events.assign(detector=events["detector"].where(~learned, rises_as))
    )
    flagged = alerts[["platform", "category_id", "ts"]].assign(detector="LEARNED", level="SPIKE")
    return pd.concat([kept, flagged], ignore_index=True)


def binary_scores(rows: pd.DataFrame, events: pd.DataFrame, detector: str) -> pd.DataFrame:
    """Per-row scores of a binary detector: 1.0 at the rows where `detector` emitted a SPIKE,
    0.0 at every other row of `rows` (platform, category_id, ts; duplicates dropped)."""
    base = rows[[*_KEY, "ts"]].drop_duplicates([*_KEY, "ts"]).reset_index(drop=True)
    platform, category = _categorical(base["platform"]), _categorical(base["category_id"])
    base["platform"], base["category_id"] = platform, category
    score = np.zeros(len(base))
    if not events.empty and len(base):
        spikes = events[(events["detector"] == detector) & (events["level"] == "SPIKE")]
        cats = (platform.categories, category.categories)
        marks = _row_keys(spikes, *cats)
        n_cat = len(category.categories)
        keys = (platform.codes.astype(np.int64) * n_cat + category.codes) * 10**9
        keys += _minutes(base["ts"])
        score[np.isin(keys, marks[marks >= 0])] = 1.0
    return base.assign(score=score)


def corpus_from_frame(
    scores: pd.DataFrame, labels: list[dict] | pd.DataFrame, kinds=POSITIVE_KINDS
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, list[tuple]]]:
    """(series, windows) for score_corpus from a per-row scores frame (platform, category_id, ts,
    score) and contract labels; windows of series without rows are left out."""
    frame = labels if isinstance(labels, pd.DataFrame) else labels_frame(labels)
    rows = scores[[*_KEY, "ts", "score"]]
    series, keys = {}, []
    for key, g in rows.groupby(_KEY, sort=True, observed=True):
        ts = pd.to_datetime(g["ts"]).to_numpy()
        series[series_name(*key)] = (ts, g["score"].to_numpy(dtype=float))
        keys.append((str(key[0]), str(key[1])))
    categories = pd.DataFrame(keys, columns=_KEY, dtype=object)
    pos = positive_windows(frame[frame["kind"].isin(kinds)])
    windows: dict[str, list[tuple]] = {}
    for w in pos.itertuples(index=False):
        if w.category_id == PLATFORM_WIDE:
            cats = categories.loc[categories["platform"] == w.platform, "category_id"]
        else:
            cats = [w.category_id]
        for cat in cats:
            name = series_name(w.platform, cat)
            if name in series:
                windows.setdefault(name, []).append((w.start, w.end))
    return series, windows
