"""Vectorised minute generation: category totals, open lives and the top streamers.

A chunk is a run of minutes (at most one UTC day) for every category. Category-level arrays are
[categories, minutes]; named streamers are sparse "cells" (one per live streamer-minute). No
Python loop touches single rows. Every random number is keyed by (seed, category or streamer,
minute), never by the chunk, so any window reproduces the same minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streampulse_assets.lib.sources import simulator_sessions as sess
from streampulse_assets.lib.sources.simulator_catalog import (
    GUEST,
    N_BASE_TITLES,
    N_TAIL,
    SLOTS,
    TAIL0,
    V_ADOPT,
    V_SPIKE,
    V_SURGE,
    Catalog,
    fragment_index,
)
from streampulse_assets.lib.sources.simulator_events import Event
from streampulse_assets.lib.sources.simulator_hash import combine, normal, uniform
from streampulse_assets.lib.sources.simulator_season import (
    day_factor,
    night_weight,
    seasonal_factor,
    wander,
)

S_BG, S_STREAMER, S_DIP, S_DIPLEN, S_DEPTH, S_LIVES, S_PART = 31, 32, 33, 34, 35, 36, 37
TOP = 5


@dataclass
class Chunk:
    viewers: np.ndarray  # [C, M] int64
    open_lives: np.ndarray  # [C, M] int64
    top_frag: np.ndarray  # [C, M, TOP] int64 fragment index, -1 = none
    top_viewers: np.ndarray  # [C, M, TOP] int64
    keep: np.ndarray  # [C, M] bool, False = row missing (data fault)


def _smallness(peak: np.ndarray) -> np.ndarray:
    return np.clip(np.log10(30_000.0 / peak) / 2.5, 0.0, 1.0).astype(np.float32)


def _factor(cat: Catalog, seed: int, cats: np.ndarray, minutes: np.ndarray):
    season, curve = seasonal_factor(cat.shift[cats], cat.weekend[cats], minutes)
    return season * day_factor(seed, cats, minutes), curve


def clean_levels(cat: Catalog, seed: int, cats: np.ndarray, minutes: np.ndarray):
    """Noise-free, event-free (total, background share, factor) per category and minute."""
    minutes = np.asarray(minutes, np.int64)
    factor, _ = _factor(cat, seed, cats, minutes)
    bg = (cat.peak[cats] * (1 - cat.named_share[cats]))[:, None] * factor
    cells = sess.live_cells(cat, seed, cats, minutes)
    c_local, slot = cells.row // SLOTS, cells.row % SLOTS
    weight = cat.aud[cats[c_local], slot] * sess.ramp(cells.elapsed)
    weight = weight * factor[c_local, cells.i]
    named = np.bincount(c_local * len(minutes) + cells.i, weight, len(cats) * len(minutes))
    total = bg + named.reshape(len(cats), len(minutes))
    return total, bg / np.maximum(total, 1e-9), factor


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class _World:
    """One chunk's state: live cells plus per-category event multipliers."""

    def __init__(self, cat: Catalog, seed: int, minutes: np.ndarray, factor: np.ndarray):
        n_c, n_m = cat.n, len(minutes)
        self.cat, self.seed, self.minutes, self.factor = cat, seed, minutes, factor
        self.cells = sess.live_cells(cat, seed, np.arange(n_c), minutes)
        self.aud = cat.aud.reshape(-1)[self.cells.row].astype(np.float32)
        self.frag = fragment_index(
            self.cells.row // SLOTS, self.cells.row % SLOTS, self.cells.variant
        )
        self.extra = np.zeros(len(self.aud), np.float32)
        self.bg = np.ones((n_c, n_m), np.float32)
        self.named = np.ones((n_c, n_m), np.float32)
        self.lives = np.ones((n_c, n_m), np.float32)
        self.extra_lives = np.zeros((n_c, n_m), np.float32)
        self.keep = np.ones((n_c, n_m), bool)
        self.dropped = np.zeros(len(self.aud), bool)
        self.added: list[tuple] = []

    def window(self, lo: int, hi: int):
        idx = np.nonzero((self.minutes >= lo) & (self.minutes <= hi))[0]
        return idx, self.minutes[idx]

    def cell_mask(self, row: int, idx: np.ndarray) -> np.ndarray:
        if len(idx) == 0:
            return np.zeros(len(self.cells.row), bool)
        return (self.cells.row == row) & (self.cells.i >= idx[0]) & (self.cells.i <= idx[-1])

    def add_cells(self, row: int, idx, elapsed, aud, frag, variant, extra=None):
        """Live minutes forced by an event (replacing the streamer's own cells there)."""
        drop = self.cell_mask(row, idx)
        n = len(idx)
        self.added.append(
            (
                sess.Cells(np.full(n, row), idx, elapsed.astype(np.float32), variant),
                np.broadcast_to(np.asarray(aud, np.float32), n).astype(np.float32),
                np.broadcast_to(frag, n).astype(np.int64),
                np.zeros(n, np.float32) if extra is None else extra.astype(np.float32),
            )
        )
        self._drop(drop)

    def _drop(self, mask):
        self.dropped |= mask

    def finish(self):
        keep = ~self.dropped
        own = (self.cells.take(keep), self.aud[keep], self.frag[keep], self.extra[keep])
        parts = [own, *self.added]
        self.cells = sess.Cells.concat([p[0] for p in parts])
        self.aud, self.frag, self.extra = (np.concatenate([p[k] for p in parts]) for k in (1, 2, 3))
        self.added = []


