"""Build the configured snapshot sources by name (imports are lazy: each source is optional)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from streampulse_assets.lib.settings import Settings
from streampulse_assets.lib.sources.base import SourceConfigError


def build_history(name: str, settings: Settings):
    """The history source, reused across ticks and backfill slices of one process: the simulator
    keeps its planned days, a replay file is read once (again only when the file changes)."""
    if name == "simulator":
        return _simulator(settings.simulator_seed, settings.simulator_categories)
    if name == "replay":
        if not settings.replay_path:
            raise SourceConfigError(
                "the replay source needs STREAMPULSE_REPLAY_PATH (a CSV or Parquet file)"
            )
        path = Path(settings.replay_path)
        stat = path.stat() if path.exists() else None
        return _replay(str(path), stat and (stat.st_mtime_ns, stat.st_size))
    raise SourceConfigError(f"{name} is not a history source")


@lru_cache(maxsize=4)
def _simulator(seed: int, categories: int):
    from streampulse_assets.lib.sources.simulator import Simulator

    return Simulator(seed=seed, categories_per_platform=categories)


@lru_cache(maxsize=1)
def _replay(path: str, version: tuple[int, int] | None):
    from streampulse_assets.lib.sources.replay import ReplaySource

    return ReplaySource(path)  # a missing file raises its own clear error; `version` keys the cache


def build_live(name: str):
    from streampulse_assets.lib.sources.registry import build_live_sources

    return build_live_sources([name])[0]
