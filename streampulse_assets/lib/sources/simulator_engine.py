"""Vectorised minute generation: category totals, open lives and the top streamers.

A chunk is a contiguous run of minutes (at most one UTC day) for every category. All arrays are
[categories, slots, minutes] or [categories, minutes]; no Python loop touches single rows. Every
random number is keyed by (seed, category/streamer, minute), never by the chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streampulse_assets.lib.sources import simulator_sessions as sess
from streampulse_assets.lib.sources.simulator_catalog import (
    GUEST,
    SLOTS,
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
    factor, _ = _factor(cat, seed, cats, minutes)
    bg = (cat.peak[cats] * (1 - cat.named_share[cats]))[:, None] * factor
    state = sess.live_state(cat, seed, cats, minutes)
    named = cat.aud[cats][:, :, None] * sess.ramp(state.elapsed) * state.live
    total = bg + named.sum(axis=1) * factor
    return total, bg / np.maximum(total, 1e-9), factor


def _window(ev: Event, minutes: np.ndarray, lo: int, hi: int):
    sel = (minutes >= lo) & (minutes <= hi)
    return np.nonzero(sel)[0], minutes[sel] - ev.start


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class _Mods:
    """Event effects on one chunk, applied before noise and aggregation."""

    def __init__(self, n_cats: int, n_min: int):
        self.bg = np.ones((n_cats, n_min), np.float32)
        self.named = np.ones((n_cats, n_min), np.float32)
        self.lives = np.ones((n_cats, n_min), np.float32)
        self.extra_lives = np.zeros((n_cats, n_min), np.float32)
        self.guest_frag = np.full((n_cats, n_min), -1, np.int64)
        self.guest_aud = np.zeros((n_cats, n_min), np.float32)
        self.keep = np.ones((n_cats, n_min), bool)
        self.extra: list[tuple[int, int, np.ndarray, np.ndarray]] = []


def _force_live(state: sess.LiveState, c: int, s: int, idx, since: np.ndarray):
    was = state.live[c, s, idx]
    state.elapsed[c, s, idx] = np.where(was, state.elapsed[c, s, idx], since)
    state.live[c, s, idx] = True


def _apply(ev: Event, cat: Catalog, seed: int, minutes, state: sess.LiveState, mods: _Mods, factor):
    c, dur = ev.cat, ev.end - ev.start + 1
    if ev.kind == "streamer_spike":
        idx, k = _window(ev, minutes, ev.start - ev.pre, ev.end)
        _force_live(state, c, ev.slot, idx, (k + ev.pre).astype(np.float32))
        inside = k >= 0
        kk = k[inside].astype(np.float32)
        shape = np.minimum(1.0, (kk + 1) / ev.up) * (1 - 0.4 * kk / dur)
        shape *= np.minimum(1.0, (dur - kk) / 3.0)
        mods.extra.append((c, ev.slot, idx[inside], (ev.size * shape).astype(np.float32)))
        if ev.title:
            state.variant[c, ev.slot, idx[inside]] = V_SPIKE
    elif ev.kind == "category_surge":
        idx, k = _window(ev, minutes, ev.start, ev.end)
        shape = _smoothstep((k + 1) / ev.up) * (1 - 0.2 * k / dur)
        shape *= np.minimum(1.0, (dur - k) / ev.down)
        mods.bg[c, idx] *= 1 + (ev.size - 1) * shape
        mods.named[c, idx] *= 1 + 0.5 * (ev.size - 1) * shape
        mods.lives[c, idx] *= 1 + 0.7 * (ev.size - 1) * shape
        mods.extra_lives[c, idx] += np.round(6 * shape)
        state.variant[c, 0, idx] = np.where(
            state.live[c, 0, idx], V_SURGE, state.variant[c, 0, idx]
        )
    elif ev.kind == "category_adoption":
        a, s = ev.src_cat, ev.src_slot
        idx, k = _window(ev, minutes, ev.start - ev.pre, ev.start - 1)
        _force_live(state, a, s, idx, (k + ev.pre).astype(np.float32))
        idx, k = _window(ev, minutes, ev.start, ev.end)
        state.live[a, s, idx] = False
        state.live[c, GUEST, idx] = True
        state.elapsed[c, GUEST, idx] = k.astype(np.float32)
        mods.guest_frag[c, idx] = fragment_index(a, s, V_ADOPT)
        mods.guest_aud[c, idx] = cat.aud[a, s] * factor[a, idx] / factor[c, idx]
    elif ev.kind == "organic_growth":
        idx, k = _window(ev, minutes, ev.start, ev.end)
        shape = np.where(
            k < ev.up, _smoothstep(k / ev.up), _smoothstep((ev.end - ev.start - k) / ev.down)
        )
        shape = np.where((k >= ev.up) & (k < ev.up + ev.hold), 1.0, shape)
        mods.bg[c, idx] *= 1 + (ev.size - 1) * shape
        mods.lives[c, idx] *= 1 + (ev.size - 1) * shape
    else:  # data faults: rows missing for the whole platform or half its categories
        idx, _ = _window(ev, minutes, ev.start, ev.end)
        on_platform = np.nonzero(cat.cat_platform == ev.platform)[0]
        if ev.kind == "missing_minute":
            mods.keep[np.ix_(on_platform, idx)] = False
        else:
            half = uniform(seed, S_PART, combine(on_platform[:, None], minutes[idx][None, :]))
            sub = mods.keep[np.ix_(on_platform, idx)]
            mods.keep[np.ix_(on_platform, idx)] = sub & (half >= 0.5)


def _dips(seed: int, cats: np.ndarray, minutes: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Short undercounts (a reconnecting top stream, a glitchy count): 1-2 minutes at 35-65%."""
    prev = np.concatenate([[minutes[0] - 1], minutes])
    key = combine(cats[:, None], prev[None, :])
    starts = uniform(seed, S_DIP, key) < np.concatenate([prob[:, :1], prob], axis=1)
    depth = (0.35 + 0.3 * uniform(seed, S_DEPTH, key)).astype(np.float32)
    two = uniform(seed, S_DIPLEN, key) < 0.4
    out = np.where(starts[:, 1:], depth[:, 1:], np.float32(1.0))
    carry = starts[:, :-1] & two[:, :-1]
    return np.where(carry, np.minimum(out, depth[:, :-1]), out)


