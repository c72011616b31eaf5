"""Build the live platform sources named in configuration (e.g. STREAMPULSE_SOURCES=chzzk,soop)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streampulse_assets.lib.settings import ChzzkSettings, SoopSettings
from streampulse_assets.lib.settings.configs import chzzk_config, soop_config
from streampulse_assets.lib.sources.base import LiveSource, SourceConfigError
from streampulse_assets.lib.sources.chzzk import ChzzkSource
from streampulse_assets.lib.sources.soop import SoopSource

# Each reads only its own settings group, so one source's bad variable fails that source alone.
LIVE_SOURCES: dict[str, Callable[[Mapping[str, str] | None], LiveSource]] = {
    "chzzk": lambda env: ChzzkSource(chzzk_config(ChzzkSettings.read(env))),
    "soop": lambda env: SoopSource(soop_config(SoopSettings.read(env))),
}
HISTORY_SOURCES = ("simulator", "replay")


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
