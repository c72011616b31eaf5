from datetime import timedelta

import dagster as dg

from streampulse_assets.defs.detection.checks import (
    EVENT_CHECKS,
    ROLLING_CHECKS,
    SEASONAL_CHECKS,
    covers_window,
    has_unique_events,
)
from streampulse_assets.defs.partition_metadata import (
    add_partition_metadata,
    partitions_span,
    range_metadata,
)
from streampulse_assets.defs.partitions import hourly_partitions, single_run
from streampulse_assets.defs.resources import PostgresResource, WarehouseResource
from streampulse_assets.defs.ticks import run_tick
from streampulse_assets.lib.detection.baselines import refresh_baselines
from streampulse_assets.lib.detection.config import PROFILES, get_config
from streampulse_assets.lib.detection.engine import refresh_signal_events, stored_events
from streampulse_assets.lib.detection.enqueue import enqueue_events
from streampulse_assets.lib.detection.series import event_series
from streampulse_assets.lib.partition_stats import (
    baseline_hour_stats,
    event_hour_stats,
    table_rows,
)
from streampulse_assets.lib.settings import get_settings

RAW_SNAPSHOTS = dg.AssetKey("raw_snapshots")
# A live tick re-offers the primary detector's events of this many recent minutes (ON CONFLICT
# DO NOTHING), so an event stored by a tick that then failed to reach Postgres is queued by the
# next tick.
REQUEUE_LOOKBACK = timedelta(minutes=30)


class SignalEventsConfig(dg.Config):
    profile: str = "default"  # a name in lib/detection/config.PROFILES
    enqueue_history: bool = False  # also queue events of a backfill for (paid) analysis


ROLLING, SEASONAL = "rolling_baselines", "seasonal_baselines"
_ROLLING_DOC = (
    "Short-term baseline per platform, category and minute: the median of the previous 60 "
    "minutes (current minute excluded, missing minutes simply absent), the previous row, the row "
    "60 minutes ago (whose top streamers and open lives feed the cause analysis) and a robust "
    "noise deviation used by scale-aware profiles."
)
_SEASONAL_DOC = (
    "Seasonal baseline per platform, category and minute: the mean viewers at the same time of "
    "day 24 hours and 7 days earlier (within +-2 hours), each with the coverage it rests on, so "
    "the detector can prefer last week, then yesterday, then fall back to the short-term baseline."
)
BASELINE_SPECS = [
    dg.AssetSpec(
        key, deps=[RAW_SNAPSHOTS], group_name="detection", kinds={"duckdb"}, description=doc
    )
    for key, doc in ((ROLLING, _ROLLING_DOC), (SEASONAL, _SEASONAL_DOC))
]


def _baseline_metadata(context, con, table: str, rows: int, start, end) -> dict:
    """Each hour's rows (and seasonal coverage) on its partition; the run's totals as range_*."""
    add_partition_metadata(
        context, baseline_hour_stats(con, table, *partitions_span(context)), asset_key=table
    )
    return {**range_metadata(context, start, end, rows), "table_rows": table_rows(con, table)}


@dg.multi_asset(
    name="baselines",
    specs=BASELINE_SPECS,
    check_specs=[*ROLLING_CHECKS, *SEASONAL_CHECKS],
    partitions_def=hourly_partitions,
    backfill_policy=single_run,
    pool="duckdb",
    can_subset=True,
)
def baselines(context: dg.AssetExecutionContext, duckdb: WarehouseResource):
    """Both baseline tables of the run's window from one read of the raw rows (a live tick its
    minute(s), a backfill its whole range in one pass; both give identical rows). Selecting one
    of the two assets computes only that table.
    """
    tick = run_tick(context)
    start, end = tick.start, tick.end
    tables = [t for t in (ROLLING, SEASONAL) if dg.AssetKey(t) in context.selected_asset_keys]
    with duckdb.get_connection() as con:
        rows = refresh_baselines(con, start, end, tables=tables)
        results = []
        for table in tables:
            meta = _baseline_metadata(context, con, table, rows, start, end)
            results.append((table, meta, covers_window(con, table, start, end)))
    checks = context.selected_asset_check_keys
    for table, meta, check in results:
        yield dg.MaterializeResult(asset_key=table, metadata=meta)
        if dg.AssetCheckKey(dg.AssetKey(table), "covers_window") in checks:
            yield check


