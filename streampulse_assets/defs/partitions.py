"""Partitions shared by every domain: hourly (open hour included) for minute data, daily rollups."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from streampulse_assets.lib.partitions_start import resolve_start
from streampulse_assets.lib.services.paths import state_dir
from streampulse_assets.lib.settings import get_settings
from streampulse_assets.lib.snapshots import floor_minute

# STREAMPULSE_PARTITIONS_START, else the first start's bootstrap range recorded in the state folder.
_settings = get_settings()
START, START_ORIGIN = resolve_start(
    _settings.partitions.start,
    state_dir(),
    datetime.now(UTC),
    _settings.partitions.bootstrap_days,
    _settings.sources.names,
)
PARTITIONS_START = f"{START:%Y-%m-%d-%H:%M}"
MINUTE_TAG = "streampulse/minute"  # set by the minute sensor: the newest minute a tick computes
# First minute of a catch-up tick (absent: the tick computes MINUTE_TAG only).
MINUTE_START_TAG = "streampulse/minute_start"
# Minutes the sensor will never tick (it was away longer than its catch-up bound): "start/end".
GAP_TAG = "streampulse/gap"

# Minute rows are upserted into the still-open hour (end_offset=1); never one-minute partitions.
hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone="UTC", end_offset=1
)
daily_partitions = dg.DailyPartitionsDefinition(start_date=f"{START:%Y-%m-%d}", timezone="UTC")

single_run = dg.BackfillPolicy.single_run()


def partition_window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """The run's time window as naive UTC datetimes (warehouse convention), [start, end).

    A live tick (run tagged with `streampulse/minute`) computes that minute, or the minutes since
    the previous tick when it catches up (`streampulse/minute_start`); any other run
    (a manual materialisation or a single-run backfill over many partitions) computes the whole
    partition window, capped at the current minute so the future is never computed.
    """
    window = context.partition_time_window
    start, end = floor_minute(window.start), floor_minute(window.end)
    minute_tag = context.run.tags.get(MINUTE_TAG)
    if minute_tag:
        minute = floor_minute(datetime.fromisoformat(minute_tag))
        first = context.run.tags.get(MINUTE_START_TAG)
        first_minute = floor_minute(datetime.fromisoformat(first)) if first else minute
        start, end = max(start, first_minute), min(end, minute + timedelta(minutes=1))
    now = floor_minute(datetime.now(UTC))
    return start, min(end, now + timedelta(minutes=1))
