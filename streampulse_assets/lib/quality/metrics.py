"""Event-level detection metrics per detector, from an events frame and labelled windows.

Definitions (pinned by streampulse_assets_tests/test_quality_metrics.py):
- an alert is a SPIKE row of the detector (the detector already applied its cooldown);
- an alert is true when its minute lies in [start - 5 min, end] of a positive window of the same
  platform and category, unless it lies in an `operator_false` label (the operator's verdict on
  that minute wins); every other alert is a false alarm, reported by the kind of the non-spike
  label it overlaps ([start, end]) or as "unlabelled";
- a label with category_id "*" applies to every category of its platform;
- positive windows of one platform+category that overlap are merged into one window;
- recall = windows with >= 1 true alert / windows; precision = true alerts / alerts;
  F1 = 2PR / (P + R), 0 when nothing is right, None when there are neither alerts nor windows;
- detection delay = first true alert - window start, in minutes (may be down to -5);
- candidate coverage = windows with a SPIKE or CANDIDATE row in the tolerance range / windows;
- warm-up (optional, `Warmup`): each series' first `days` after its first minute (by default 7,
  the days before the seasonal baseline exists) are not scored: alerts in them, windows starting
  in them, and alerts that only match such a window are left out, and false alarms are divided
  by the category-days after the warm-up (`scored_exposure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from streampulse_assets.lib.quality.exposure import (  # noqa: F401 (re-exported)
    DEFAULT_WARMUP_DAYS,
    PLATFORM_WIDE,
    Exposure,
    Warmup,
    _until,
    exposure,
    exposure_from_span,
    scored_exposure,
    series_spans,
    warmup_from_spans,
)
from streampulse_assets.lib.timeutil import naive_utc_minutes

POSITIVE_KINDS = frozenset(
    {"streamer_spike", "category_surge", "category_adoption", "nab_anomaly", "operator_true"}
)
NEGATIVE_KINDS = frozenset(
    {
        "organic_growth", "missing_minute", "partial_outage", "operator_false",
        "borderline_rise", "event_day", "platform_dip", "small_category_churn",
    }
)  # fmt: skip
TOLERANCE = timedelta(minutes=5)
UNLABELLED = "unlabelled"
_KEY = ["platform", "category_id"]
_LABEL_FIELDS = ("platform", "category_id", "start", "end", "kind")


class LabelError(ValueError):
    """A label is malformed; the message names the label and the problem."""


def labels_frame(labels: list[dict]) -> pd.DataFrame:
    """Validated labels as a frame: platform, category_id, start, end (naive UTC), kind."""
    for i, item in enumerate(labels):
        missing = [f for f in _LABEL_FIELDS if item.get(f) in (None, "")]
        if missing:
            raise LabelError(f"label #{i} {item!r} lacks {', '.join(missing)}")
        if item["kind"] not in POSITIVE_KINDS | NEGATIVE_KINDS:
            raise LabelError(f"label #{i} has unknown kind {item['kind']!r}")
    frame = pd.DataFrame(
        {f: [item[f] for item in labels] for f in _LABEL_FIELDS}, columns=list(_LABEL_FIELDS)
    )
    frame["platform"] = frame["platform"].astype(str)
    frame["category_id"] = frame["category_id"].astype(str)
    try:
        frame["start"] = naive_utc_minutes(frame["start"])
        frame["end"] = naive_utc_minutes(frame["end"])
    except (ValueError, TypeError) as exc:
        raise LabelError(f"label timestamps must be ISO UTC: {exc}") from exc
    bad = frame[frame["end"] < frame["start"]]
    if len(bad):
        raise LabelError(f"label ends before it starts: {bad.iloc[0].to_dict()}")
    return frame.drop_duplicates().reset_index(drop=True)


def positive_windows(labels: pd.DataFrame) -> pd.DataFrame:
    """Positive labels, overlapping windows of one platform+category merged, sorted."""
    pos = labels[labels["kind"].isin(POSITIVE_KINDS)].sort_values([*_KEY, "start", "end"])
    rows: list[dict] = []
    for key, group in pos.groupby(_KEY, sort=True):
        current: dict | None = None
        for r in group.itertuples(index=False):
            if current is not None and r.start <= current["end"]:
                current["end"] = max(current["end"], r.end)
                continue
            current = {"platform": key[0], "category_id": key[1], "start": r.start, "end": r.end}
            current["kind"] = r.kind
            rows.append(current)
    return pd.DataFrame(rows, columns=[*_KEY, "start", "end", "kind"])


def split_warmup(windows: pd.DataFrame, warmup: Warmup | None):
    """(windows scored, windows starting in their series' warm-up)."""
    if warmup is None or windows.empty:
        return windows, windows.iloc[0:0]
    early = windows["start"].to_numpy() < _until(windows, warmup)
    return windows[~early].reset_index(drop=True), windows[early].reset_index(drop=True)


def drop_warmup_rows(rows, kept: pd.DataFrame, excluded: pd.DataFrame, warmup: Warmup | None):
    """Rows (alerts) scored: not in their series' warm-up, not matching only excluded windows."""
    if warmup is None or rows.empty:
        return rows
    drop = rows["ts"].to_numpy() < _until(rows, warmup)
    near_excluded = np.zeros(len(rows), bool)
    near_excluded[_pairs(rows, excluded, TOLERANCE)["row"].to_numpy()] = True
    near_kept = np.zeros(len(rows), bool)
    near_kept[_pairs(rows, kept, TOLERANCE)["row"].to_numpy()] = True
    return rows[~(drop | (near_excluded & ~near_kept))].reset_index(drop=True)


def f1_from_counts(alerts, true_alerts, windows, caught):
    """F1 from counts (scalars or numpy arrays); NaN when there are neither alerts nor windows."""
    a, t, w, c = (np.asarray(x, dtype=float) for x in (alerts, true_alerts, windows, caught))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(a > 0, t / np.where(a > 0, a, 1), 0.0)
        r = np.where(w > 0, c / np.where(w > 0, w, 1), 0.0)
        f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
    return np.where((a == 0) & (w == 0), np.nan, f1)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class DetectorScore:
    detector: str
    alerts: int
    true_alerts: int
    windows: int
    windows_caught: int
    windows_candidate: int
    category_days: float
    false_alarms_by_kind: dict[str, int]
    delays: list[float]
    caught: list[bool]  # per window scored, in the order of positive_windows(labels)
    per_day: pd.DataFrame  # day -> alerts, true_alerts, windows, windows_caught, false_alarms
    alerts_excluded: int = 0  # by the warm-up
    windows_excluded: int = 0

    @property
    def false_alarms(self) -> int:
        return self.alerts - self.true_alerts

    @property
    def precision(self) -> float | None:
        return _ratio(self.true_alerts, self.alerts)

    @property
    def recall(self) -> float | None:
        return _ratio(self.windows_caught, self.windows)

    @property
    def f1(self) -> float | None:
        value = float(
            f1_from_counts(self.alerts, self.true_alerts, self.windows, self.windows_caught)
        )
        return None if np.isnan(value) else value

    @property
    def false_alarms_per_category_day(self) -> float | None:
        return self.false_alarms / self.category_days if self.category_days > 0 else None

    @property
    def candidate_coverage(self) -> float | None:
        return _ratio(self.windows_candidate, self.windows)

    def delay(self, q: float) -> float | None:
        return float(np.percentile(self.delays, q)) if self.delays else None


def _events(events: pd.DataFrame, detector: str) -> pd.DataFrame:
    if events.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in [*_KEY, "ts", "level"]})
    missing = {"detector", *_KEY, "ts", "level"} - set(events.columns)
    if missing:
        raise ValueError(f"events frame lacks columns {sorted(missing)}")
    rows = events[events["detector"] == detector][[*_KEY, "ts", "level"]].copy()
    rows["platform"] = rows["platform"].astype(str)
    rows["category_id"] = rows["category_id"].astype(str)
    rows["ts"] = naive_utc_minutes(rows["ts"]) if len(rows) else rows["ts"]
    return rows.reset_index(drop=True)


