"""Partitions shared by every domain: hourly (open hour included) for minute data, daily rollups.

The minutes a run computes within them (a live tick or a backfill): `defs/ticks.run_tick`."""

from datetime import UTC, datetime

import dagster as dg

from streampulse_assets.lib.partitions_start import resolve_start
from streampulse_assets.lib.services.paths import state_dir
from streampulse_assets.lib.settings import get_settings

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

# Minute rows are upserted into the still-open hour (end_offset=1); never one-minute partitions.
hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone="UTC", end_offset=1
)
daily_partitions = dg.DailyPartitionsDefinition(start_date=f"{START:%Y-%m-%d}", timezone="UTC")

single_run = dg.BackfillPolicy.single_run()