def _natural(w: _World, row: int, idx: np.ndarray, field: str, default: np.ndarray):
    """The streamer's own per-minute value over idx where it is live anyway, else default."""
    out = default.copy()
    own = w.cell_mask(row, idx)
    out[w.cells.i[own] - idx[0]] = getattr(w.cells, field)[own]
    return out


def _spike(w: _World, ev: Event):
    c, s, dur = ev.cat, ev.slot, ev.end - ev.start + 1
    idx, m = w.window(ev.start - ev.pre, ev.end)
    if len(idx) == 0:
        return
    row = c * SLOTS + s
    k = (m - ev.start).astype(np.float32)
    elapsed = _natural(w, row, idx, "elapsed", k + ev.pre)
    variant = _natural(w, row, idx, "variant", np.zeros(len(idx), np.int64))
    kk = np.maximum(k, 0)
    shape = np.minimum(1.0, (kk + 1) / ev.up) * (1 - 0.4 * kk / dur)
    shape *= np.minimum(1.0, (dur - kk) / 3.0) * (k >= 0)
    frag = fragment_index(c, s, variant)
    if ev.title:
        frag = np.where(k >= 0, fragment_index(c, s, V_SPIKE), frag)
    w.add_cells(row, idx, elapsed, w.cat.aud[c, s], frag, variant, ev.size * shape)


def _adoption(w: _World, ev: Event):
    a, s, b = ev.src_cat, ev.src_slot, ev.cat
    row_a = a * SLOTS + s
    idx, m = w.window(ev.start - ev.pre, ev.start - 1)
    w.add_cells(row_a, idx, m - (ev.start - ev.pre), w.cat.aud[a, s], fragment_index(a, s, 0),
                np.zeros(len(idx), np.int64))  # fmt: skip
    idx, m = w.window(ev.start, ev.end)
    w._drop(w.cell_mask(row_a, idx))
    aud = w.cat.aud[a, s] * w.factor[a, idx] / w.factor[b, idx]
    w.add_cells(b * SLOTS + GUEST, idx, m - ev.start, aud, fragment_index(a, s, V_ADOPT),
                np.zeros(len(idx), np.int64))  # fmt: skip


