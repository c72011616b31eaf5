"""Effects of the hard scenario's look-alike events on one chunk (see simulator_plan_hard).

Like simulator_effects, every effect depends only on minute offsets from the event's start, so
any chunk that contains part of an event reproduces that part exactly.
"""

from __future__ import annotations

import numpy as np

from streampulse_assets.lib.sources.simulator import sessions as sess
from streampulse_assets.lib.sources.simulator.catalog import N_BASE_TITLES, SLOTS, fragment_index
from streampulse_assets.lib.sources.simulator.effects import World, _smoothstep
from streampulse_assets.lib.sources.simulator.events import Event
from streampulse_assets.lib.sources.simulator.hash import uniform
from streampulse_assets.lib.sources.simulator.season import DAY

S_DIPCAT = 38
CHURN_LEAD = 3.0  # a small streamer's regulars are there within a few minutes


def envelope(k: np.ndarray, up: int, hold: int, down: int) -> np.ndarray:
    """0 -> 1 over `up` minutes, 1 for `hold`, back to 0 over `down` (smooth ramps)."""
    k = np.asarray(k, np.float32)
    rise = _smoothstep((k + 1) / max(up, 1))
    fall = _smoothstep((up + hold + down - 1 - k) / max(down, 1))
    return np.where(k < up, rise, np.where(k < up + hold, 1.0, fall)).astype(np.float32)


def _rise(w: World, ev: Event):
    """borderline_rise, event_day: the whole category rises by `size` and comes back."""
    idx, m = w.window(ev.start, ev.end)
    if len(idx) == 0:
        return
    shape = envelope(m - ev.start, ev.up, ev.hold, ev.down)
    gain = 1 + (ev.size - 1) * shape
    w.bg[ev.cat, idx] *= gain
    w.named[ev.cat, idx] *= gain
    w.lives[ev.cat, idx] *= 1 + 0.6 * (ev.size - 1) * shape


def _platform_dip(w: World, ev: Event):
    """Every category of the platform loses `size` (+-10 %) of its viewers, then recovers."""
    idx, m = w.window(ev.start, ev.end)
    if len(idx) == 0:
        return
    cats = np.nonzero(w.cat.cat_platform == ev.platform)[0]
    depth = ev.size * (0.9 + 0.2 * uniform(w.seed, S_DIPCAT, cats, ev.start))
    shape = envelope(m - ev.start, ev.up, ev.hold, ev.down)
    gain = (1 - depth[:, None] * shape[None, :]).astype(np.float32)
    grid = np.ix_(cats, idx)
    w.bg[grid] *= gain
    w.named[grid] *= gain


def apply_churn(w: World, events: list[Event]):
    """small_category_churn, all at once: each event's streamer is live in [start, end)."""
    if not events:
        return
    start = np.array([e.start for e in events], np.int64)
    stop = np.array([e.end for e in events], np.int64)  # first offline minute
    lo = np.maximum(start, w.minutes[0])
    hi = np.minimum(stop - 1, w.minutes[-1])
    n = np.maximum(hi - lo + 1, 0)
    owner = np.repeat(np.arange(len(events)), n)
    m = lo[owner] + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
    i = np.searchsorted(w.minutes, m)
    ok = (i < len(w.minutes)) & (w.minutes[np.minimum(i, len(w.minutes) - 1)] == m)
    owner, m, i = owner[ok], m[ok], i[ok]
    cat = np.array([e.cat for e in events], np.int64)[owner]
    slot = np.array([e.slot for e in events], np.int64)[owner]
    variant = (start[owner] // DAY + slot) % N_BASE_TITLES
    elapsed = (m - start[owner]).astype(np.float32) + np.float32(CHURN_LEAD)
    cells = sess.Cells(cat * SLOTS + slot, i.astype(np.int64), elapsed, variant.astype(np.int64))
    aud = np.array([e.size for e in events], np.float32)[owner]
    frag = fragment_index(cat, slot, variant).astype(np.int64)
    w.added.append((cells, aud, frag, np.zeros(len(m), np.float32)))


def _none(w: World, ev: Event):
    """A label-only event (e.g. a day of a multi-day trend that is already in the level)."""


HARD_APPLY = {
    "borderline_rise": _rise,
    "event_day": _rise,
    "platform_dip": _platform_dip,
    "none": _none,
}
BATCHED = {"small_category_churn": apply_churn}
