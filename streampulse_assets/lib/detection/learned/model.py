"""The per-series error model and the anomaly score.

For every series, window and forecast candidate the model keeps, with exponential forgetting
(`half_life_hours`), updated once per complete hour:
- the noise unit: a weighted geometric mean of the hour's mean absolute forecast error, errors
  clipped at `clip_units` of the current unit so a spike does not widen the noise; per series,
  a time-of-day profile scales it to the row's UTC hour of day (ModelState.hour_unit);
- the two tails of the standardised error z = error / unit, one for rises (z > tail_from) and
  one for drops (z < -tail_from): how often z goes beyond `tail_from` (lambda) and by how much
  (a generalised Pareto distribution with a prior). Series rise and fall differently (a viewer
  spike is sudden, a drop after a show ends is not), so each side has its own tail.
A row is scored with the state at the start of its hour (so only earlier rows count). Each
forecast candidate (the recent level, or the level plus the move seen at this time of day 1, 7
or 2 days earlier; forecast_errors) has its own unit and tails, and gives the row a surprise
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
PROFILE = ("tod_log", "tod_w")  # per series and UTC hour of day [S, 24]
HOURS_OF_DAY = 24


def profile_columns(name: str) -> list[str]:
    """The stored columns of one profile array: `name`_00 .. `name`_23."""
    return [f"{name}_{h:02d}" for h in range(HOURS_OF_DAY)]


@dataclass
class ModelState:
    """State arrays [S, K, C] per field and the time-of-day profile [S, 24] per PROFILE name,
    valid at the start of `hour[sid]`."""

    hour: np.ndarray  # int64 per series
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    profile: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def empty(cls, n_series: int, n_windows: int, n_cands: int, hour: np.ndarray | None = None):
        hours = np.zeros(n_series, np.int64) if hour is None else hour.astype(np.int64)
        shape = (n_series, n_windows, n_cands)
        profile = {f: np.zeros((n_series, HOURS_OF_DAY)) for f in PROFILE}
        return cls(hours, {f: np.zeros(shape) for f in FIELDS}, profile)

    def decay_to(self, sids: np.ndarray, hour: int, cfg: LearnedConfig) -> None:
        gap = hour - self.hour[sids]
        factor = np.where(gap > 0, cfg.decay ** np.maximum(gap, 0), 1.0)
        for f in FIELDS:
            self.arrays[f][sids] *= factor[:, None, None]
        for f in PROFILE:
            self.profile[f][sids] *= factor[:, None]
        self.hour[sids] = np.maximum(self.hour[sids], hour)

    def unit(self, sids: np.ndarray, cfg: LearnedConfig) -> np.ndarray:
        """The all-day noise unit [len(sids), K, C] (NaN where not learned yet)."""
        w = self.arrays["weight"][sids]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.exp(self.arrays["log_unit"][sids] / w)
        return np.where(w >= cfg.min_learned_hours * _min_weight(cfg), u, np.nan)

    def hour_unit(self, sids: np.ndarray, hour: int, cfg: LearnedConfig) -> np.ndarray:
        """The noise unit at `hour`'s hour of day: the all-day unit times the series' profile at
        that hour, the ratio of the level forecast's unit on the row alone at that hour of day
        to its all-day unit, shrunk toward 1 by `tod_prior_days` (one weight per day)."""
        u = self.unit(sids, cfg)
        h = hour % HOURS_OF_DAY
        w = self.profile["tod_w"][sids, h]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = (self.profile["tod_log"][sids, h] - w * np.log(u[:, 0, 0])) / (
                w + cfg.tod_prior_days
            )
        log_ratio = np.where(np.isfinite(log_ratio) & (w > 0), log_ratio, 0.0)
        return u * np.exp(log_ratio)[:, None, None]


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


@dataclass
class HourErrors:
    """What the update of a scored hour needs: the rows' series (`uniq`, each row's index `inv`
    into it), the unit per series at the hour's hour of day [U, K, C] (NaN = not learned yet),
    and the rows' forecast errors, their z, where z is finite and where it is beyond `tail_from`
    on each side [K, C, m]."""

    uniq: np.ndarray
    inv: np.ndarray
    unit: np.ndarray
    errors: np.ndarray
    z: np.ndarray
    valid: np.ndarray
    beyond: tuple[np.ndarray, ...]  # per side of SIDES


def series_of(sids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct series of rows `sids` and each row's index into them (np.unique's answer;
    without its sort when the rows come in series order, as they do)."""
    if len(sids) and np.all(sids[1:] >= sids[:-1]):
        new = np.empty(len(sids), dtype=bool)
        new[0], new[1:] = True, sids[1:] != sids[:-1]
        return sids[new], np.cumsum(new) - 1
    return np.unique(sids, return_inverse=True)


