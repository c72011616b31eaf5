"""The simulator's static world: categories, their popularity and their named streamers.

Built once per (seed, categories_per_platform, platforms) from a seeded generator; nothing here
depends on time. Popularity is heavy-tailed (Zipf-like with a steeper tail); every category has a
few named streamers (slots) with an audience, a usual start time and session length, one spare
"guest" slot used when a streamer moves in from another category (adoption events), and five
"tail" slots naming the biggest of the many small background streams.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from streampulse_assets.lib.sources.simulator import names
from streampulse_assets.lib.sources.simulator.scenario import SCENARIOS, Scenario

MAX_NAMED = 14
GUEST = MAX_NAMED  # slot of a streamer visiting from another category (adoption)
TAIL0, N_TAIL = MAX_NAMED + 1, 5  # slots of the biggest unnamed ("background") streams
SLOTS = TAIL0 + N_TAIL
N_BASE_TITLES = 4
V_SPIKE, V_ADOPT, V_SURGE = 4, 5, 6
N_VARIANTS = 7
PLATFORM_TOP = {"chzzk": 90_000.0, "soop": 76_000.0}


@dataclass
class Catalog:
    platforms: tuple[str, ...]
    cat_platform: np.ndarray  # [C] int index into platforms
    cat_id: list[str]
    cat_name: list[str]
    peak: np.ndarray  # [C] typical viewers at the daily peak
    named_share: np.ndarray  # [C] share of the peak carried by named streamers
    shift: np.ndarray  # [C] minutes the daily curve is shifted by
    weekend: np.ndarray  # [C] weekend afternoon boost
    bg_lives: np.ndarray  # [C] background live count at peak
    aud: np.ndarray  # [C, SLOTS] audience of each named streamer at peak (0 = empty slot)
    p_live: np.ndarray  # [C, SLOTS] chance of a session on a given KST day
    pref_start: np.ndarray  # [C, SLOTS] usual start, minutes after KST midnight
    duration: np.ndarray  # [C, SLOTS] usual session length, minutes
    fragments: list[str]  # JSON prefix per (c, slot, variant), see fragment_index
    scenario: Scenario = SCENARIOS["classic"]

    @property
    def n(self) -> int:
        return len(self.cat_id)


def _json(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def fragment_index(c, s, v):
    return (np.asarray(c) * SLOTS + np.asarray(s)) * N_VARIANTS + np.asarray(v)


def _peaks(platform: str, n: int, rng: np.random.Generator, sc: Scenario) -> np.ndarray:
    rank = np.arange(1, n + 1, dtype=np.float64)
    if sc.spread_ranks and n < 300:  # a small catalogue still spans big to tiny categories
        rank = 1.0 + (rank - 1.0) * 299.0 / max(n - 1, 1)
    level = PLATFORM_TOP[platform] * rank**-1.2
    level *= np.where(rank > 120, (rank / 120.0) ** -sc.tail_exponent, 1.0)
    level *= np.exp(rng.normal(0.0, 0.2, n))
    level[0] = PLATFORM_TOP[platform]
    return np.maximum(level, sc.peak_floor)


def _slot_params(peak: float, share: float, rng: np.random.Generator):
    n_named = int(np.clip(round(2 + 2.2 * np.log10(peak + 1)), 2, MAX_NAMED))
    w = np.arange(1, n_named + 1, dtype=np.float64) ** -1.1 * np.exp(rng.normal(0, 0.3, n_named))
    w = np.sort(w)[::-1] / w.sum()
    cap = 0.3 * min(
        1.0, (peak / 2000.0) ** -0.15
    )  # one streamer is a smaller share of a big category
    aud = np.minimum(share * peak * 1.5 * w, cap * peak)
    kind = rng.choice(4, n_named, p=[0.55, 0.2, 0.15, 0.1])
    start = np.choose(kind, [19 * 60, 13 * 60, 23 * 60, 9 * 60]) + rng.normal(0, 100, n_named)
    dur = np.clip(np.exp(rng.normal(np.log(240), 0.35, n_named)), 90, 600)
    return n_named, aud, rng.uniform(0.55, 0.9, n_named), start % 1440, dur


@lru_cache(maxsize=8)
def build_catalog(
    seed: int,
    per_platform: int,
    platforms: tuple[str, ...],
    scenario: Scenario = SCENARIOS["classic"],
) -> Catalog:
    """The static world for these settings (cached: it never changes and is read-only)."""
    rng = np.random.default_rng([seed, 1009])
    cols: dict[str, list] = {k: [] for k in ("plat", "id", "name", "peak")}
    for p_idx, platform in enumerate(platforms):
        if platform not in PLATFORM_TOP:
            raise ValueError(f"unknown simulated platform {platform!r} (chzzk or soop)")
        pairs = names.category_names(platform, per_platform, rng)
        cols["plat"] += [p_idx] * per_platform
        cols["id"] += [p[0] for p in pairs]
        cols["name"] += [p[1] for p in pairs]
        cols["peak"].append(_peaks(platform, per_platform, rng, scenario))
    peak = np.concatenate(cols["peak"]) if cols["peak"] else np.zeros(0)
    c_total = len(cols["id"])
    share = rng.uniform(0.3, 0.5, c_total)
    aud = np.zeros((c_total, SLOTS))
    p_live = np.zeros((c_total, SLOTS))
    pref = np.zeros((c_total, SLOTS))
    dur = np.full((c_total, SLOTS), 60.0)
    fragments: list[str] = []
    taken: set[str] = set()
    spike_titles = np.array([_json(t) for t in names.SPIKE_TITLES])
    event_titles = [_json(names.ADOPTION_TITLE), _json(names.SURGE_TITLE)]
    for c in range(c_total):
        k, a, pl, st, du = _slot_params(peak[c], share[c], rng)
        aud[c, :k], p_live[c, :k], pref[c, :k], dur[c, :k] = a, pl, st, du
        platform = platforms[cols["plat"][c]]
        ordinary = [_json(t) for t in names.title_texts(cols["name"][c])]
        for _slot in range(SLOTS):
            cid, nick = names.channel_id(platform, rng), names.nickname(rng, taken)
            titles = [ordinary[i] for i in names.base_title_picks(rng, N_BASE_TITLES)]
            titles += [str(names.pick(rng, spike_titles)), *event_titles]
            head = f'{{"channel_id": {_json(cid)}, "channel_name": {_json(nick)}, "title": '
            fragments += [f'{head}{t}, "viewers": ' for t in titles]
    avg_view = np.clip(np.exp(rng.normal(np.log(45), 0.5, c_total)), 8, 300)
    if scenario.hard:  # a tiny category has a few small background streams, not a flickering one
        avg_view = np.clip(np.minimum(avg_view, peak * (1 - share) / 3.0), 2.0, None)
    return Catalog(
        platforms=tuple(platforms),
        cat_platform=np.asarray(cols["plat"], dtype=np.int64),
        cat_id=cols["id"],
        cat_name=cols["name"],
        peak=peak,
        named_share=share,
        shift=np.clip(rng.normal(0, 45, c_total), -120, 120),
        weekend=rng.uniform(1.0, 1.3, c_total),
        bg_lives=peak * (1 - share) / avg_view,
        aud=aud,
        p_live=p_live,
        pref_start=pref,
        duration=dur,
        fragments=fragments,
        scenario=scenario,
    )
