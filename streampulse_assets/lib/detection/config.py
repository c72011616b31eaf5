"""Detector configuration: one pydantic model, named profiles, thresholds set once per profile.

`scale="absolute"` reads every floor (`*_delta`, `baseline_floor`) in viewers, as the original
StreamPulse design does for platform categories. `scale="robust"` reads the same fields in units
of each series' own robust deviation (`unit = max(noise_sd, sqrt(level + 1))`, see baselines.py),
so one profile works on a 200-viewer category, a 200,000-viewer one and NAB tweet counts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from streampulse_assets.lib.detection.learned.config import LearnedConfig


class DetectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str = "default"
    scale: Literal["absolute", "robust"] = "absolute"
    # Sampling step of the series in minutes (coverage = rows found / rows expected).
    # None: 1 on the warehouse, inferred from the data by detect_frame.
    step_minutes: int | None = Field(default=None, ge=1)

    # Baselines
    short_window_minutes: int = Field(default=60, ge=2)
    min_short_coverage: float = Field(default=0.5, ge=0, le=1)  # of the short window's rows
    season_half_window_minutes: int = Field(default=120, ge=1)
    min_season_coverage: float = Field(default=0.5, ge=0, le=1)
    noise_window_minutes: int = Field(default=360, ge=10)
    baseline_floor: float = Field(default=100.0, ge=0)

    # V3 SPIKE
    major_top_n: int = Field(default=12, ge=0)
    growth_major: float = 1.5
    growth_minor: float = 1.7
    season_ratio_min: float = 1.2
    min_delta: float = 1500.0
    season_delta_frac: float = 0.3
    # PERSON_ISSUE spikes need more
    person_contribution_min: float = 0.5
    person_growth: float = 2.0
    person_min_delta: float = 1500.0
    person_delta_frac: float = 0.5
    # CATEGORY_ADOPTION: one streamer dominates and nothing proves the market moved
    dominance_min: float = 0.85
    proof_open_lives: int = 3
    proof_others_growth: float = 0.2
    proof_others_delta: float = 500.0

    # V3 CANDIDATE
    candidate_growth: float = 1.2
    candidate_min_delta: float = 500.0
    candidate_top_n: int = Field(default=3, ge=0)  # per platform and minute, by delta and by ratio
    candidate_top_min_growth: float = 1.1

    # Cooldowns per (detector, platform, category): a SPIKE is silenced by a SPIKE in the
    # previous 30 min; a CANDIDATE by any event in the previous 120 min (see cooldown.py).
    cooldown_spike_minutes: int = Field(default=30, ge=0)
    cooldown_candidate_minutes: int = Field(default=120, ge=0)

    # V1 control: current >= 1.5 x previous minute and delta >= 1000
    v1_growth: float = 1.5
    v1_min_delta: float = 1000.0

    # The learned per-series detector runs beside V3 and V1 with its own settings (no profile:
    # one configuration for every series).
    learned: LearnedConfig = Field(default_factory=LearnedConfig)

    @property
    def robust(self) -> bool:
        return self.scale == "robust"

    @property
    def step(self) -> int:
        return self.step_minutes or 1

    @property
    def lookback_minutes(self) -> int:
        """How far before `start` stored events can still silence a new one."""
        return max(self.cooldown_spike_minutes, self.cooldown_candidate_minutes)


PROFILES: dict[str, DetectionConfig] = {
    # Absolute viewer thresholds of the original StreamPulse design (issue 4).
    "default": DetectionConfig(),
    # Floors in robust-deviation units: small categories, huge ones, NAB tweet counts.
    "scale_aware": DetectionConfig(
        profile="scale_aware",
        scale="robust",
        baseline_floor=3.0,
        min_delta=8.0,
        person_min_delta=8.0,
        proof_others_delta=3.0,
        candidate_min_delta=3.0,
        v1_min_delta=8.0 * 2 / 3,  # same 1000:1500 proportion as the absolute profile
    ),
}


class UnknownProfileError(ValueError):
    pass


def get_config(profile: DetectionConfig | str | None = None, **overrides) -> DetectionConfig:
    """A profile by name (or a config as is), optionally with field overrides."""
    if profile is None:
        profile = "default"
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise UnknownProfileError(
                f"unknown detection profile {profile!r}; known: {', '.join(sorted(PROFILES))}"
            )
        profile = PROFILES[profile]
    return DetectionConfig(**{**profile.model_dump(), **overrides}) if overrides else profile