def compute_chunk(cat: Catalog, seed: int, minutes: np.ndarray, events: list[Event]) -> Chunk:
    cats = np.arange(cat.n, dtype=np.int64)
    n_c, n_m = len(cats), len(minutes)
    factor, curve = _factor(cat, seed, cats, minutes)
    state = sess.live_state(cat, seed, cats, minutes)
    mods = _Mods(n_c, n_m)
    for ev in events:
        _apply(ev, cat, seed, minutes, state, mods, factor)
    small = _smallness(cat.peak)[:, None]
    night = night_weight(curve)
    key = combine(cats[:, None], minutes[None, :])
    # background: the long tail of unnamed streams
    bg = (cat.peak * (1 - cat.named_share)).astype(np.float32)[:, None] * factor * mods.bg
    bg *= wander(seed, cats, minutes, (0.03 + 0.04 * small))
    lives = cat.bg_lives.astype(np.float32)[:, None] * factor**0.8 * mods.lives
    lives = np.floor(lives + uniform(seed, S_LIVES, key).astype(np.float32))
    sigma = 0.03 + (0.03 + 0.10 * night) * small + 0.7 / np.sqrt(bg + 1)
    bg *= np.exp(np.minimum(sigma, 0.5) * normal(seed, S_BG, key))
    bg = np.where(lives > 0, bg, 0)
    # named streamers (and the guest slot)
    aud = np.broadcast_to(cat.aud[:, :, None].astype(np.float32), state.live.shape).copy()
    aud[:, GUEST, :] = mods.guest_aud
    g_key = combine((cats[:, None] * SLOTS + np.arange(SLOTS))[:, :, None], minutes[None, None, :])
    noise = np.exp(np.float32(0.04) * normal(seed, S_STREAMER, g_key))
    named = aud * sess.ramp(state.elapsed) * noise * (factor * mods.named)[:, None, :]
    for c, s, idx, extra in mods.extra:
        named[c, s, idx] += extra
    dip = _dips(seed, cats, minutes, (0.0008 + 0.006 * night * small).astype(np.float32))
    named = np.where(state.live, np.maximum(np.round(named * dip[:, None, :]), 1), 0)
    named = named.astype(np.int64)
    viewers = np.round(bg * dip).astype(np.int64) + named.sum(axis=1)
    open_lives = lives.astype(np.int64) + state.live.sum(axis=1) + mods.extra_lives.astype(np.int64)
    # top 5 named streamers per category and minute
    order = np.argsort(-named.transpose(0, 2, 1), axis=2, kind="stable")[:, :, :TOP]
    top_v = np.take_along_axis(named.transpose(0, 2, 1), order, axis=2)
    var = np.take_along_axis(state.variant.transpose(0, 2, 1), order, axis=2)
    frag = fragment_index(cats[:, None, None], order, var)
    frag = np.where(order == GUEST, mods.guest_frag[:, :, None], frag)
    frag = np.where(top_v > 0, frag, -1)
    return Chunk(viewers, open_lives, frag, top_v, mods.keep)
