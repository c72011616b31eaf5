"""Build the configured snapshot sources by name (imports are lazy: each source is optional)."""

from __future__ import annotations

from streampulse_assets.lib.settings import Settings
from streampulse_assets.lib.sources.base import SourceConfigError


def build_history(name: str, settings: Settings):
    if name == "simulator":
        from streampulse_assets.lib.sources.simulator import Simulator

        return Simulator(
            seed=settings.simulator_seed, categories_per_platform=settings.simulator_categories
        )
    if name == "replay":
        from streampulse_assets.lib.sources.replay import ReplaySource

        if not settings.replay_path:
            raise SourceConfigError(
                "the replay source needs STREAMPULSE_REPLAY_PATH (a CSV or Parquet file)"
            )
        return ReplaySource(settings.replay_path)
    raise SourceConfigError(f"{name} is not a history source")


def build_live(name: str):
    from streampulse_assets.lib.sources.registry import build_live_sources

    return build_live_sources([name])[0]