def _spikes(frame, detector: str):
    """The detector's SPIKE rows (their charts travel in the queue evidence)."""
    if frame.empty:
        return frame
    return frame[(frame["detector"] == detector) & (frame["level"] == "SPIKE")]


def _enqueue_metadata(own, missed) -> dict:
    """Queue hand-off counts of this window's primary events, only when it had some to offer; plus
    the lookback's events an earlier tick had stored but not queued, only when there were any
    (re-offering the lookback every minute finds them already queued: not worth a number)."""
    meta = {}
    if own.offered:
        meta = {f"enqueued_{k}": v for k, v in own.__dict__.items() if k != "ignored"}
    if missed.inserted:
        meta["requeued_missed"] = missed.inserted
    return meta


@dg.asset(
    deps=[ROLLING, SEASONAL],
    partitions_def=hourly_partitions,
    backfill_policy=single_run,
    pool="duckdb",
    group_name="detection",
    kinds={"duckdb", "postgres"},
    check_specs=EVENT_CHECKS,
)
def signal_events(
    context: dg.AssetExecutionContext,
    config: SignalEventsConfig,
    duckdb: WarehouseResource,
    postgres: PostgresResource,
):
    """Spike events of three detectors on identical data over the run's window: V3 (the original
    design), the naive V1 control and LEARNED (a per-series model of each category's level,
    same-time-of-day moves and its own errors; its per-row anomaly score is kept in
    learned_scores). Each event has its level (SPIKE or CANDIDATE), baselines, growth and season
    ratios, the cause (PERSON_ISSUE, STRUCTURE_ISSUE, CATEGORY_ADOPTION) with its evidence, after
    the per-category cooldown (a LEARNED rise that is one streamer going live is a CANDIDATE,
    queued as SKIPPED). All events are stored in the warehouse; the primary detector's
    events (STREAMPULSE_PRIMARY_DETECTOR, V3 by default) of a live tick (and of a backfill only
    when `enqueue_history` is set) are queued once in Postgres for analysis; the others are shadow.
    """
    if config.profile not in PROFILES:
        raise dg.Failure(f"unknown detection profile {config.profile!r}; known: {list(PROFILES)}")
    tick = run_tick(context)
    start, end, live = tick.start, tick.end, tick.live
    primary = get_settings().detection.primary_detector
    with duckdb.get_connection() as con:
        events = refresh_signal_events(con, start, end, get_config(config.profile))
        check = has_unique_events(con, start, end)
        lookback = events.iloc[0:0]
        if live:  # primary events of the minutes before this window, in case a tick failed to queue
            lookback = stored_events(con, primary, end - REQUEUE_LOOKBACK, start)
        series = {}
        if live or config.enqueue_history:  # the chart data travels in the queue evidence
            series = event_series(con, _spikes(events, primary))
            series |= event_series(con, _spikes(lookback, primary))
        per_hour = event_hour_stats(con, *partitions_span(context))
        stored = table_rows(con, "signal_events")
    enqueued = {}
    if live or config.enqueue_history:
        with postgres.connect() as conn:
            own = enqueue_events(conn, events, series, detector=primary)
            missed = enqueue_events(conn, lookback, series, detector=primary)
        enqueued = _enqueue_metadata(own, missed)
    # Each hour's own events and spikes on its partition; the run's totals as range_*.
    add_partition_metadata(context, per_hour)
    yield dg.MaterializeResult(
        metadata={
            "profile": config.profile,
            "primary_detector": primary,
            "live_tick": live,
            **range_metadata(context, start, end, len(events)),
            "table_rows": stored,
            **enqueued,
        }
    )
    yield check


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[baselines, signal_events])