def _surge(w: _World, ev: Event):
    c, dur = ev.cat, ev.end - ev.start + 1
    idx, m = w.window(ev.start, ev.end)
    k = m - ev.start
    shape = (
        _smoothstep((k + 1) / ev.up) * (1 - 0.2 * k / dur) * np.minimum(1.0, (dur - k) / ev.down)
    )
    w.bg[c, idx] *= 1 + (ev.size - 1) * shape
    w.named[c, idx] *= 1 + 0.5 * (ev.size - 1) * shape
    w.lives[c, idx] *= 1 + 0.7 * (ev.size - 1) * shape
    w.extra_lives[c, idx] += np.round(6 * shape)
    top = w.cell_mask(c * SLOTS, idx)
    w.frag[top] = fragment_index(c, 0, V_SURGE)


def _organic(w: _World, ev: Event):
    idx, m = w.window(ev.start, ev.end)
    k = m - ev.start
    shape = np.where(k < ev.up, _smoothstep(k / ev.up), _smoothstep((ev.end - m) / ev.down))
    shape = np.where((k >= ev.up) & (k < ev.up + ev.hold), 1.0, shape)
    w.bg[ev.cat, idx] *= 1 + (ev.size - 1) * shape
    w.lives[ev.cat, idx] *= 1 + (ev.size - 1) * shape


def _fault(w: _World, ev: Event):
    idx, m = w.window(ev.start, ev.end)
    cats = np.nonzero(w.cat.cat_platform == ev.platform)[0]
    grid = np.ix_(cats, idx)
    if ev.kind == "missing_minute":
        w.keep[grid] = False
    else:  # partial outage: about half the platform's categories are missing
        half = uniform(w.seed, S_PART, combine(cats[:, None], m[None, :]))
        w.keep[grid] &= half >= 0.5


_APPLY = {
    "streamer_spike": _spike,
    "category_adoption": _adoption,
    "category_surge": _surge,
    "organic_growth": _organic,
    "missing_minute": _fault,
    "partial_outage": _fault,
}


