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

from dataclasses import dataclass

from streampulse_assets.lib.analysis import queue

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