def _pairs(rows: pd.DataFrame, spans: pd.DataFrame, before: timedelta) -> pd.DataFrame:
    """(row index, span index) for every row whose ts lies in [span start - before, span end]
    on the span's platform and category (category "*" = every category of the platform)."""
    if rows.empty or spans.empty:
        return pd.DataFrame({"row": pd.Series(dtype=int), "span": pd.Series(dtype=int)})
    left = rows[[*_KEY, "ts"]].assign(row=np.arange(len(rows)))
    right = spans[[*_KEY, "start", "end"]].assign(span=np.arange(len(spans)))
    wide = right["category_id"] == PLATFORM_WIDE
    m = pd.concat(
        [
            left.merge(right[~wide], on=_KEY),
            left.merge(right[wide].drop(columns="category_id"), on="platform"),
        ]
    )
    m = m[(m["ts"] >= m["start"] - before) & (m["ts"] <= m["end"])]
    return m[["row", "span"]].astype(int).reset_index(drop=True)


def score_detector(
    events: pd.DataFrame,
    labels: list[dict] | pd.DataFrame,
    detector: str,
    category_days: float,
    warmup: Warmup | None = None,
) -> DetectorScore:
    """Score one detector's events against labels; `category_days` = Exposure.category_days
    (with a warm-up: scored_exposure(warmup).category_days)."""
    frame = labels if isinstance(labels, pd.DataFrame) else labels_frame(labels)
    windows, early = split_warmup(positive_windows(frame), warmup)
    negatives = frame[frame["kind"].isin(NEGATIVE_KINDS)].reset_index(drop=True)
    all_rows = _events(events, detector)
    rows = drop_warmup_rows(all_rows, windows, early, warmup)
    spikes = rows[rows["level"] == "SPIKE"].reset_index(drop=True)
    spikes_excluded = int((all_rows["level"] == "SPIKE").sum()) - len(spikes)

    hits = _pairs(spikes, windows, TOLERANCE)
    neg = _pairs(spikes, negatives, timedelta(0))
    neg["kind"] = negatives["kind"].to_numpy()[neg["span"].to_numpy()] if len(neg) else []
    vetoed = set(neg.loc[neg["kind"] == "operator_false", "row"])
    hits = hits[~hits["row"].isin(vetoed)]
    true_rows = set(hits["row"])

    is_true = np.array([i in true_rows for i in range(len(spikes))], dtype=bool)
    kind_of = neg.sort_values("kind", key=lambda k: k != "operator_false").drop_duplicates("row")
    kind_of = dict(zip(kind_of["row"], kind_of["kind"], strict=True))
    by_kind: dict[str, int] = {}
    for i in np.flatnonzero(~is_true):
        kind = kind_of.get(int(i), UNLABELLED)
        by_kind[kind] = by_kind.get(kind, 0) + 1

    first = hits.assign(ts=spikes["ts"].to_numpy()[hits["row"]]).groupby("span")["ts"].min()
    caught = [i in first.index for i in range(len(windows))]
    delays = [
        (first[i] - windows.at[i, "start"]) / pd.Timedelta(minutes=1) for i in sorted(first.index)
    ]
    flagged = rows[rows["level"].isin(["SPIKE", "CANDIDATE"])].reset_index(drop=True)
    covered = set(_pairs(flagged, windows, TOLERANCE)["span"])

    per_day = _per_day(spikes, is_true, windows, caught)
    return DetectorScore(
        detector=detector,
        alerts=len(spikes),
        true_alerts=int(is_true.sum()),
        windows=len(windows),
        windows_caught=int(sum(caught)),
        windows_candidate=len(covered),
        category_days=float(category_days),
        false_alarms_by_kind=dict(sorted(by_kind.items())),
        delays=[float(d) for d in delays],
        caught=caught,
        per_day=per_day,
        alerts_excluded=spikes_excluded,
        windows_excluded=len(early),
    )


