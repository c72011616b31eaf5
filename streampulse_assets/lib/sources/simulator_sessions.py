"""Streamer sessions: which named streamer is live at which minute, and with which title.

Each named streamer has at most one session per KST day, decided by hashing (seed, streamer,
day): whether it happens, its start (around the streamer's usual time), its length, its title
and an optional mid-session title change. Sessions may run past midnight, so minute m looks at
the sessions of its KST day and the day before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streampulse_assets.lib.sources.simulator_catalog import N_BASE_TITLES, SLOTS, Catalog
from streampulse_assets.lib.sources.simulator_hash import combine, normal, uniform
from streampulse_assets.lib.sources.simulator_season import DAY, KST_OFFSET, kst_day

S_ACT, S_START, S_DUR, S_TITLE, S_TCHG, S_TAT = 21, 22, 23, 24, 25, 26
RAMP_TAU = 7.0  # minutes for an audience to gather after going live
NOT_LIVE = np.float32(1e9)


@dataclass
class LiveState:
    live: np.ndarray  # [C, SLOTS, M] bool
    elapsed: np.ndarray  # [C, SLOTS, M] float32 minutes since the session start
    variant: np.ndarray  # [C, SLOTS, M] int8 title variant


def _day_sessions(cat: Catalog, seed: int, cats: np.ndarray, day: int):
    g = cats[:, None] * SLOTS + np.arange(SLOTS)[None, :]
    key = combine(g, day)
    active = uniform(seed, S_ACT, key) < cat.p_live[cats]
    start = day * DAY - KST_OFFSET + cat.pref_start[cats] + 45.0 * normal(seed, S_START, key)
    start = np.round(start).astype(np.int64)
    dur = cat.duration[cats] * (0.75 + 0.5 * uniform(seed, S_DUR, key))
    end = start + np.round(dur).astype(np.int64)
    title = np.floor(uniform(seed, S_TITLE, key) * N_BASE_TITLES).astype(np.int8)
    change = start + np.round(dur * (0.3 + 0.5 * uniform(seed, S_TAT, key))).astype(np.int64)
    change = np.where(uniform(seed, S_TCHG, key) < 0.35, change, np.iinfo(np.int64).max)
    return active & (cat.aud[cats] > 0), start, end, title, change


def live_state(cat: Catalog, seed: int, cats: np.ndarray, minutes: np.ndarray) -> LiveState:
    shape = (len(cats), SLOTS, len(minutes))
    live = np.zeros(shape, bool)
    elapsed = np.full(shape, NOT_LIVE, np.float32)
    variant = np.zeros(shape, np.int8)
    if len(minutes) == 0:
        return LiveState(live, elapsed, variant)
    mins = np.asarray(minutes, np.int64)[None, None, :]
    days = np.unique(kst_day(minutes))
    for day in range(int(days[0]) - 1, int(days[-1]) + 1):
        active, start, end, title, change = _day_sessions(cat, seed, cats, day)
        rows = np.nonzero(active.any(axis=1))[0]
        if len(rows) == 0:
            continue
        st, en = start[rows, :, None], end[rows, :, None]
        on = active[rows, :, None] & (mins >= st) & (mins < en)
        if not on.any():
            continue
        live[rows] |= on
        elapsed[rows] = np.where(on, (mins - st).astype(np.float32), elapsed[rows])
        tv = title[rows, :, None]
        var = np.where(mins >= change[rows, :, None], (tv + 1) % N_BASE_TITLES, tv)
        variant[rows] = np.where(on, var.astype(np.int8), variant[rows])
    return LiveState(live, elapsed, variant)


def ramp(elapsed: np.ndarray) -> np.ndarray:
    """Share of the usual audience present `elapsed` minutes after going live."""
    return (1.0 - np.exp(-(elapsed + np.float32(1.0)) / np.float32(RAMP_TAU))).astype(np.float32)
