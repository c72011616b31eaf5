"""Injected events with ground truth: what happens, where, when, and how big.

One plan per (seed, platform, UTC day), drawn from a generator seeded with exactly those keys, so
a day's events never depend on the requested window. Every event lies inside its UTC day (09:00
to 09:00 KST), uses its own category, and is sized against the category's clean level so that it
stands well above the category's normal level and noise. This is the "classic" scenario's plan;
the default "hard" scenario plans with simulator_plan_hard (same Event and _Planner).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from streampulse_assets.lib.sources.simulator.catalog import Catalog
from streampulse_assets.lib.sources.simulator.season import DAY, KST_OFFSET, daily_curve
from streampulse_assets.lib.timeutil import minute_to_dt

PLATFORM_WIDE = "*"
# level_fn(cats, minutes) -> (total clean level [C, M], background share [C, M], factor [C, M])
LevelFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Event:
    kind: str
    platform: int
    cat: int  # labelled category, -1 = the whole platform
    start: int  # first minute of the labelled window (minute index since the epoch)
    end: int  # last minute of the window, inclusive
    slot: int = -1
    src_cat: int = -1
    src_slot: int = -1
    pre: int = 0  # minutes the streamer is live before `start`
    size: float = 0.0
    up: int = 1
    hold: int = 0
    down: int = 0
    title: bool = False
    effect: str = ""  # effect applied (default: the kind's); "none" = a label only

    def label(self, cat: Catalog) -> dict:
        return {
            "platform": cat.platforms[self.platform],
            "category_id": PLATFORM_WIDE if self.cat < 0 else cat.cat_id[self.cat],
            "start": minute_to_dt(self.start).isoformat() + "Z",
            "end": minute_to_dt(self.end).isoformat() + "Z",
            "kind": self.kind,
        }


class _Planner:
    def __init__(self, cat: Catalog, seed: int, platform: int, day: int, level_fn: LevelFn):
        self.cat, self.p, self.level_fn = cat, platform, level_fn
        self.rng = np.random.default_rng([seed, 4242, platform, day])
        self.cats = np.nonzero(cat.cat_platform == platform)[0]
        self.day0 = day * DAY
        self.used: set[int] = set()
        w = daily_curve((np.arange(DAY) + KST_OFFSET) % DAY).astype(np.float64) ** 2
        self.start_w = w

    def start(self, lo: int, hi: int) -> int:
        w = self.start_w[lo:hi]
        return self.day0 + lo + int(self.rng.choice(hi - lo, p=w / w.sum()))

    def pool(self, mask: np.ndarray) -> np.ndarray:
        pool = self.cats[mask[self.cats]]
        return np.array([c for c in pool if c not in self.used], dtype=np.int64)

    def choose(self, pool: np.ndarray, weights: np.ndarray) -> int | None:
        if len(pool) == 0 or weights.sum() <= 0:
            return None
        c = int(self.rng.choice(pool, p=weights / weights.sum()))
        self.used.add(c)
        return c

    def levels(self, cats, t0: int, t1: int):
        minutes = np.linspace(t0, t1, 8).round().astype(np.int64)
        return self.level_fn(np.atleast_1d(np.asarray(cats, np.int64)), minutes)

    def spike_event(self, c: int, t0: int, dur: int, pre: int, size: float) -> Event:
        """A streamer_spike of one of the category's three biggest streamers (`size` viewers)."""
        slots = np.nonzero(self.cat.aud[c] > 0)[0][:3]
        return Event(
            "streamer_spike", self.p, c, t0, t0 + dur - 1, slot=int(self.rng.choice(slots)),
            pre=pre, size=float(size), up=int(self.rng.integers(1, 5)),
            title=bool(self.rng.random() < 0.5),
        )  # fmt: skip

    def surge_event(self, c: int, t0: int, dur: int, up: int, target: float, share) -> Event:
        """A category_surge whose background gain takes the whole category to `target`x, given
        the named streamers' `share` of it (they gain half as much)."""
        s = float(share.min())
        gb = 1 + (target - 1) / (s + 0.5 * (1 - s))
        return Event("category_surge", self.p, c, t0, t0 + dur - 1, size=gb, up=up, down=10)

    def spike(self) -> Event | None:
        peak = self.cat.peak
        c = self.choose(pool := self.pool((peak >= 150) & (peak <= 40_000)), peak[pool] ** 0.5)
        if c is None:
            return None
        # the streamer has been live in the category for an hour or two when the spike hits
        dur, pre = int(self.rng.integers(20, 91)), int(self.rng.integers(60, 121))
        t0 = self.start(pre, DAY - dur - 1)
        lref = float(self.levels(c, t0 - 60, t0 + dur)[0].max())
        size = max(self.rng.uniform(2500, 5000), self.rng.uniform(1.5, 3.5) * lref)
        return self.spike_event(c, t0, dur, pre, size)

    def surge(self) -> Event | None:
        peak = self.cat.peak
        c = self.choose(pool := self.pool(peak >= 600), peak[pool] ** 0.5)
        if c is None:
            return None
        dur, up = int(self.rng.integers(60, 181)), int(self.rng.integers(5, 16))
        t0 = self.start(0, DAY - dur - 1)
        total, share, _ = self.levels(c, t0 - 60, t0 + dur)
        target = max(self.rng.uniform(2.3, 3.5), 1 + 3000 / float(total.max()))
        return self.surge_event(c, t0, dur, up, target, share)

    def adoption(self) -> Event | None:
        cat, peak = self.cat, self.cat.peak
        dur, pre = int(self.rng.integers(60, 151)), int(self.rng.integers(60, 121))
        t0 = self.start(pre, DAY - dur - 1)
        sources = self.pool(peak >= 8000)
        if len(sources) == 0:
            return None
        _, _, factor = self.levels(sources, t0 - pre, t0 + dur)
        eff = cat.aud[sources, 0] * factor.min(axis=1)
        ok = eff >= 4000
        if not ok.any():
            return None
        a = self.choose(sources[ok], eff[ok])
        a_eff = float(cat.aud[a, 0] * self.levels(a, t0, t0 + dur)[2].min())
        targets = self.pool(peak >= 20)
        if len(targets) == 0:
            return None
        level = self.levels(targets, t0 - 60, t0 + dur)[0].max(axis=1)
        fits = level <= a_eff / 2.2 - 700
        b = self.choose(targets[fits], peak[targets[fits]] ** 0.3) if fits.any() else None
        if b is None:
            return None
        return Event(
            "category_adoption", self.p, b, t0, t0 + dur - 1, src_cat=a, src_slot=0, pre=pre
        )

    def organic(self) -> Event | None:
        peak = self.cat.peak
        c = self.choose(pool := self.pool(peak >= 300), peak[pool] ** 0.3)
        if c is None:
            return None
        up, hold = int(self.rng.integers(180, 301)), int(self.rng.integers(60, 121))
        down = int(self.rng.integers(120, 181))
        t0 = self.start(0, DAY - (up + hold + down) - 1)
        return Event(
            "organic_growth", self.p, c, t0, t0 + up + hold + down - 1,
            size=float(self.rng.uniform(1.6, 2.4)), up=up, hold=hold, down=down,
        )  # fmt: skip

    def faults(self) -> list[Event]:
        out = []
        if self.rng.random() < 0.5:
            t = self.day0 + int(self.rng.integers(0, DAY))
            out.append(Event("missing_minute", self.p, -1, t, t))
        if self.rng.random() < 0.5:
            t = self.day0 + int(self.rng.integers(0, DAY - 2))
            out.append(Event("partial_outage", self.p, -1, t, t + int(self.rng.integers(0, 2))))
        return out


def plan_day(cat: Catalog, seed: int, platform: int, day: int, level_fn: LevelFn) -> list[Event]:
    """All events of one platform on one UTC day (day = minutes // 1440)."""
    planner = _Planner(cat, seed, platform, day, level_fn)
    rng = planner.rng
    makers = [planner.spike] * (3 + int(rng.random() < 0.5))
    makers += [planner.surge] * (1 + int(rng.random() < 0.5))
    makers += [planner.adoption] + [planner.organic] * (1 + int(rng.random() < 0.3))
    events = [e for e in (make() for make in makers) if e is not None]
    return events + planner.faults()