def forecast_errors(inputs: np.ndarray, level_unit: np.ndarray, cfg: LearnedConfig) -> np.ndarray:
    """Forecast errors [K, C, m] of the candidates from the inputs [K, 1 + lags, m]: the rise
    itself (forecast: the level), and the rise minus the move seen one lag earlier (forecast:
    level + that move). An earlier move is bounded to `season_clip_units` of the level
    forecast's learned unit [K, m], or to the largest move of the same sign seen at another lag
    if that is more: a move that recurs (a daily show starting, a wave's step) is forecast in
    full, while yesterday's one-off spike, which no other day saw, is not forecast again today."""
    rise, past = inputs[:, :1], inputs[:, 1:]
    clip = np.where(np.isfinite(level_unit), cfg.season_clip_units * level_unit, np.inf)
    bound = np.repeat(clip[:, None], past.shape[1], axis=1)
    known = np.isfinite(past)
    sign, size = np.sign(past), np.abs(past)  # each lag's once, not once per pair
    for j in range(past.shape[1]):
        for i in range(past.shape[1]):
            if i != j:
                agree = known[:, i] & (sign[:, i] == sign[:, j])
                np.maximum(bound[:, j], np.where(agree, size[:, i], 0.0), out=bound[:, j])
    errors = np.empty(inputs.shape)  # written in place: no moves and differences beside it
    errors[:, :1] = rise
    moves = np.clip(past, -bound, bound, out=errors[:, 1:])
    np.subtract(rise, moves, out=moves)
    return errors


def _floor(cfg: LearnedConfig, span: np.ndarray) -> np.ndarray:
    """The smallest unit a window can have: the resolution of a mean of `span` rows."""
    return cfg.resolution / np.sqrt(np.maximum(span, 1.0))


def _per_row(per_series: np.ndarray, inv: np.ndarray) -> np.ndarray:
    """[U, K, C] per series -> [K, C, m] per row (row-last, so that reductions over windows and
    candidates are whole-row operations)."""
    return np.take(per_series.transpose(1, 2, 0), inv, axis=2)  # C order, unlike [:, :, inv]


def score_rows(
    state: ModelState,
    sids: np.ndarray,
    inputs: np.ndarray,
    spans: np.ndarray,
    rows_per_day: np.ndarray,
    hour: int,
    cfg: LearnedConfig,
) -> tuple[HourResult, HourErrors]:
    """Scores of rows of hour `hour` (`sids`, inputs [K, 1 + lags, m]; `spans` [S, K] and
    `rows_per_day` [S] per series) from the state at its start; also what `update` needs to
    learn from them.

    Everything that depends on the state alone (unit, tail shape, exceedance rate) is computed
    once per series; the tail probability only where a row goes beyond `tail_from`."""
    inputs = np.ascontiguousarray(inputs)  # flat indices below are of C-ordered cells
    uniq, inv = series_of(sids)
    learned = state.hour_unit(uniq, hour, cfg)  # [U, K, C]
    unit = _per_row(np.maximum(learned, _floor(cfg, spans[uniq])[:, :, None]), inv)
    errors = forecast_errors(inputs, unit[:, 0], cfg)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = errors / unit
    valid = np.isfinite(z)
    scorable = valid.any(axis=1)  # [K, m]
    with np.errstate(divide="ignore"):
        penalty = np.log10(rows_per_day[sids] * len(SIDES) * np.maximum(scorable.sum(axis=0), 1))
    # Per window, candidate and side: the surprise under that forecast's own error model; it is
    # -penalty for a row not beyond `tail_from` on either side (its tail probability is 1).
    # Invalid cells are +inf here, so they never are a window's smallest.
    each = np.ascontiguousarray(np.where(valid, -penalty, np.inf))  # reshape(-1) is a view
    u = cfg.tail_from
    beyond = (valid & (z > u), valid & (z < -u))  # z > u, and -z > u
    _surprise_beyond(state, uniq, inv, z, beyond, penalty, cfg, each.reshape(-1))
    # A window's surprise is the smallest over its forecasts: a rise that yesterday's or last
    # week's move at this time of day explains (or the level alone does) is not an anomaly.
    # (Explicit first-minimum and first-maximum loops: argmin/argmax over a short axis.)
    low, low_valid, zc = each[:, 0], valid[:, 0], z[:, 0]
    for c in range(1, each.shape[1]):
        lower = each[:, c] < low  # only a valid cell is below another
        low, low_valid = np.where(lower, each[:, c], low), low_valid | lower
        zc = np.where(lower, z[:, c], zc)
    surprise = np.where(scorable & low_valid, low, -np.inf)  # [K, m]
    s, k = surprise[0], np.zeros(len(sids), dtype=np.int64)
    for w in range(1, len(surprise)):
        higher = surprise[w] > s
        s, k = np.where(higher, surprise[w], s), np.where(higher, w, k)
    scored = np.isfinite(s)
    score = np.where(scored, np.clip((s + cfg.score_offset) / cfg.score_span, 0.0, 1.0), 0.0)
    zbest = np.where(scored, zc[k, np.arange(len(k))], np.nan)
    result = HourResult(score, zbest, np.where(scored, k, -1))
    return result, HourErrors(uniq, inv, learned, errors, z, valid, beyond)


