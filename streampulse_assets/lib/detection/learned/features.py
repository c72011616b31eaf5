"""What the learned detector measures on each row: rises over several windows, and the
forecasts it can choose from.

Input is a panel: rows sorted by (series, minute) with the value `x` and the series' own recent
level (`level`: median of the 60 minutes before the row, as `rolling_baselines.median_60`).
For a window of W minutes the rise is `mean(x over (t - W, t]) - level at the window's first row`
(W = 0: the row alone), so a sudden jump and a rise sustained for hours are both seen. Windows
are spans of time, not row counts: gaps only thin a window, which then needs `min_window_coverage`
of the rows its span should hold at the series' own step. A series sampled more coarsely than
`reference_step_minutes` stretches every span (windows and the level's) by its time scale, so it
sees as many rows as a series at the reference step (`time_scale`, `coarse_levels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streampulse_assets.lib.detection.learned.config import LEVEL_MINUTES, LearnedConfig
from streampulse_assets.lib.detection.windows import window_median

KEY_SHIFT = np.int64(1) << np.int64(36)  # minutes since 1970 fit in 36 bits until ~132,000 AD


def keys(sid: np.ndarray, minute: np.ndarray) -> np.ndarray:
    """One sortable int64 per (series, minute)."""
    return sid.astype(np.int64) * KEY_SHIFT + minute.astype(np.int64)


@dataclass
class Panel:
    """Rows of many series, sorted by (sid, minute); `step[sid]` = the series' step in minutes."""

    sid: np.ndarray  # int64
    minute: np.ndarray  # int64, minutes since the epoch
    x: np.ndarray  # float64
    level: np.ndarray  # float64, NaN when unknown
    step: np.ndarray  # float64 per sid (series_steps)

    @property
    def key(self) -> np.ndarray:
        return keys(self.sid, self.minute)


# Gaps a series' rows must show before their step is taken as its clock; fewer cannot tell a clock
# from rows at random (two or three random gaps are equal often enough).
CLOCK_GAPS = 8


