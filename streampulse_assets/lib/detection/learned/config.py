"""Settings of the learned detector: one configuration for every series of every scale.

Nothing here is in viewers: windows are in minutes, the noise unit and its tail are learned per
series, and the threshold is a number of expected alarms per series-day (see model.py).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

LEVEL_MINUTES = 60  # the level: median of the 60 minutes before (rolling_baselines.median_60)


class LearnedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # A rise is measured over the last W minutes (0 = the current row alone), against the
    # series' own level (median of the 60 minutes before that window).
    windows_minutes: tuple[int, ...] = (0, 15, 60, 180)
    # Those minutes (the windows' and the level's 60) are for a series sampled at least every
    # `reference_step_minutes`; a coarser series measures them in rows, as many as such a series
    # has: every span times step / reference_step_minutes (features.time_scale). A series read
    # hourly then has a level of 12 rows and windows of 0, 3, 12 and 36 rows, as a 5-minute one
    # does, not a level of one row. The quiet period and the seasonal lags stay in minutes.
    reference_step_minutes: float = Field(default=5.0, gt=0)
    # The forecasts every row is compared with, each with its own learned errors: the recent
    # level alone, and the level plus the move seen at the same time of day 1 day, 7 days and
    # 2 days earlier (seasonal differencing); a row is as surprising as the least surprised of
    # them. The order is the candidate's index in the stored state: new lags go last.
    seasonal_lags_minutes: tuple[int, ...] = (1440, 10080, 2880)
    # An earlier move is bounded to this many learned units of the level forecast, or to the
    # largest move of the same sign another lag saw at this time of day if that is more: a move
    # that recurs is the series' pattern and is forecast in full, a one-off (an anomaly a day
    # ago) is not forecast again (model.forecast_errors).
    season_clip_units: float = Field(default=3.0, gt=0)
    # Memory of the error model: exponential forgetting with this half-life.
    half_life_hours: float = Field(default=14 * 24, gt=0)
    # The noise unit follows the series' hour of day (UTC): the all-day unit times how noisy
    # the level forecast has been at this hour, shrunk toward the all-day unit by this many
    # days' weight (each day adds one observation per hour of day): after a week an hour's own
    # unit counts as much as the all-day one, so a quiet night and a busy evening each get
    # their own unit once the series has shown them (model.hour_unit).
    tod_prior_days: float = Field(default=7.0, ge=0)
    # Hours of learned error scale a series needs before it is scored at all.
    min_learned_hours: float = Field(default=12.0, ge=0)
    # Error values beyond this many learned units are clipped when the unit is updated, so a
    # spike does not teach the model that spikes are normal noise.
    clip_units: float = Field(default=6.0, gt=0)
    # Tail model: exceedances of the standardised rise over `tail_from`, with a
    # learned shape (generalised Pareto, method of moments); the prior is `tail_prior_weight`
    # pseudo-excesses of an exponential tail with mean `tail_prior`.
    tail_from: float = Field(default=2.0, gt=0)
    tail_prior: float = Field(default=1.0, gt=0)
    tail_prior_weight: float = Field(default=10.0, gt=0)
    # score = clip((S + score_offset) / score_span, 0, 1), S = -log10(expected alarms per day).
    score_offset: float = 3.0
    score_span: float = Field(default=10.0, gt=0)
    # A row is an alert when score >= threshold and no row of the series reached the threshold
    # in the previous `quiet_minutes` (one alert per excursion); an alert on a rise is a SPIKE.
    threshold: float = Field(default=0.33, ge=0, le=1)
    quiet_minutes: int = Field(default=360, ge=0)
    # An alert says a rise is improbable for its series (the anomalies NAB scores); it is a
    # SPIKE when the row is also at least this many times its level: the original design's
    # growth rule for a spike (V3's 1.7 outside a platform's 12 largest categories). A smaller
    # improbable rise is an anomaly, not a spike (run.spike_rows).
    spike_growth: float = Field(default=1.7, ge=0)
    # The resolution of the values (1 for viewer and tweet counts).
    resolution: float = Field(default=1.0, gt=0)
    # Rows a window needs (share of the rows its span should hold at the series' step).
    min_window_coverage: float = Field(default=0.5, gt=0, le=1)

    @property
    def decay(self) -> float:
        """Weight of the state after one hour."""
        return float(0.5 ** (1.0 / self.half_life_hours))

    @property
    def history_minutes(self) -> int:
        """Raw minutes before a row that its features read (times a coarse series' time scale)."""
        return max(self.windows_minutes) + LEVEL_MINUTES


DEFAULT = LearnedConfig()