def _surprise_beyond(state, uniq, inv, z, beyond, penalty, cfg, each_flat) -> None:
    """Raise `each_flat` (the surprises [K, C, m], flattened) to -log10(lambda * tail) - penalty
    at the rows `beyond` `tail_from` on either side, from their series' tail on that side."""
    a, u = state.arrays, cfg.tail_from
    m = z.shape[2]
    kc = z.shape[0] * z.shape[1]
    lam_n = a["n"][uniq] + 2.0
    for side, sign, hits in zip(SIDES, (1.0, -1.0), beyond, strict=True):
        n_exc = a["n_exc" + side][uniq]
        lam = ((n_exc + 1.0) / lam_n).reshape(-1)
        xi, sigma = tail_shape(n_exc, a["sum_exc" + side][uniq], a["sum_exc2" + side][uniq], cfg)
        at = np.flatnonzero(hits)
        row = at % m
        per = inv[row] * kc + at // m  # the same window and candidate of the row's series
        excess = sign * z.reshape(-1)[at] - u
        tail = gpd_log10_sf(excess, xi.reshape(-1)[per], sigma.reshape(-1)[per])
        log10p = np.log10(lam[per]) + tail
        each_flat[at] = np.fmax(each_flat[at], -log10p - penalty[row])


def update(state: ModelState, sids: np.ndarray, hour_errors: HourErrors, hour: int, cfg) -> None:
    """Learn from the complete hour `hour` (rows `sids` in series then time order, and their
    errors as `score_rows` measured them), then move the state of those series to the start of
    the next hour."""
    uniq, inv, z = hour_errors.uniq, hour_errors.inv, hour_errors.z
    K, C, _ = z.shape
    unit = hour_errors.unit
    cap = _per_row(np.where(np.isfinite(unit), cfg.clip_units * unit, np.inf), inv)
    mag = np.abs(hour_errors.errors)
    np.minimum(mag, cap, out=mag)
    ok = np.isfinite(mag)
    # The state cell of every (window, candidate, row); bincount adds each cell's rows in row
    # order, as the rows come.
    flat = inv * (K * C) + np.arange(K * C).reshape(K, C, 1)
    size = len(uniq) * K * C
    at = flat[ok]
    cnt = np.bincount(at, minlength=size).reshape(len(uniq), K, C)
    tot = np.bincount(at, weights=mag[ok], minlength=size).reshape(len(uniq), K, C)
    a = state.arrays
    has = cnt > 0
    mean = np.where(has, tot / np.maximum(cnt, 1), 1.0)
    a["log_unit"][uniq] += np.where(has, np.log(np.maximum(mean, 1e-12)), 0.0)
    a["weight"][uniq] += has
    a["n"][uniq] += np.bincount(flat[hour_errors.valid], minlength=size).reshape(len(uniq), K, C)
    # The time-of-day profile learns this hour's log mean error of the level forecast on the
    # row alone (window 0, candidate 0), the unit most of a series' noise shows in.
    first = has[:, 0, 0]
    h = hour % HOURS_OF_DAY
    state.profile["tod_log"][uniq[first], h] += np.log(np.maximum(mean[first, 0, 0], 1e-12))
    state.profile["tod_w"][uniq[first], h] += 1.0
    # Peaks over threshold, declustered by runs, on each side: a run of consecutive rows of a
    # series beyond `tail_from` is one excursion, observed by its largest excess. One spike that
    # stays up for hours is then one sample of the tail, not a hundred, and does not teach the
    # model that such rises are normal.
    for side, sign, exc in zip(SIDES, (1.0, -1.0), hour_errors.beyond, strict=True):
        start, peak = _excursions(exc, sign, z, cfg.tail_from, sids)
        bins = flat.reshape(-1)[start]
        for name, w in (("n_exc", np.ones(len(start))), ("sum_exc", peak), ("sum_exc2", peak**2)):
            a[name + side][uniq] += np.bincount(bins, weights=w, minlength=size).reshape(
                len(uniq), K, C
            )
    state.decay_to(uniq, hour + 1, cfg)


def _excursions(exc: np.ndarray, sign: float, z: np.ndarray, u: float, sids: np.ndarray):
    """The runs of consecutive rows of a series with `exc` [K, C, m] (`sign` z beyond `u`) in
    each window and candidate: the flat index of each run's first row and the run's largest
    excess `sign` z - u."""
    m = exc.shape[2]
    flat_exc = exc.reshape(-1)
    at = np.flatnonzero(flat_exc)  # window by window, candidate by candidate, row by row
    if not len(at):
        return at, np.zeros(0)
    row = at % m
    cont = row > 0  # the row before, in the same column and series, is beyond u too
    cont[cont] = flat_exc[at[cont] - 1] & (sids[row[cont]] == sids[row[cont] - 1])
    starts = np.flatnonzero(~cont)
    peak = np.maximum.reduceat(sign * z.reshape(-1)[at] - u, starts)
    return at[starts], peak
