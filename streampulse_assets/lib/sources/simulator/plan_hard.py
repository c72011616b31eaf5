"""The hard scenario's day plan: modest real spikes among look-alikes that are not spikes.

Positive events (streamer spikes, surges, adoptions) are sized against the category's own clean
level: most are modest (2-3x for small and mid categories, +30-60 % for the largest), some are
large, and all reach most of their height within 1-5 minutes from the labelled start. Negative
look-alikes: borderline 1.2-1.8x rises, event days with a gradual build-up, a platform-wide dip
and its recovery, tiny categories where one streamer going live or offline doubles or halves the
count, and days of a multi-day organic trend. Like `plan_day`, one plan per (seed, platform, UTC
day) from a generator seeded with exactly those keys, every event inside its UTC day.
"""

from __future__ import annotations

import numpy as np

from streampulse_assets.lib.sources.simulator.catalog import Catalog
from streampulse_assets.lib.sources.simulator.events import Event, LevelFn, _Planner
from streampulse_assets.lib.sources.simulator.season import DAY, trend

TINY_PEAK = 130.0  # daily peak of a "tiny" category (its level is 5-100 viewers most of the day)
LARGEST = 20_000.0  # level above which a real spike is +30-60 % rather than 2-3x
CHURN_SLOTS = (13, 12, 11)  # named slots left empty in tiny categories, used by churn streamers
TREND_LABEL = 1.05  # a day whose multi-day trend grows by 5 %+ is labelled organic_growth