def series_steps(sid: np.ndarray, minute: np.ndarray, n_series: int) -> np.ndarray:
    """The step each series is scored at: its sampling clock, the median gap between its
    consecutive rows where at least half of its gaps (and CLOCK_GAPS or more) are exactly that
    (a series sampled every N minutes, some rows missing); 1 minute otherwise. A series whose rows
    come at random (a category listed only in the minutes it has a live) is on the platform's
    minute clock with rows missing: its step must not follow how many of its rows one read
    happens to hold, or a live tick and a backfill would score it differently."""
    gaps = np.diff(minute).astype(np.float64)
    same = np.diff(sid) == 0
    ok = same & (gaps > 0)
    out = np.ones(n_series, dtype=np.float64)
    if ok.any():
        g_sid, g = sid[1:][ok], gaps[ok]
        order = np.lexsort((g, g_sid))
        g_sid, g = g_sid[order], g[order]
        starts = np.searchsorted(g_sid, np.arange(n_series))
        ends = np.searchsorted(g_sid, np.arange(n_series), side="right")
        has = ends > starts
        lo, hi = starts[has], ends[has] - 1
        median = (g[lo + (hi - lo) // 2] + g[lo + (hi - lo + 1) // 2]) / 2.0
        step = np.zeros(n_series)
        step[has] = median
        at_median = np.bincount(g_sid, weights=g == step[g_sid], minlength=n_series)[has]
        count = (hi - lo + 1).astype(np.float64)
        clock = (count >= CLOCK_GAPS) & (2 * at_median >= count)
        out[has] = np.where(clock, median, 1.0)
    return np.maximum(out, 1.0)


def time_scale(cfg: LearnedConfig, step: np.ndarray) -> np.ndarray:
    """Per series, the factor its spans are stretched by, from its step (series_steps): 1 up
    to `reference_step_minutes`, step / reference_step_minutes beyond (a span of rows, not of
    minutes)."""
    return np.maximum(1.0, np.asarray(step, dtype=np.float64) / cfg.reference_step_minutes)


def window_minutes(cfg: LearnedConfig, step: np.ndarray) -> np.ndarray:
    """The minutes each window spans per series [S, K]: `windows_minutes` times the series'
    time scale."""
    w = np.asarray(cfg.windows_minutes, dtype=np.float64)[None, :]
    return w * time_scale(cfg, step)[:, None]


def window_rows(cfg: LearnedConfig, step: np.ndarray) -> np.ndarray:
    """Rows each window spans per series [S, K]; 0 marks a window no wider than the row itself."""
    rows = np.rint(window_minutes(cfg, step) / step[:, None])
    rows[:, 0] = 1.0
    rows[:, 1:][rows[:, 1:] < 2] = 0.0  # the same as the row alone: not a window of its own
    return rows


def rises(
    panel: Panel, cfg: LearnedConfig, rows: np.ndarray | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """The rise of every row over every window [K, n] (rows last); NaN where it cannot be
    measured.

    `rows` limits the computation to those row indices (the others serve as history); `out`
    [K, n] receives the rises (default: a new array).
    """
    idx = np.arange(len(panel.x)) if rows is None else rows
    key = panel.key
    csum = np.concatenate([[0.0], np.cumsum(panel.x)])
    span = window_rows(cfg, panel.step)  # [S, K]
    sid = panel.sid[idx]
    scale = time_scale(cfg, panel.step)
    coarse = bool((scale > 1.0).any())
    out = np.empty((len(cfg.windows_minutes), len(idx))) if out is None else out
    for k, w in enumerate(cfg.windows_minutes):
        rise = out[k]  # the mean over the window minus the level at its first row, in place
        if w == 0:
            np.subtract(panel.x[idx], panel.level[idx], out=rise)
            continue
        # rows in (t - W, t], W stretched for coarse series
        back = np.rint(w * scale[sid]).astype(np.int64) if coarse else w
        first = np.searchsorted(key, key[idx] - back + 1)
        count = idx - first + 1
        np.subtract(csum[idx + 1], csum[first], out=rise)
        rise /= count
        rise -= panel.level[first]
        # Rows each series' window needs, per series (no row passes a window that is none).
        need = np.where(
            span[:, k] > 0, np.maximum(1.0, np.ceil(cfg.min_window_coverage * span[:, k])), np.inf
        )
        rise[count < need[sid]] = np.nan
    return out


def coarse_levels(panel: Panel, cfg: LearnedConfig) -> None:
    """Replace, in place, the level of the rows of series coarser than `reference_step_minutes`
    by the median of their values in the LEVEL_MINUTES x time scale minutes before the row (NaN
    when there are none); other rows keep theirs (rolling_baselines.median_60, or its in-memory
    equal)."""
    scale = time_scale(cfg, panel.step)
    if not (scale > 1.0).any():
        return
    idx = np.flatnonzero(scale[panel.sid] > 1.0)
    key = panel.key
    back = np.rint(LEVEL_MINUTES * scale[panel.sid[idx]]).astype(np.int64)
    lo = np.searchsorted(key, key[idx] - back)  # rows in [t - span, t)
    panel.level[idx] = window_median(panel.x, lo, idx)


def lagged(known_key: np.ndarray, known: np.ndarray, query_key: np.ndarray) -> np.ndarray:
    """Rows of `known` [K, rows] (rows sorted by `known_key`) at `query_key` [K, queries]; NaN
    where there is none."""
    out = np.full((known.shape[0], len(query_key)), np.nan)
    if len(known_key) == 0:
        return out
    pos = np.searchsorted(known_key, query_key)
    pos_c = np.minimum(pos, len(known_key) - 1)
    hit = known_key[pos_c] == query_key
    out[:, hit] = known[:, pos_c[hit]]
    return out


def model_inputs(cfg: LearnedConfig, n_rows: int, spare: np.ndarray | None = None) -> np.ndarray:
    """An unfilled array of the model's inputs [K, 1 + lags, n_rows]: inputs[:, 0] takes each
    row's rises, inputs[:, 1 + j] its rises at the same time of day lag j earlier
    (model.forecast_errors turns them into the candidates' forecast errors). Filled in place, so
    no lag is held beside it (memory) and none is copied into it. It lies in `spare` (a flat
    array: the previous window's, see store.ScoredWindow.spare) when that is large enough:
    touching fresh memory for the first time costs more than filling it. A new one has room for
    slightly more rows (days differ by a few hundred rows), so the next window can reuse it."""
    shape = (len(cfg.windows_minutes), 1 + len(cfg.seasonal_lags_minutes), n_rows)
    size = shape[0] * shape[1] * n_rows
    if spare is None or spare.size < size:
        spare = np.empty(size + size // 64)
    return spare[:size].reshape(shape)
