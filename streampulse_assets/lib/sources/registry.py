"""The one registry of snapshot sources: their names, the factories that build them, and the
refusal of configurations where two sources would write one platform.

Live platform clients (STREAMPULSE_SOURCES=chzzk,soop) are built by `build_live_sources`; the
history sources (simulator, replay) by `build_history`, whose imports are lazy (each is optional)
and which reuses one instance per process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

import pandas as pd

from streampulse_assets.lib.settings import ChzzkSettings, Settings, SoopSettings
from streampulse_assets.lib.settings.configs import chzzk_config, soop_config
from streampulse_assets.lib.sources.base import LiveSource, SourceConfigError, SourceOverlapError
from streampulse_assets.lib.sources.chzzk import ChzzkSource
from streampulse_assets.lib.sources.soop import SoopSource

# Each reads only its own settings group, so one source's bad variable fails that source alone.
LIVE_SOURCES: dict[str, Callable[[Mapping[str, str] | None], LiveSource]] = {
    "chzzk": lambda env: ChzzkSource(chzzk_config(ChzzkSettings.read(env))),
    "soop": lambda env: SoopSource(soop_config(SoopSettings.read(env))),
}
HISTORY_SOURCES = ("simulator", "replay")
LIVE_PLATFORMS = tuple(LIVE_SOURCES)  # a live source is named after its platform
SOURCE_NAMES = (*HISTORY_SOURCES, *LIVE_PLATFORMS)  # every name STREAMPULSE_SOURCES accepts
# The platforms the simulator writes (Simulator's default `platforms`; a test keeps them equal).
SIMULATED_PLATFORMS = ("chzzk", "soop")


def build_live_sources(names: list[str], env: Mapping[str, str] | None = None) -> list[LiveSource]:
    """One source per distinct name, in order; unknown names or missing settings raise
    SourceConfigError saying what to change. `env` defaults to the process environment."""
    wanted = list(dict.fromkeys(n.strip().lower() for n in names if n and n.strip()))
    unknown = [n for n in wanted if n not in LIVE_SOURCES]
    if unknown:
        hint = ""
        if any(n in HISTORY_SOURCES for n in unknown):
            hint = " (simulator and replay are history sources, not live platform clients)"
        raise SourceConfigError(
            f"unknown live source(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(LIVE_SOURCES)}{hint}"
        )
    return [LIVE_SOURCES[name](env) for name in wanted]


def build_history(name: str, settings: Settings):
    """The history source, reused across ticks and backfill slices of one process: the simulator
    keeps its planned days, a replay file is read once (again only when the file changes)."""
    if name == "simulator":
        sim = settings.sources.simulator
        return _simulator(sim.seed, sim.categories, sim.scenario)
    if name == "replay":
        if not settings.sources.replay.path:
            raise SourceConfigError(
                "the replay source needs STREAMPULSE_REPLAY_PATH (a CSV or Parquet file)"
            )
        path = Path(settings.sources.replay.path)
        stat = path.stat() if path.exists() else None
        return _replay(str(path), stat and (stat.st_mtime_ns, stat.st_size))
    raise SourceConfigError(f"{name} is not a history source")


@lru_cache(maxsize=4)
def _simulator(seed: int, categories: int, scenario: str):
    from streampulse_assets.lib.sources.simulator import Simulator

    return Simulator(seed=seed, categories_per_platform=categories, scenario=scenario)


@lru_cache(maxsize=1)
def _replay(path: str, version: tuple[int, int] | None):
    from streampulse_assets.lib.sources.replay import ReplaySource

    return ReplaySource(path)  # a missing file raises its own clear error; `version` keys the cache


def build_live(name: str):
    return build_live_sources([name])[0]


_ONE_SOURCE = (
    "rows of one platform and minute come from exactly one source (a second one would erase "
    "the first's rows, or detection would count both)"
)


def check_overlap(names: list[str]) -> None:
    """Refuse STREAMPULSE_SOURCES naming two sources of one platform (e.g. simulator,chzzk).

    Raises SourceOverlapError naming both sources and the platform. A replay file's platforms are
    only known from its rows: `check_frames_overlap` catches those when a tick collects them.
    """
    if "simulator" not in names:
        return
    for name in names:
        if name in SIMULATED_PLATFORMS:
            raise SourceOverlapError(
                f"STREAMPULSE_SOURCES={','.join(names)}: sources 'simulator' and '{name}' both "
                f"write platform '{name}'; {_ONE_SOURCE}. Use one of them (to try both, give "
                "each its own warehouse with STREAMPULSE_DUCKDB_PATH)."
            )


def check_frames_overlap(frames: dict[str, pd.DataFrame]) -> None:
    """Refuse collected rows where two sources answered for one (platform, minute)."""
    keys = [
        f[["platform", "ts"]].drop_duplicates().assign(source=name)
        for name, f in frames.items()
        if len(f)
    ]
    if len(keys) < 2:
        return
    both = pd.concat(keys, ignore_index=True)
    shared = both[both.duplicated(["platform", "ts"], keep=False)]
    if shared.empty:
        return
    platform = shared["platform"].iloc[0]
    mine = shared[shared["platform"] == platform]
    sources = list(dict.fromkeys(mine["source"]))
    minutes = mine["ts"].drop_duplicates()
    raise SourceOverlapError(
        f"sources {sources[0]!r} and {sources[1]!r} both have rows for platform {platform!r} "
        f"({len(minutes)} minute(s) from {minutes.min():%Y-%m-%d %H:%M} UTC); {_ONE_SOURCE}. "
        "Nothing was stored: name one source per platform in STREAMPULSE_SOURCES."
    )
