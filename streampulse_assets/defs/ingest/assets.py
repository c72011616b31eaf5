from datetime import timedelta

import dagster as dg

from streampulse_assets.defs.ingest.checks import RAW_SNAPSHOT_CHECKS, evaluate_raw_checks
from streampulse_assets.defs.partition_metadata import (
    add_partition_metadata,
    partitions_span,
    range_metadata,
)
from streampulse_assets.defs.partitions import hourly_partitions, single_run
from streampulse_assets.defs.resources import WarehouseResource
from streampulse_assets.defs.ticks import run_tick
from streampulse_assets.lib.ingest.collect import CollectResult, collect, parse_source_names
from streampulse_assets.lib.ingest.landing import Landing
from streampulse_assets.lib.ingest.store import upsert_snapshots
from streampulse_assets.lib.partition_stats import raw_hour_stats, table_rows
from streampulse_assets.lib.settings import get_settings
from streampulse_assets.lib.snapshots import time_slices
from streampulse_assets.lib.sources.registry import build_history, build_live
from streampulse_assets.lib.timeutil import now_minute

CHUNK = timedelta(hours=6)  # a long backfill is collected and written in slices to bound memory


@dg.asset(
    partitions_def=hourly_partitions,
    backfill_policy=single_run,
    pool="duckdb",
    group_name="ingest",
    kinds={"duckdb", "python"},
    check_specs=RAW_SNAPSHOT_CHECKS,
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(minutes=5), warn_window=timedelta(minutes=2)
    ),
)
def raw_snapshots(context: dg.AssetExecutionContext, duckdb: WarehouseResource):
    """Minute snapshots per platform and category: viewers, open lives and the top 5 streamers,
    from the sources named in STREAMPULSE_SOURCES (the deterministic simulator by default; CHZZK
    and SOOP live APIs, whose raw responses are archived in the landing area first; or a replay
    file); each run covers its time window (one minute for a live tick, any range for a single-run
    backfill) and replaces exactly the (platform, minute) pairs it has new rows for, so re-running
    is idempotent and a failing platform never deletes what was stored before.
    """
    settings = get_settings()
    names = parse_source_names(settings.sources.names)
    landing = Landing(settings.stores.resolved_landing_dir())
    tick = run_tick(context)
    start, end = tick.start, tick.end
    written, total = 0, CollectResult()
    for chunk_start, chunk_end in time_slices(start, end, CHUNK):
        result = collect(
            names,
            chunk_start,
            chunk_end,
            landing=landing,
            now_minute=now_minute(),
            build_history=lambda name: build_history(name, settings),
            build_live=build_live,
            past_is_gap=tick.live,  # a live tick, not a backfill
        )
        with duckdb.get_connection() as con:
            for source, frame in result.frames.items():
                written += upsert_snapshots(con, frame, source)
        total.errors.update(result.errors)
        total.warnings += result.warnings
        total.rejected += result.rejected
        for platform, gaps in result.gaps.items():
            total.gaps[platform] = total.gaps.get(platform, 0) + gaps
    if total.errors and len(total.errors) == len(names):
        raise dg.Failure(
            description="Every source failed:\n"
            + "\n".join(f"- {name}: {error}" for name, error in total.errors.items()),
            metadata={"window": f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"},
        )
    if tick.gap:
        gap_start, gap_end = (ts.isoformat() for ts in tick.gap)
        total.errors["minute sensor"] = (
            f"minutes {gap_start} to {gap_end} (UTC) were never ticked because the daemon was "
            "away; backfill raw_snapshots and its downstream assets over those hours"
        )
    with duckdb.get_connection() as con:
        _, checks = evaluate_raw_checks(con, start, end, total)
        per_hour = raw_hour_stats(con, *partitions_span(context))
        stored = table_rows(con, "raw_snapshots")
    # Each hour's own rows, minutes, categories and viewers on its partition; run totals as range_*.
    add_partition_metadata(context, per_hour)
    yield dg.MaterializeResult(
        metadata={
            **range_metadata(context, start, end, written),
            "table_rows": stored,
            "sources": ", ".join(names),
            "rejected_rows": len(total.rejected),  # bad rows named in the run's warnings
        }
    )
    yield from checks


@dg.definitions
def defs() -> dg.Definitions:
    # Sources that would write one platform twice are refused when the code location loads,
    # with the error naming both, instead of at the first tick.
    parse_source_names(get_settings().sources.names)
    return dg.Definitions(assets=[raw_snapshots])
