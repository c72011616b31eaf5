"""The per-series error model and the anomaly score.

For every series, window and forecast candidate the model keeps, with exponential forgetting
(`half_life_hours`), updated once per complete hour:
- the noise unit: a weighted geometric mean of the hour's mean absolute forecast error, errors
  clipped at `clip_units` of the current unit so a spike does not widen the noise;
- the two tails of the standardised error z = error / unit, one for rises (z > tail_from) and
  one for drops (z < -tail_from): how often z goes beyond `tail_from` (lambda) and by how much
  (a generalised Pareto distribution with a prior). Series rise and fall differently (a viewer
  spike is sudden, a drop after a show ends is not), so each side has its own tail.
A row is scored with the state at the start of its hour (so only earlier rows count). Each
forecast candidate (the recent level, or the level plus yesterday's or last week's move at this
time of day) has its own unit and tails, and gives the row a surprise
`S = -log10(expected rows per day this extreme)`: the tail probability of its z times rows per
day times the tests made (windows x two sides). A window's surprise is the smallest over its
candidates (a row is anomalous only when every forecast finds it improbable, so a prime-time
rise that yesterday's move explains is not), and the row's is the largest over windows and sides;
score = clip((S + offset) / span, 0, 1), so one threshold means the same alarm rate for a
1-minute and a 1-hour series, for 20 viewers or 200,000. The sign of the row's z says which side
scored: only rises become SPIKEs (run.alerts); a drop is an anomaly the score keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streampulse_assets.lib.detection.learned.config import LearnedConfig

LN10 = float(np.log(10.0))
TAIL = ("n_exc", "sum_exc", "sum_exc2")
SIDES = ("", "_dn")  # rises, drops
FIELDS = ("log_unit", "weight", "n", *(f + side for side in SIDES for f in TAIL))


@dataclass
class ModelState:
    """State arrays [S, K, C] per field, valid at the start of `hour[sid]`."""

    hour: np.ndarray  # int64 per series
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def empty(cls, n_series: int, n_windows: int, n_cands: int, hour: np.ndarray | None = None):
        hours = np.zeros(n_series, np.int64) if hour is None else hour.astype(np.int64)
        shape = (n_series, n_windows, n_cands)
        return cls(hours, {f: np.zeros(shape) for f in FIELDS})

    def decay_to(self, sids: np.ndarray, hour: int, cfg: LearnedConfig) -> None:
        gap = hour - self.hour[sids]
        factor = np.where(gap > 0, cfg.decay ** np.maximum(gap, 0), 1.0)[:, None, None]
        for f in FIELDS:
            self.arrays[f][sids] *= factor
        self.hour[sids] = np.maximum(self.hour[sids], hour)

    def unit(self, sids: np.ndarray, cfg: LearnedConfig) -> np.ndarray:
        w = self.arrays["weight"][sids]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.exp(self.arrays["log_unit"][sids] / w)
        return np.where(w >= cfg.min_learned_hours * _min_weight(cfg), u, np.nan)


def _min_weight(cfg: LearnedConfig) -> float:
    """Weight of `min_learned_hours` consecutive hours relative to their count (forgetting)."""
    h = max(cfg.min_learned_hours, 1.0)
    return float((1 - cfg.decay**h) / (1 - cfg.decay) / h)


def tail_shape(n_exc, sum_exc, sum_exc2, cfg: LearnedConfig):
    """Generalised Pareto shape and scale of the excesses by the method of moments. The prior is
    `tail_prior_weight` pseudo-excesses of an exponential tail with mean `tail_prior`, so a tail
    learned from a few dozen excesses is not trusted to be thin."""
    n0 = cfg.tail_prior_weight
    n = n_exc + n0
    mean = (sum_exc + n0 * cfg.tail_prior) / n
    second = (sum_exc2 + n0 * 2 * cfg.tail_prior**2) / n
    var = np.maximum(second - mean**2, 1e-12)
    ratio = mean**2 / var
    xi = np.clip(0.5 * (1.0 - ratio), 0.0, 0.9)  # never a bounded tail from finite data
    sigma = np.maximum(mean * (1.0 - xi), 1e-9)
    return xi, sigma


def gpd_log10_sf(excess, xi, sigma):
    """log10 P(excess > e) of a generalised Pareto distribution (shape xi, scale sigma)."""
    small = np.abs(xi) < 1e-6
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.maximum(1.0 + xi * excess / sigma, 1e-300)
        heavy = -np.log(t) / np.where(small, 1.0, xi)
    return np.where(small, -excess / sigma, heavy) / LN10


@dataclass
class HourResult:
    score: np.ndarray  # per row, [0, 1]
    z: np.ndarray  # the standardised rise of the window that scored highest
    window: np.ndarray  # its index (-1 = not scored)


def forecast_errors(inputs: np.ndarray, level_unit: np.ndarray, cfg: LearnedConfig) -> np.ndarray:
    """Forecast errors [m, K, C] of the candidates from the inputs [m, K, 1 + lags]: the rise
    itself (forecast: the level), and the rise minus the move seen one lag earlier (forecast:
    level + that move). An earlier move is bounded to `season_clip_units` of the level
    forecast's learned unit, or to the largest move of the same sign seen at another lag if that
    is more: a move that recurs (a daily show starting, a wave's step) is forecast in full, while
    yesterday's one-off spike, which no other day saw, is not forecast again today."""
    rise, past = inputs[:, :, :1], inputs[:, :, 1:]
    bound = np.where(np.isfinite(level_unit), cfg.season_clip_units * level_unit, np.inf)
    bound = np.broadcast_to(bound[:, :, None], past.shape).copy()
    known = np.isfinite(past)
    for j in range(past.shape[2]):
        for i in range(past.shape[2]):
            if i != j:
                agree = known[:, :, i] & (np.sign(past[:, :, i]) == np.sign(past[:, :, j]))
                bound[:, :, j] = np.where(
                    agree, np.maximum(bound[:, :, j], np.abs(past[:, :, i])), bound[:, :, j]
                )
    moves = np.clip(past, -bound, bound)
    return np.concatenate([rise, rise - moves], axis=2)


def _floor(cfg: LearnedConfig, span: np.ndarray) -> np.ndarray:
    """The smallest unit a window can have: the resolution of a mean of `span` rows."""
    return cfg.resolution / np.sqrt(np.maximum(span, 1.0))


def score_rows(
    state: ModelState,
    sids: np.ndarray,
    inputs: np.ndarray,
    span: np.ndarray,
    rows_per_day: np.ndarray,
    cfg: LearnedConfig,
) -> tuple[HourResult, np.ndarray, np.ndarray]:
    """Scores of rows of one hour from the state at its start; also z and the forecast errors
    [m, K, C] for the update."""
    unit = state.unit(sids, cfg)  # [m, K, C]
    unit = np.maximum(unit, _floor(cfg, span)[:, :, None])
    errors = forecast_errors(inputs, unit[:, :, 0], cfg)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = errors / unit
    valid = np.isfinite(z)
    a = state.arrays
    u = cfg.tail_from
    windows = valid.any(axis=2).sum(axis=1)
    with np.errstate(divide="ignore"):
        penalty = np.log10(rows_per_day * len(SIDES) * np.maximum(windows, 1))[:, None, None]
    lam_n = a["n"][sids] + 2.0
    # Per window, candidate and side: the surprise under that forecast's own error model.
    each = np.full(z.shape, -np.inf)
    for side, sign in zip(SIDES, (1.0, -1.0), strict=True):
        n_exc = a["n_exc" + side][sids]
        lam = (n_exc + 1.0) / lam_n
        xi, sigma = tail_shape(n_exc, a["sum_exc" + side][sids], a["sum_exc2" + side][sids], cfg)
        zs = sign * z
        log10p = np.where(zs > u, np.log10(lam) + gpd_log10_sf(zs - u, xi, sigma), 0.0)
        each = np.fmax(each, np.where(valid, -log10p - penalty, -np.inf))
    # A window's surprise is the smallest over its forecasts: a rise that yesterday's or last
    # week's move at this time of day explains (or the level alone does) is not an anomaly.
    best = np.where(valid, each, np.inf).argmin(axis=2)
    surprise = np.where(
        valid.any(axis=2), np.take_along_axis(each, best[:, :, None], 2)[:, :, 0], -np.inf
    )
    zc = np.take_along_axis(z, best[:, :, None], axis=2)[:, :, 0]
    k = surprise.argmax(axis=1)
    s = surprise[np.arange(len(k)), k]
    scored = np.isfinite(s)
    score = np.where(scored, np.clip((s + cfg.score_offset) / cfg.score_span, 0.0, 1.0), 0.0)
    zbest = np.where(scored, zc[np.arange(len(k)), k], np.nan)
    return HourResult(score, zbest, np.where(scored, k, -1)), z, errors


def update(
    state: ModelState, sids: np.ndarray, errors: np.ndarray, z: np.ndarray, hour: int, cfg
) -> None:
    """Learn from the complete hour `hour` (rows `sids` in series then time order, their errors
    and z), then move the state of those series to the start of the next hour."""
    uniq, inv = np.unique(sids, return_inverse=True)
    _, K, C = errors.shape
    unit = state.unit(uniq, cfg)[inv]
    mag = np.abs(errors)
    mag = np.where(np.isfinite(unit), np.minimum(mag, cfg.clip_units * unit), mag)
    ok = np.isfinite(mag)
    flat = inv[:, None, None] * (K * C) + np.arange(K * C).reshape(1, K, C)
    size = len(uniq) * K * C
    cnt = np.bincount(flat[ok], minlength=size).reshape(len(uniq), K, C)
    tot = np.bincount(flat[ok], weights=mag[ok], minlength=size).reshape(len(uniq), K, C)
    a = state.arrays
    has = cnt > 0
    mean = np.where(has, tot / np.maximum(cnt, 1), 1.0)
    a["log_unit"][uniq] += np.where(has, np.log(np.maximum(mean, 1e-12)), 0.0)
    a["weight"][uniq] += has
    zok = np.isfinite(z)
    a["n"][uniq] += np.bincount(flat[zok], minlength=size).reshape(len(uniq), K, C)
    # Peaks over threshold, declustered by runs, on each side: a run of consecutive rows of a
    # series beyond `tail_from` is one excursion, observed by its largest excess. One spike that
    # stays up for hours is then one sample of the tail, not a hundred, and does not teach the
    # model that such rises are normal.
    for side, sign in zip(SIDES, (1.0, -1.0), strict=True):
        start, peak = _excursions(np.where(zok, sign * z, -np.inf), sids, cfg.tail_from)
        for name, w in (("n_exc", start), ("sum_exc", peak), ("sum_exc2", peak**2)):
            a[name + side][uniq] += np.bincount(
                flat[start], weights=np.asarray(w, float)[start], minlength=size
            ).reshape(len(uniq), K, C)
    state.decay_to(uniq, hour + 1, cfg)


def _excursions(z: np.ndarray, sids: np.ndarray, u: float) -> tuple[np.ndarray, np.ndarray]:
    """The first row of every run of consecutive rows of a series with z > u [m, K, C], and at
    that row the run's largest excess z - u (0 elsewhere)."""
    m, K, C = z.shape
    exc = z > u
    prev = np.zeros_like(exc)
    prev[1:] = exc[:-1] & (sids[1:] == sids[:-1])[:, None, None]
    start = exc & ~prev
    # Runs never cross columns (a column's first row has no predecessor), so the peak of each
    # run is one reduceat over the exceeding values taken column after column.
    flat_exc = exc.transpose(1, 2, 0).reshape(-1)
    at = np.flatnonzero(flat_exc)
    peak = np.zeros(m * K * C)
    if len(at):
        firsts = np.flatnonzero(start.transpose(1, 2, 0).reshape(-1)[at])
        values = (z - u).transpose(1, 2, 0).reshape(-1)[at]
        peak[at[firsts]] = np.maximum.reduceat(values, firsts)
    return start, peak.reshape(K, C, m).transpose(2, 0, 1)