def _per_day(
    spikes: pd.DataFrame, is_true: np.ndarray, windows: pd.DataFrame, caught: list[bool]
) -> pd.DataFrame:
    """Counts per UTC day (alerts by their minute, windows by their start) for block bootstraps."""
    cols = ["alerts", "true_alerts", "windows", "windows_caught", "false_alarms"]
    a = pd.DataFrame({"day": spikes["ts"].dt.date if len(spikes) else [], "true": is_true})
    w = pd.DataFrame({"day": windows["start"].dt.date if len(windows) else [], "caught": caught})
    out = pd.DataFrame(
        {
            "alerts": a.groupby("day").size(),
            "true_alerts": a.groupby("day")["true"].sum(),
            "windows": w.groupby("day").size(),
            "windows_caught": w.groupby("day")["caught"].sum(),
        }
    )
    out = out.reindex(columns=cols[:4]).fillna(0).astype(int)
    out["false_alarms"] = out["alerts"] - out["true_alerts"]
    out.index.name = "day"
    return out[cols]


def score_events(
    events: pd.DataFrame,
    labels: list[dict] | pd.DataFrame,
    category_days: float,
    detectors: tuple[str, ...] = ("V1", "V3"),
    warmup: Warmup | None = None,
) -> dict[str, DetectorScore]:
    frame = labels if isinstance(labels, pd.DataFrame) else labels_frame(labels)
    return {d: score_detector(events, frame, d, category_days, warmup) for d in detectors}
