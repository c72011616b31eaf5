"""The offline simulator: a deterministic CHZZK/SOOP-like history for any past window.

Every value is a function of (seed, category or streamer, minute), so any minute can be
regenerated on its own: `frame(a, c)` equals `frame(a, b)` followed by `frame(b, c)` row for row.
Events (spikes, surges, adoptions, organic growth, data faults; in the default "hard" scenario
also borderline rises, event days, platform dips and tiny-category churn) are planned per
(platform, UTC day) and exported as ground-truth labels by `labels()`. See the other modules of
this package for the model and scenario.py for the scenarios.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from streampulse_assets.lib.snapshots import SNAPSHOT_COLUMNS, empty_frame
from streampulse_assets.lib.sources.simulator.catalog import Catalog, build_catalog
from streampulse_assets.lib.sources.simulator.engine import TOP, clean_levels, compute_chunk
from streampulse_assets.lib.sources.simulator.events import Event, plan_day
from streampulse_assets.lib.sources.simulator.plan_hard import plan_hard_day
from streampulse_assets.lib.sources.simulator.scenario import resolve_scenario
from streampulse_assets.lib.sources.simulator.season import DAY
from streampulse_assets.lib.timeutil import to_minute

_US_PER_MIN = 60_000_000
_PLAN_CACHE = 256


_SEPARATORS = pa.array(["}, ", "}"], pa.string())


def _top_json(fragments: pa.Array, frag: np.ndarray, viewers: np.ndarray) -> pa.Array:
    """JSON lists built column-wise in one Arrow join: per rank, the fragment prefix (id, name,
    title), the viewer count and a closing separator; absent ranks are null and skipped."""
    pieces: list = ["["]
    valid = frag >= 0
    for k in range(TOP):
        mask = ~valid[:, k]
        pieces.append(fragments.take(pa.array(np.where(mask, 0, frag[:, k]), mask=mask)))
        pieces.append(pc.cast(pa.array(viewers[:, k], mask=mask), pa.string()))
        last = ~valid[:, k + 1] if k + 1 < TOP else np.ones(len(frag), bool)
        pieces.append(_SEPARATORS.take(pa.array(last.astype(np.int8), mask=mask)))
    pieces.append("]")
    return pc.binary_join_element_wise(*pieces, "", null_handling="skip")


class Simulator:
    """HistorySource producing canonical snapshot frames and ground-truth labels."""

    name = "simulator"

    def __init__(
        self,
        seed: int = 7,
        categories_per_platform: int = 300,
        platforms: tuple[str, ...] = ("chzzk", "soop"),
        scenario: str | None = None,
    ) -> None:
        """`scenario`: "hard" (realistic, the default) or "classic" (the original easy world);
        None = STREAMPULSE_SIMULATOR_SCENARIO (see simulator_scenario)."""
        if categories_per_platform < 1:
            raise ValueError("categories_per_platform must be at least 1")
        self.seed = int(seed)
        self.categories_per_platform = int(categories_per_platform)
        self.platforms = tuple(platforms)
        self.scenario = resolve_scenario(scenario).name
        self.catalog: Catalog = build_catalog(
            self.seed, self.categories_per_platform, self.platforms, resolve_scenario(scenario)
        )
        self._plan = plan_hard_day if self.catalog.scenario.hard else plan_day
        cat = self.catalog
        self._fragments = pa.array(cat.fragments, pa.string())
        self._platform = pa.array([self.platforms[p] for p in cat.cat_platform], pa.string())
        self._cat_id = pa.array(cat.cat_id, pa.string())
        self._cat_name = pa.array(cat.cat_name, pa.string())
        self._plans: dict[tuple[int, int], list[Event]] = {}

    @classmethod
    def from_settings(cls, settings=None) -> Simulator:
        if settings is None:
            from streampulse_assets.lib.settings import get_settings

            settings = get_settings().sources.simulator
        return cls(
            seed=settings.seed,
            categories_per_platform=settings.categories,
            scenario=settings.scenario,
        )

    def categories(self) -> pd.DataFrame:
        """The simulated catalogue: platform, category_id, category_name, peak viewers."""
        cat = self.catalog
        return pd.DataFrame(
            {
                "platform": [self.platforms[p] for p in cat.cat_platform],
                "category_id": cat.cat_id,
                "category_name": cat.cat_name,
                "peak_viewers": np.round(cat.peak).astype(np.int64),
            }
        )

    # -- events -------------------------------------------------------------------------
    def _levels(self, cats: np.ndarray, minutes: np.ndarray):
        return clean_levels(self.catalog, self.seed, cats, minutes)

    def day_events(self, day: int) -> list[Event]:
        events: list[Event] = []
        for p in range(len(self.platforms)):
            key = (p, day)
            if key not in self._plans:
                if len(self._plans) >= _PLAN_CACHE:
                    self._plans.clear()
                self._plans[key] = self._plan(self.catalog, self.seed, p, day, self._levels)
            events += self._plans[key]
        return events

    def events(self, start, end) -> list[Event]:
        """Events whose window overlaps [start, end)."""
        m0, m1 = to_minute(start), to_minute(end)
        out = []
        for day in range(m0 // DAY, (m1 - 1) // DAY + 1 if m1 > m0 else m0 // DAY):
            out += [e for e in self.day_events(day) if e.start < m1 and e.end >= m0]
        return sorted(out, key=lambda e: (e.start, e.platform, e.cat, e.kind))

    def labels(self, start, end) -> list[dict]:
        """Ground-truth labels (contracts.md format) of the events overlapping [start, end).

        Windows are not clipped to the request; platform-wide faults use category_id "*".
        """
        return [e.label(self.catalog) for e in self.events(start, end)]

    # -- frames -------------------------------------------------------------------------
    def _chunk_frame(self, m0: int, m1: int) -> pd.DataFrame:
        minutes = np.arange(m0, m1, dtype=np.int64)
        # every event (and its lead-in) lies inside its UTC day, and a chunk never crosses one
        ch = compute_chunk(self.catalog, self.seed, minutes, self.day_events(m0 // DAY))
        n_c = ch.viewers.shape[0]
        keep = ch.keep.T.reshape(-1)
        rows = np.nonzero(keep)[0]
        cat_idx = pa.array((rows % n_c).astype(np.int64))
        minute = minutes[rows // n_c]
        frag = ch.top_frag.transpose(1, 0, 2).reshape(-1, TOP)[rows]
        top_v = ch.top_viewers.transpose(1, 0, 2).reshape(-1, TOP)[rows]
        data = {
            "platform": self._platform.take(cat_idx),
            "category_id": self._cat_id.take(cat_idx),
            "ts": (minute * _US_PER_MIN).astype("datetime64[us]"),
            "category_name": self._cat_name.take(cat_idx),
            "viewers": ch.viewers.T.reshape(-1)[rows],
            "open_lives": ch.open_lives.T.reshape(-1)[rows],
            "top_streamers": _top_json(self._fragments, frag, top_v),
        }
        frame = pd.DataFrame(
            {
                k: pd.Series(pd.arrays.ArrowStringArray(v)) if isinstance(v, pa.Array) else v
                for k, v in data.items()
            }
        )
        frame["open_lives"] = frame["open_lives"].astype("Int64")
        return frame[SNAPSHOT_COLUMNS]

    def iter_frames(self, start, end, max_minutes: int = DAY) -> Iterator[pd.DataFrame]:
        """Canonical frames for [start, end) in chunks that never cross a UTC day."""
        m0, m1 = to_minute(start), to_minute(end)
        while m0 < m1:
            stop = min(m1, (m0 // DAY + 1) * DAY, m0 + max_minutes)
            yield self._chunk_frame(m0, stop)
            m0 = stop

    def frame(self, start, end) -> pd.DataFrame:
        """Canonical rows with start <= ts < end (naive UTC minutes), by ts then category."""
        parts = list(self.iter_frames(start, end))
        if not parts:
            return empty_frame()
        if len(parts) == 1:
            return parts[0]
        return pd.concat(parts, ignore_index=True)