class HardPlanner(_Planner):
    def __init__(self, cat: Catalog, seed: int, platform: int, day: int, level_fn: LevelFn):
        super().__init__(cat, seed, platform, day, level_fn)
        self.seed = seed

    def level(self, c: int, t0: int, t1: int) -> float:
        return float(np.median(self.levels(c, t0, t1)[0]))

    def _ratio(self, lref: float, modest: bool) -> float:
        if not modest:
            return float(self.rng.uniform(3.5, 6.0))
        if lref >= LARGEST:
            return float(self.rng.uniform(1.35, 1.6))
        return float(self.rng.uniform(2.0, 3.0))

    def spike(self) -> Event | None:
        peak = self.cat.peak
        c = self.choose(pool := self.pool(peak >= 150), peak[pool] ** 0.3)
        if c is None:
            return None
        dur, pre = int(self.rng.integers(20, 91)), int(self.rng.integers(60, 121))
        t0 = self.start(pre, DAY - dur - 1)
        lref = self.level(c, t0 - 30, t0)
        size = (self._ratio(lref, self.rng.random() < 0.7) - 1) * lref
        return self.spike_event(c, t0, dur, pre, size)

    def surge(self) -> Event | None:
        peak = self.cat.peak
        c = self.choose(pool := self.pool(peak >= 300), peak[pool] ** 0.3)
        if c is None:
            return None
        dur, up = int(self.rng.integers(45, 181)), int(self.rng.integers(2, 6))
        t0 = self.start(0, DAY - dur - 1)
        total, share, _ = self.levels(c, t0 - 30, t0)
        target = self._ratio(float(np.median(total)), self.rng.random() < 0.8)
        return self.surge_event(c, t0, dur, up, target, share)

    def adoption(self) -> Event | None:
        cat, peak = self.cat, self.cat.peak
        dur, pre = int(self.rng.integers(60, 151)), int(self.rng.integers(60, 121))
        t0 = self.start(pre, DAY - dur - 1)
        sources = self.pool(peak >= 3000)
        if len(sources) == 0:
            return None
        eff = cat.aud[sources, 0] * self.levels(sources, t0 - pre, t0 + dur)[2].min(axis=1)
        ok = eff >= 1200
        if not ok.any():
            return None
        a = self.choose(sources[ok], eff[ok])
        a_eff = float(cat.aud[a, 0] * self.levels(a, t0, t0 + dur)[2].min())
        targets = self.pool(peak >= 200)
        if len(targets) == 0:
            return None
        level = self.levels(targets, t0 - 30, t0)[0].max(axis=1)
        fits = level <= a_eff / 1.2  # the category at least doubles when the streamer arrives
        b = self.choose(targets[fits], peak[targets[fits]] ** 0.3) if fits.any() else None
        if b is None:
            return None
        return Event(
            "category_adoption", self.p, b, t0, t0 + dur - 1, src_cat=a, src_slot=0, pre=pre
        )

    def _envelope(self, kind, c, t0, size, up, hold, down, tail=0) -> Event:
        end = t0 + up + hold + down - 1 + tail
        return Event(kind, self.p, c, t0, end, size=float(size), up=up, hold=hold, down=down)

    def borderline(self) -> Event | None:
        peak = self.cat.peak
        c = self.choose(pool := self.pool(peak >= 200), peak[pool] ** 0.3)
        if c is None:
            return None
        up, hold, down = (int(self.rng.integers(a, b)) for a, b in ((5, 21), (20, 121), (5, 21)))
        t0 = self.start(0, DAY - (up + hold + down) - 1)
        return self._envelope(
            "borderline_rise", c, t0, self.rng.uniform(1.25, 1.65), up, hold, down
        )

    def event_day(self) -> Event | None:
        peak = self.cat.peak
        c = self.choose(pool := self.pool(peak >= 300), peak[pool] ** 0.5)
        if c is None:
            return None
        up, down = int(self.rng.integers(60, 151)), int(self.rng.integers(60, 121))
        t0 = self.day0 + int(self.rng.integers(0, 181))  # 09:00-12:00 KST
        hold = int(self.rng.integers(12 * 60, 17 * 60))
        hold = min(hold, self.day0 + DAY - 1 - t0 - up - down)
        return self._envelope("event_day", c, t0, self.rng.uniform(1.4, 2.2), up, hold, down)

    def platform_dip(self) -> Event:
        fall, hold, rec = (int(self.rng.integers(a, b)) for a, b in ((1, 4), (8, 38), (3, 11)))
        t0 = self.day0 + int(self.rng.integers(60, DAY - 120))
        depth = self.rng.uniform(0.2, 0.6)
        return self._envelope("platform_dip", -1, t0, depth, fall, hold, rec, tail=2)

    def churn(self) -> list[Event]:
        """Tiny categories: a small streamer goes live (the count doubles) and later offline."""
        tiny = self.pool(self.cat.peak <= TINY_PEAK)
        if len(tiny) == 0:
            return []
        samples = self.day0 + np.arange(0, DAY, 30)
        total, _, factor = self.level_fn(tiny, samples)
        out = []
        for j, c in enumerate(tiny):
            slots = [s for s in CHURN_SLOTS if self.cat.aud[c, s] == 0]
            n = min(int(self.rng.poisson(1.6)), len(slots))
            for s in slots[:n]:
                dur = int(self.rng.integers(30, 241))
                t0 = self.day0 + int(self.rng.integers(0, DAY - dur - 1))
                k = (t0 - self.day0) // 30
                aud = self.rng.uniform(0.8, 1.5) * total[j, k] / max(float(factor[j, k]), 1e-3)
                out.append(
                    Event("small_category_churn", self.p, int(c), t0, t0 + dur, slot=s,
                          size=float(max(aud, 2.0)))
                )  # fmt: skip
        return out

    def trend_days(self) -> list[Event]:
        ends = np.array([self.day0, self.day0 + DAY - 1])
        ratio = trend(self.seed, self.cats, ends, self.cat.scenario.trend_sigma)
        grow = self.cats[ratio[:, 1] >= TREND_LABEL * ratio[:, 0]]
        return [
            Event("organic_growth", self.p, int(c), self.day0, self.day0 + DAY - 1, effect="none")
            for c in grow
        ]


def plan_hard_day(
    cat: Catalog, seed: int, platform: int, day: int, level_fn: LevelFn
) -> list[Event]:
    """All events of one platform on one UTC day in the hard scenario."""
    pl = HardPlanner(cat, seed, platform, day, level_fn)
    rng = pl.rng
    makers = [pl.spike] * int(rng.integers(4, 8)) + [pl.surge] * int(rng.integers(1, 4))
    makers += [pl.adoption, pl.organic] + [pl.borderline] * int(rng.integers(4, 8))
    if rng.random() < 0.6:
        makers.append(pl.event_day)
    events = [e for e in (make() for make in makers) if e is not None]
    if rng.random() < 0.4:
        events.append(pl.platform_dip())
    return events + pl.churn() + pl.trend_days() + pl.faults()
