"""Streamer sessions: which named streamer is live at which minute, and with which title.

Each named streamer has at most one session per KST day, decided by hashing (seed, streamer,
day): whether it happens, its start (around the streamer's usual time), its length, its title
and an optional mid-session title change. Live minutes are returned sparsely as "cells" (one per
live streamer-minute), far smaller than the dense categories x slots x minutes cube.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streampulse_assets.lib.sources.simulator.catalog import N_BASE_TITLES, SLOTS, Catalog
from streampulse_assets.lib.sources.simulator.hash import combine, normal, uniform
from streampulse_assets.lib.sources.simulator.season import DAY, KST_OFFSET, kst_day

S_ACT, S_START, S_DUR, S_TITLE, S_TCHG, S_TAT = 21, 22, 23, 24, 25, 26
RAMP_TAU = 7.0  # minutes for an audience to gather after going live
NO_CHANGE = np.iinfo(np.int64).max


@dataclass
class Sessions:
    """Flat session list: row = local category index * SLOTS + slot."""

    row: np.ndarray
    start: np.ndarray
    end: np.ndarray  # exclusive
    title: np.ndarray
    change: np.ndarray  # minute of the title change (NO_CHANGE = none)


@dataclass
class Cells:
    """One entry per live (streamer, minute): row as in Sessions, i = index into minutes."""

    row: np.ndarray
    i: np.ndarray
    elapsed: np.ndarray  # float32 minutes since the session start
    variant: np.ndarray  # int64 title variant

    def take(self, sel) -> Cells:
        return Cells(self.row[sel], self.i[sel], self.elapsed[sel], self.variant[sel])

    @staticmethod
    def concat(parts: list[Cells]) -> Cells:
        return Cells(*(np.concatenate([getattr(p, f) for p in parts]) for f in Cells.fields()))

    @staticmethod
    def fields() -> tuple[str, ...]:
        return ("row", "i", "elapsed", "variant")


def _day(cat: Catalog, seed: int, cats: np.ndarray, day: int):
    g = cats[:, None] * SLOTS + np.arange(SLOTS)[None, :]
    key = combine(g, day)
    active = (uniform(seed, S_ACT, key) < cat.p_live[cats]) & (cat.aud[cats] > 0)
    start = day * DAY - KST_OFFSET + cat.pref_start[cats] + 45.0 * normal(seed, S_START, key)
    start = np.round(start).astype(np.int64)
    dur = cat.duration[cats] * (0.75 + 0.5 * uniform(seed, S_DUR, key))
    end = start + np.round(dur).astype(np.int64)
    title = np.floor(uniform(seed, S_TITLE, key) * N_BASE_TITLES).astype(np.int64)
    change = start + np.round(dur * (0.3 + 0.5 * uniform(seed, S_TAT, key))).astype(np.int64)
    change = np.where(uniform(seed, S_TCHG, key) < 0.35, change, NO_CHANGE)
    return active, start, end, title, change


def sessions(cat: Catalog, seed: int, cats: np.ndarray, lo: int, hi: int) -> Sessions:
    """Sessions of the given categories that overlap minutes [lo, hi].

    Sessions last at most ~12.5 hours and start about a day apart, so a streamer's sessions
    never overlap and minute m only needs the sessions of its KST day and the day before.
    """
    parts = []
    first, last = int(kst_day(np.array([lo]))[0]) - 1, int(kst_day(np.array([hi]))[0])
    for day in range(first, last + 1):
        active, start, end, title, change = _day(cat, seed, cats, day)
        sel = (active & (start <= hi) & (end > lo)).reshape(-1)
        r = np.nonzero(sel)[0]
        parts.append((r, *(a.reshape(-1)[r] for a in (start, end, title, change))))
    return Sessions(*(np.concatenate([p[k] for p in parts]) for k in range(5)))


def expand(s: Sessions, minutes: np.ndarray) -> Cells:
    """Cells of sessions over a sorted minute array (contiguous or sampled)."""
    a = np.searchsorted(minutes, s.start, side="left")
    b = np.searchsorted(minutes, s.end, side="left")
    n = np.maximum(b - a, 0)
    total = int(n.sum())
    owner = np.repeat(np.arange(len(n)), n)
    offset = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
    i = a[owner] + offset
    m = minutes[i]
    variant = np.where(m >= s.change[owner], (s.title[owner] + 1) % N_BASE_TITLES, s.title[owner])
    elapsed = (m - s.start[owner]).astype(np.float32)
    return Cells(s.row[owner], i.astype(np.int64), elapsed, variant.astype(np.int64))


def live_cells(cat: Catalog, seed: int, cats: np.ndarray, minutes: np.ndarray) -> Cells:
    if len(minutes) == 0:
        return expand(sessions(cat, seed, cats, 0, 0), minutes)
    return expand(sessions(cat, seed, cats, int(minutes[0]), int(minutes[-1])), minutes)


def ramp(elapsed: np.ndarray) -> np.ndarray:
    """Share of the usual audience present `elapsed` minutes after going live."""
    return (1.0 - np.exp(-(elapsed + np.float32(1.0)) / np.float32(RAMP_TAU))).astype(np.float32)
