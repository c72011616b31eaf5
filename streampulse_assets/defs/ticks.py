"""The minute tick in Dagster: the minute pipeline job, the `Tick` a run computes (read from its
context) and the run request that launches one. Tag names and their encoding: `lib/ticks.py`."""

from datetime import datetime

import dagster as dg

from streampulse_assets.lib.ticks import Tick, tick_tags
from streampulse_assets.lib.timeutil import MINUTE, floor_minute, now_minute

MINUTE_JOB = "minute_pipeline"

minute_pipeline = dg.define_asset_job(
    MINUTE_JOB,
    # raw_snapshots -> rolling_baselines, seasonal_baselines -> signal_events (group "detection")
    selection=dg.AssetSelection.assets("raw_snapshots") | dg.AssetSelection.groups("detection"),
    description="One minute (or the minutes since the last tick) from ingestion to signal events.",
    # A failed tick (a locked warehouse, Postgres restarting) is retried on its own window; the
    # sensor waits for the retry (see defs/runs.awaiting_retry), so minutes are computed in order.
    tags={"dagster/max_retries": "2", "dagster/retry_strategy": "FROM_FAILURE"},
)


def run_tick(context: dg.AssetExecutionContext) -> Tick:
    """The minutes this run computes, naive UTC [start, end) (the warehouse convention).

    A live tick (a run with the minute sensor's tags) computes its own minutes within its
    partition; any other run (a manual materialisation or a single-run backfill over many
    partitions) computes the whole partition window. Either is capped at the current minute, so
    the future is never computed.
    """
    window = context.partition_time_window
    start, end = floor_minute(window.start), floor_minute(window.end)
    tagged = Tick.from_tags(context.run.tags)
    live = tagged is not None and tagged.live
    if live:
        start, end = max(start, tagged.start), min(end, tagged.end)
    end = min(end, now_minute() + MINUTE)
    return Tick(start, end, live=live, gap=tagged.gap if live else None)


def tick_request(tick: Tick, requested_at: datetime, key_suffix: str = "") -> dg.RunRequest:
    """The minute pipeline run of a live tick: run key = its last minute (+ `key_suffix` when
    its minutes are computed again after a failure), its hourly partition, its tags."""
    return dg.RunRequest(
        job_name=MINUTE_JOB,
        run_key=tick.last.isoformat() + key_suffix,
        partition_key=tick.partition_key,
        tags=tick_tags(tick, requested_at),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[minute_pipeline])
