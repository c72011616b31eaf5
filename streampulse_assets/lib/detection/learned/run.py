"""Score a panel hour by hour (vectorised over series) and turn scores into alerts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from streampulse_assets.lib.detection.learned.config import LearnedConfig
from streampulse_assets.lib.detection.learned.features import Panel, window_rows
from streampulse_assets.lib.detection.learned.model import (
    ModelState,
    score_rows,
    series_of,
    update,
)


@dataclass
class PanelScores:
    score: np.ndarray  # per scored row
    z: np.ndarray
    window: np.ndarray


def learn_hour(state, sids, inputs, spans, rows_per_day, hour: int, cfg, learn: bool = True):
    """Score one hour's rows (`sids` in series then time order; `spans` [S, K] and
    `rows_per_day` [S] per series) from their series' state at the start of that hour; for a
    complete hour (`learn`), the state then learns from them and moves to the next hour. The one
    step of both the scoring pass and the catch-up from stored rows."""
    state.decay_to(series_of(sids)[0], hour, cfg)
    res, errors = score_rows(state, sids, inputs, spans, rows_per_day, hour, cfg)
    if learn:
        update(state, sids, errors, hour, cfg)
    return res


# A panel of at least this many rows is scored in two threads, each with half of the series
# (series are independent; numpy releases the GIL in its array operations).
PARALLEL_MIN_ROWS = 200_000


def score_panel(
    panel: Panel,
    rows: np.ndarray,
    inputs: np.ndarray,
    state: ModelState,
    cfg: LearnedConfig,
    complete_hours: np.ndarray | None = None,
) -> PanelScores:
    """Score `rows` (indices into the panel, with their inputs [K, 1 + lags, m]) hour by hour.

    Each row is scored with its series' state at the start of its hour; after an hour is scored
    the state learns from it, if that hour is in `complete_hours` (all of its rows are among
    `rows`; default: every hour but the last, which may still be open). `state` is advanced in
    place, so the caller can store it. Each series only ever meets its own rows and state, so a
    large panel is scored as two halves of its series at once, with the same results.
    """
    m = len(rows)
    score, z_out, win = np.zeros(m), np.full(m, np.nan), np.full(m, -1)
    if m == 0:
        return PanelScores(score, z_out, win)
    hour = panel.minute[rows] // 60
    if complete_hours is None:
        complete = set(np.unique(hour)[:-1].tolist())
    else:
        complete = set(np.asarray(complete_hours).tolist())
    sids = panel.sid[rows]
    parts = [np.arange(m)]
    if m >= PARALLEL_MIN_ROWS:
        cut = np.median(sids)
        parts = [p for p in (np.flatnonzero(sids <= cut), np.flatnonzero(sids > cut)) if len(p)]
    args = (panel, rows, inputs, state, cfg, hour, complete, (score, z_out, win))
    if len(parts) == 1:
        _score_part(parts[0], *args)
    else:
        with ThreadPoolExecutor(1, thread_name_prefix="learned-half") as half:
            other = half.submit(_score_part, parts[1], *args)
            _score_part(parts[0], *args)
            other.result()
    return PanelScores(score, z_out, win)


def _score_part(part, panel, rows, inputs, state, cfg, hour, complete, out) -> None:
    """score_panel over the rows `part` (positions in `rows`), hour by hour, into `out`."""
    score, z_out, win = out
    order = part[np.argsort(hour[part], kind="stable")]
    hours_sorted = hour[order]
    bounds = np.flatnonzero(np.diff(hours_sorted)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(order)]])
    spans = window_rows(cfg, panel.step)
    rows_per_day = 1440.0 / panel.step
    for a, b in zip(starts, ends, strict=True):
        sel = order[a:b]
        h = int(hours_sorted[a])
        sids = panel.sid[rows[sel]]
        hour_inputs = np.take(inputs, sel, axis=2)
        res = learn_hour(state, sids, hour_inputs, spans, rows_per_day, h, cfg, h in complete)
        score[sel], z_out[sel], win[sel] = res.score, res.z, res.window


def alerts(
    sid: np.ndarray,
    minute: np.ndarray,
    score: np.ndarray,
    cfg: LearnedConfig,
    last_above: dict[int, int] | None = None,
) -> np.ndarray:
    """Rows (sorted by sid, minute) that are alerts: score >= threshold and no row of the series
    reached the threshold in the previous `quiet_minutes`, so one excursion (a rise, a drop, or
    a drop and its recovery) is one alert: the anomalies NAB scores. `last_above` gives, per
    series, the minute of its latest row at or above the threshold before these rows."""
    return first_after_quiet(sid, minute, score >= cfg.threshold, cfg, last_above)


def spike_rows(
    sid: np.ndarray,
    minute: np.ndarray,
    score: np.ndarray,
    z: np.ndarray,
    value: np.ndarray,
    level: np.ndarray,
    cfg: LearnedConfig,
    last_marked: dict[int, int] | None = None,
) -> np.ndarray:
    """Rows (sorted by sid, minute) that are SPIKEs: alerts as `alerts` makes them, counting only
    the rows that `spike_marks` marks, and on a rise (z > 0). An improbable rise smaller than
    `spike_growth` x its level is an anomaly, not a spike, and does not start the quiet period,
    so the same excursion is a SPIKE at the first row it reaches that size; a drop does, so a
    dip's recovery is not one. `last_marked`: per series, the minute of its latest marked row
    before these rows."""
    marked = spike_marks(score, z, value, level, cfg)
    return first_after_quiet(sid, minute, marked, cfg, last_marked) & (z > 0)


def spike_marks(score, z, value, level, cfg: LearnedConfig) -> np.ndarray:
    """Rows at or above the threshold that are a drop (z < 0) or a rise to at least
    `spike_growth` x the level (reads.quiet_seeds asks the same of stored rows)."""
    above = score >= cfg.threshold
    with np.errstate(invalid="ignore"):
        return above & ((z < 0) | (value >= cfg.spike_growth * level))


def first_after_quiet(
    sid: np.ndarray,
    minute: np.ndarray,
    above: np.ndarray,
    cfg: LearnedConfig,
    last_above: dict[int, int] | None = None,
) -> np.ndarray:
    """Rows of `above` (sorted by sid, minute) with no row of `above` of their series in the
    previous `quiet_minutes` (`last_above`: per series, the minute of its latest such row before
    these rows)."""
    idx = np.flatnonzero(above)
    if len(idx) == 0:
        return np.zeros(len(above), dtype=bool)
    s, t = sid[idx], minute[idx]
    prev_t = np.empty(len(idx), dtype=np.int64)
    prev_t[1:] = t[:-1]
    first = np.ones(len(idx), dtype=bool)
    first[1:] = s[1:] != s[:-1]
    seed = last_above or {}
    prev_t[first] = [seed.get(int(x), -(10**12)) for x in s[first]]
    out = np.zeros(len(above), dtype=bool)
    out[idx] = t - prev_t > cfg.quiet_minutes
    return out
