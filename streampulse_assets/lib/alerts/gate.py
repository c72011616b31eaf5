"""Which analysed events deserve an alert, as a SQL condition over the Postgres analysis queue (e).

- "confirmed" (default): SPIKEs of the primary detector (`STREAMPULSE_PRIMARY_DETECTOR`, V3 by
  default) whose analysis is DONE with verdict CONFIRMED.
- "delta": every primary SPIKE with evidence delta >= `min_delta` once its analysis is finished
  (DONE, FAILED or SKIPPED, so CATEGORY_ADOPTION is included), or once it has waited
  `analysis_wait_minutes` for an analysis that never came (a stopped worker must not mute alerts).
Either way only events younger than `max_age_hours` are alerted, so configuring a sink on an old
installation does not replay its whole history (and pruned delivery rows are never re-sent).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.settings import get_settings

MODES = ("confirmed", "delta")


@dataclass(frozen=True)
class AlertGate:
    mode: str = "confirmed"
    min_delta: float = 0.0
    max_age_hours: float = 24.0
    analysis_wait_minutes: float = 10.0
    detector: str = "V3"  # the primary detector: only its events are queued and alerted

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"alert gate mode must be one of {MODES}, got {self.mode!r}")
        if self.max_age_hours <= 0:
            raise ValueError("alert max age must be > 0 hours")

    def where_sql(self) -> tuple[str, dict[str, float]]:
        """A WHERE condition on alias `e` and its named psycopg2 parameters."""
        return queue.alert_condition(
            mode=self.mode,
            detector=self.detector,
            max_age_hours=self.max_age_hours,
            min_delta=self.min_delta,
            analysis_wait_minutes=self.analysis_wait_minutes,
        )


def gate_from_env(env: Mapping[str, str] | None = None) -> AlertGate:
    """STREAMPULSE_ALERT_GATE, _MIN_DELTA, _MAX_AGE_HOURS, _ANALYSIS_WAIT_MINUTES."""
    env = os.environ if env is None else env

    def number(key: str, default: float) -> float:
        raw = (env.get(f"STREAMPULSE_ALERT_{key}") or "").strip()
        try:
            return float(raw) if raw else default
        except ValueError as exc:
            raise ValueError(f"STREAMPULSE_ALERT_{key} must be a number, got {raw!r}") from exc

    return AlertGate(
        mode=(env.get("STREAMPULSE_ALERT_GATE") or "confirmed").strip().lower(),
        min_delta=number("MIN_DELTA", 0.0),
        max_age_hours=number("MAX_AGE_HOURS", 24.0),
        analysis_wait_minutes=number("ANALYSIS_WAIT_MINUTES", 10.0),
        detector=get_settings().primary_detector,
    )
