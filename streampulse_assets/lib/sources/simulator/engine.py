"""Vectorised minute generation: category totals, open lives and the top streamers.

A chunk is a run of minutes (at most one UTC day) for every category. Category-level arrays are
[categories, minutes]; named streamers are sparse "cells" (one per live streamer-minute). No
Python loop touches single rows. Every random number is keyed by (seed, category or streamer,
minute), never by the chunk, so any window reproduces the same minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streampulse_assets.lib.sources.simulator import sessions as sess
from streampulse_assets.lib.sources.simulator.catalog import (
    N_BASE_TITLES,
    N_TAIL,
    SLOTS,
    TAIL0,
    Catalog,
    fragment_index,
)
from streampulse_assets.lib.sources.simulator.effects import APPLY, World
from streampulse_assets.lib.sources.simulator.effects_hard import BATCHED, HARD_APPLY
from streampulse_assets.lib.sources.simulator.events import Event
from streampulse_assets.lib.sources.simulator.hash import combine, normal, uniform
from streampulse_assets.lib.sources.simulator.season import (
    PLATFORM_KEY,
    day_factor,
    night_weight,
    seasonal_factor,
    trend,
    wander,
)

S_BG, S_STREAMER, S_DIP, S_DIPLEN, S_DEPTH, S_LIVES = 31, 32, 33, 34, 35, 36
TOP = 5
EFFECTS = {**APPLY, **HARD_APPLY}


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
    sc = cat.scenario
    factor = season * day_factor(seed, cats, minutes, sc.day_sigma)
    if sc.platform_day_sigma:
        plat = PLATFORM_KEY + cat.cat_platform[cats]
        factor *= day_factor(seed, plat, minutes, sc.platform_day_sigma)
    if sc.trend_sigma:
        factor *= trend(seed, cats, minutes, sc.trend_sigma)
    return factor, curve


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


def _apply(w: World, events: list[Event]) -> None:
    """Apply the events that touch the chunk (an event touches [start - pre, end] only)."""
    lo, hi = int(w.minutes[0]), int(w.minutes[-1])
    batches: dict[str, list[Event]] = {}
    for ev in events:
        if ev.end < lo or ev.start - ev.pre > hi:
            continue
        if ev.kind in BATCHED:
            batches.setdefault(ev.kind, []).append(ev)
        else:
            EFFECTS[ev.effect or ev.kind](w, ev)
    for kind, group in batches.items():
        BATCHED[kind](w, group)
    w.finish()


def compute_chunk(cat: Catalog, seed: int, minutes: np.ndarray, events: list[Event]) -> Chunk:
    cats = np.arange(cat.n, dtype=np.int64)
    n_c, n_m = len(cats), len(minutes)
    factor, curve = _factor(cat, seed, cats, minutes)
    w = World(cat, seed, minutes, factor)
    _apply(w, events)
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
