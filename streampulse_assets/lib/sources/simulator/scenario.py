"""Simulator scenarios: how hard the simulated world is for a detector.

- "hard" (the default): realistic difficulty. Tiny categories (a third or more under 100 viewers)
  where one streamer going live doubles the count, borderline 1.2-1.8x rises, event days with a
  gradual build-up, platform-wide dips, multi-day organic trends, noisier day-to-day levels, and
  real spikes sized against the category's own level (many modest: 2-3x, +30-60% for the largest).
- "classic": the original easy world (large injected spikes only); kept for the V3/V1 tests that
  pin its numbers.
Chosen by `Simulator(scenario=...)`, else STREAMPULSE_SIMULATOR_SCENARIO (settings).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SCENARIO = "hard"


@dataclass(frozen=True)
class Scenario:
    name: str
    day_sigma: float  # log-sd of the day-to-day level drift per category
    platform_day_sigma: float  # log-sd of a platform-wide day-to-day drift (0 = none)
    trend_sigma: float  # log-sd of the multi-day organic trend (0 = none)
    tail_exponent: float  # extra decay of popularity beyond rank 120
    peak_floor: float  # smallest daily peak of a category
    spread_ranks: bool  # small catalogues keep the 300-category popularity range
    hard: bool  # plan the hard events (simulator_plan_hard)


SCENARIOS = {
    "classic": Scenario("classic", 0.08, 0.0, 0.0, 1.6, 2.0, False, False),
    "hard": Scenario("hard", 0.13, 0.06, 0.10, 0.9, 15.0, True, True),
}


def resolve_scenario(name: str | None) -> Scenario:
    """The named scenario; None = the configured one (STREAMPULSE_SIMULATOR_SCENARIO)."""
    if name is None:
        from streampulse_assets.lib.settings import get_settings

        name = get_settings().sources.simulator.scenario
    key = str(name).strip().lower()
    if key not in SCENARIOS:
        known = ", ".join(sorted(SCENARIOS))
        raise ValueError(f"unknown simulator scenario {name!r} (known: {known})")
    return SCENARIOS[key]
