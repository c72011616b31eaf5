"""The pipeline's shape: where the hourly partitions start, and which detector is primary."""

from __future__ import annotations

from typing import Literal

from streampulse_assets.lib.settings.base import Group, var


class PartitionsSettings(Group):
    """Partitions and the first-start bootstrap"""

    start: str | None = var(
        "STREAMPULSE_PARTITIONS_START",
        None,
        "first hourly partition, an ISO date or date/time in UTC (e.g. `2019-06-01`); set it "
        "earlier to replay and backfill recorded data of any year. Unset, the first load of the "
        "definitions fixes it at the current hour minus `STREAMPULSE_BOOTSTRAP_DAYS` "
        "(simulator) or the current hour (live sources) and records it in "
        "`.streampulse/partitions_start.json`, so it does not move on restarts; delete that "
        "file to fix it again",
        shown="the first start's bootstrap range",
    )
    bootstrap_days: int = var(
        "STREAMPULSE_BOOTSTRAP_DAYS",
        9,
        "simulated history backfilled on the first `dev` start (0 = none); 9 days give the "
        "seasonal baselines their 7 days from the first minute and leave the whole of "
        "yesterday after the quality warm-up, so `detection_quality` has a scored day at once",
    )


class DetectionSettings(Group):
    """Detection"""

    primary_detector: Literal["V3", "LEARNED"] = var(
        "STREAMPULSE_PRIMARY_DETECTOR",
        "V3",
        "`V3` or `LEARNED`: whose SPIKE/CANDIDATE events are queued, analysed, charted and "
        "alerted (the others run in shadow on the same data)",
    )