def _dips(seed: int, cats: np.ndarray, prev: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Short undercounts (a reconnecting top stream, a glitchy count): 1-2 minutes at 35-65%.

    `prev` is the chunk's minutes preceded by the minute before it and `prob` the dip chance
    for each of those, so a dip that starts just before a chunk still carries into it.
    """
    key = combine(cats[:, None], prev[None, :])
    starts = uniform(seed, S_DIP, key) < prob
    depth = (0.35 + 0.3 * uniform(seed, S_DEPTH, key)).astype(np.float32)
    two = uniform(seed, S_DIPLEN, key) < 0.4
    out = np.where(starts[:, 1:], depth[:, 1:], np.float32(1.0))
    carry = starts[:, :-1] & two[:, :-1]
    return np.where(carry, np.minimum(out, depth[:, :-1]), out)


def _top(n_cm: int, key: np.ndarray, views: np.ndarray, row: np.ndarray, frag: np.ndarray):
    """Top 5 candidates per (category, minute) by viewers (ties: lower slot first), one sort."""
    inverted = (1 << 26) - 1 - np.minimum(views, (1 << 26) - 1)
    order = np.argsort((key << 31) | (inverted << 5) | (row % SLOTS))
    k_sorted = key[order]
    first = np.r_[True, k_sorted[1:] != k_sorted[:-1]]
    start_pos = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    rank = np.arange(len(order)) - start_pos
    sel = rank < TOP
    top_f = np.full((n_cm, TOP), -1, np.int64)
    top_v = np.zeros((n_cm, TOP), np.int64)
    top_f[k_sorted[sel], rank[sel]] = frag[order[sel]]
    top_v[k_sorted[sel], rank[sel]] = views[order[sel]]
    return top_f, top_v


_TAIL_Z = np.concatenate([[1.0], np.cumsum(np.arange(1, 5001, dtype=np.float64) ** -0.8)])


def _tail(bg: np.ndarray, lives: np.ndarray, minutes: np.ndarray):
    """The biggest background streams as top-5 candidates: stream j of L gets a Zipf share."""
    n_m = bg.shape[1]
    n_lives = np.minimum(lives, len(_TAIL_Z) - 1).astype(np.int64)
    parts = []
    for j in range(N_TAIL):
        cm = np.nonzero((n_lives > j).reshape(-1))[0]
        share = (j + 1) ** -0.8 / _TAIL_Z[n_lives.reshape(-1)[cm]]
        views = np.round(bg.reshape(-1)[cm] * share).astype(np.int64)
        c, i = cm // n_m, cm % n_m
        variant = (minutes[i] // 1440 + j + c) % N_BASE_TITLES
        ok = views >= 1
        row = c * SLOTS + TAIL0 + j
        parts.append((cm[ok], views[ok], row[ok], fragment_index(c, TAIL0 + j, variant)[ok]))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))


def compute_chunk(cat: Catalog, seed: int, minutes: np.ndarray, events: list[Event]) -> Chunk:
    cats = np.arange(cat.n, dtype=np.int64)
    n_c, n_m = len(cats), len(minutes)
    factor, curve = _factor(cat, seed, cats, minutes)
    w = _World(cat, seed, minutes, factor)
    for ev in events:
        _APPLY[ev.kind](w, ev)
    w.finish()
    small = _smallness(cat.peak)[:, None]
    night = night_weight(curve)
    key = combine(cats[:, None], minutes[None, :])
    # background: the long tail of unnamed streams
    bg = (cat.peak * (1 - cat.named_share)).astype(np.float32)[:, None] * factor * w.bg
    bg *= wander(seed, cats, minutes, (0.03 + 0.04 * small))
    lives = cat.bg_lives.astype(np.float32)[:, None] * factor**0.8 * w.lives
    lives = np.floor(lives + uniform(seed, S_LIVES, key).astype(np.float32))
    sigma = 0.03 + (0.03 + 0.10 * night) * small + 0.7 / np.sqrt(bg + 1)
    bg *= np.exp(np.minimum(sigma, 0.5) * normal(seed, S_BG, key))
    bg = np.where(lives > 0, bg, 0)
    prev = np.concatenate([[minutes[0] - 1], minutes])
    _, curve_prev = seasonal_factor(cat.shift, cat.weekend, prev[:1])
    night_prev = np.concatenate([night_weight(curve_prev), night], axis=1)
    dip = _dips(seed, cats, prev, (0.0008 + 0.010 * night_prev * small).astype(np.float32))
    # named streamers (sparse cells)
    cells = w.cells
    c = cells.row // SLOTS
    cm = c * n_m + cells.i
    noise = np.exp(
        np.float32(0.04) * normal(seed, S_STREAMER, combine(cells.row, minutes[cells.i]))
    )
    scale = (factor * w.named * dip).reshape(-1)[cm]
    views = w.aud * sess.ramp(cells.elapsed) * noise * scale + w.extra * dip.reshape(-1)[cm]
    views = np.maximum(np.round(views), 1).astype(np.int64)
    named_sum = np.bincount(cm, views, n_c * n_m).reshape(n_c, n_m)
    named_cnt = np.bincount(cm, None, n_c * n_m).reshape(n_c, n_m)
    viewers = np.round(bg * dip).astype(np.int64) + np.round(named_sum).astype(np.int64)
    open_lives = lives.astype(np.int64) + named_cnt + w.extra_lives.astype(np.int64)
    t_cm, t_views, t_row, t_frag = _tail(np.round(bg * dip), lives, minutes)
    top_f, top_v = _top(
        n_c * n_m,
        np.concatenate([cm, t_cm]),
        np.concatenate([views, t_views]),
        np.concatenate([cells.row, t_row]),
        np.concatenate([w.frag, t_frag]),
    )
    return Chunk(
        viewers,
        open_lives,
        top_f.reshape(n_c, n_m, TOP),
        top_v.reshape(n_c, n_m, TOP),
        w.keep,
    )
