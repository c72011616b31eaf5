"""Event effects on one simulated chunk: forced live minutes, extra viewers, multipliers, faults.

`World` holds a chunk's live streamer cells and per-category multipliers; each `APPLY[kind]`
function changes them for one event. Effects only use minute offsets from the event's start, so
any chunk that contains part of an event reproduces that part exactly.
"""

from __future__ import annotations

import numpy as np

from streampulse_assets.lib.sources.simulator import sessions as sess
from streampulse_assets.lib.sources.simulator.catalog import (
    GUEST,
    SLOTS,
    V_ADOPT,
    V_SPIKE,
    V_SURGE,
    Catalog,
    fragment_index,
)
from streampulse_assets.lib.sources.simulator.events import Event
from streampulse_assets.lib.sources.simulator.hash import combine, uniform

S_PART = 37


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class World:
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


def _natural(w: World, row: int, idx: np.ndarray, field: str, default: np.ndarray):
    """The streamer's own per-minute value over idx where it is live anyway, else default."""
    out = default.copy()
    own = w.cell_mask(row, idx)
    out[w.cells.i[own] - idx[0]] = getattr(w.cells, field)[own]
    return out


def _spike(w: World, ev: Event):
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


def _adoption(w: World, ev: Event):
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


def _surge(w: World, ev: Event):
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


def _organic(w: World, ev: Event):
    idx, m = w.window(ev.start, ev.end)
    k = m - ev.start
    shape = np.where(k < ev.up, _smoothstep(k / ev.up), _smoothstep((ev.end - m) / ev.down))
    shape = np.where((k >= ev.up) & (k < ev.up + ev.hold), 1.0, shape)
    w.bg[ev.cat, idx] *= 1 + (ev.size - 1) * shape
    w.lives[ev.cat, idx] *= 1 + (ev.size - 1) * shape


def _fault(w: World, ev: Event):
    idx, m = w.window(ev.start, ev.end)
    cats = np.nonzero(w.cat.cat_platform == ev.platform)[0]
    grid = np.ix_(cats, idx)
    if ev.kind == "missing_minute":
        w.keep[grid] = False
    else:  # partial outage: about half the platform's categories are missing
        half = uniform(w.seed, S_PART, combine(cats[:, None], m[None, :]))
        w.keep[grid] &= half >= 0.5


APPLY = {
    "streamer_spike": _spike,
    "category_adoption": _adoption,
    "category_surge": _surge,
    "organic_growth": _organic,
    "missing_minute": _fault,
    "partial_outage": _fault,
}
