"""The settings tree: every environment variable StreamPulse reads, declared once.

`get_settings()` is the tree as the environment configured it when first asked (cached; tests
call `get_settings.cache_clear()` after changing a variable); `load_settings(env)` reads it
afresh, from `env` (a mapping, e.g. a test's dict) or the process environment. Each group is a
pydantic-settings model in its own file; `Group.read(env)` reads one group alone. The README's
variable tables are generated from this tree (`python -m streampulse_assets.lib.settings.docs`).

    stores      StoresSettings       state folder, warehouse, Postgres, Redis
    dev         DevSettings          `streampulse dev`
    partitions  PartitionsSettings   first partition, first-start bootstrap
    sources     SourcesSettings      names; .simulator, .replay, .chzzk, .soop
    detection   DetectionSettings    primary detector
    analysis    AnalysisSettings     .llm, .search
    alerts      AlertsSettings       .gate, .sinks
    retention   RetentionSettings    days per store
    quality     QualitySettings      check thresholds, label files
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from streampulse_assets.lib.settings.alerts import AlertsSettings, GateSettings, SinkSettings
from streampulse_assets.lib.settings.analysis import (
    AnalysisSettings,
    LanguageModelSettings,
    SearchSettings,
)
from streampulse_assets.lib.settings.base import Group, SettingsError, env_name, group
from streampulse_assets.lib.settings.pipeline import DetectionSettings, PartitionsSettings
from streampulse_assets.lib.settings.quality import QualitySettings
from streampulse_assets.lib.settings.retention import RetentionSettings
from streampulse_assets.lib.settings.sources import (
    ChzzkSettings,
    ReplaySettings,
    SimulatorSettings,
    SoopSettings,
    SourcesSettings,
)
from streampulse_assets.lib.settings.stores import (
    EMBEDDED_PG_PORT,
    EMBEDDED_REDIS_PORT,
    DevSettings,
    StoresSettings,
)

__all__ = [
    "EMBEDDED_PG_PORT",
    "EMBEDDED_REDIS_PORT",
    "AlertsSettings",
    "AnalysisSettings",
    "ChzzkSettings",
    "DetectionSettings",
    "DevSettings",
    "GateSettings",
    "Group",
    "LanguageModelSettings",
    "PartitionsSettings",
    "QualitySettings",
    "ReplaySettings",
    "RetentionSettings",
    "SearchSettings",
    "Settings",
    "SettingsError",
    "SimulatorSettings",
    "SinkSettings",
    "SoopSettings",
    "SourcesSettings",
    "StoresSettings",
    "env_name",
    "get_settings",
    "load_settings",
]


class Settings(Group):
    """The root: one field per group (see the module docstring)."""

    stores: StoresSettings = group(StoresSettings)
    dev: DevSettings = group(DevSettings)
    partitions: PartitionsSettings = group(PartitionsSettings)
    sources: SourcesSettings = group(SourcesSettings)
    detection: DetectionSettings = group(DetectionSettings)
    analysis: AnalysisSettings = group(AnalysisSettings)
    alerts: AlertsSettings = group(AlertsSettings)
    retention: RetentionSettings = group(RetentionSettings)
    quality: QualitySettings = group(QualitySettings)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The whole tree, read now from `env` (default: the process environment)."""
    return Settings.read(env)


@cache
def get_settings() -> Settings:
    return Settings.read()
