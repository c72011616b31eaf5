import os
import socket

import dagster as dg

from streampulse_assets.defs.resources import PostgresResource, RedisResource, WarehouseResource
from streampulse_assets.lib.alerts.showcase import (
    latest_spikes,
    showcase_markdown,
    spikes_by_id,
    write_chart,
)
from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.analysis.warehouse import copy_to_warehouse, warehouse_totals
from streampulse_assets.lib.analysis.worker import DrainStats, drain
from streampulse_assets.lib.services.paths import state_dir

SHOWN_SPIKES = 3  # latest explained spikes shown with their charts (inline PNG, ~55 KB each)


def charts_dir():
    return state_dir() / "charts"


class DrainConfig(dg.Config):
    """Bounds of one draining run (the sensor launches another while PENDING rows remain)."""

    deadline_s: float = 45.0
    max_events: int | None = None
    concurrency: int = 2
    batch: int = 10


def _metadata(stats: DrainStats, queue_after: queue.QueueStats) -> dict:
    summary = stats.summary()
    meta: dict = {k: v for k, v in summary.items() if v is not None and not isinstance(v, dict)}
    meta["tiers"] = dg.MetadataValue.json(summary["tiers"])
    meta["verdicts"] = dg.MetadataValue.json(summary["verdicts"])
    meta.update({k: v for k, v in queue_after.as_dict().items() if v is not None})
    return meta


@dg.asset(
    deps=[dg.AssetKey("signal_events")],
    group_name="analysis",
    kinds={"postgres", "openai", "python"},
)
def analysis_queue_results(
    context: dg.AssetExecutionContext,
    config: DrainConfig,
    postgres: PostgresResource,
    redis: RedisResource,
) -> dg.MaterializeResult:
    """Explanations for queued spike events, written back to the Postgres `analysis_queue`.
    Drains PENDING rows with the LangGraph explainer (watcher, Redis cache lookup, research,
    analyst, editor, cache save) using OpenAI structured outputs when OPENAI_API_KEY is set and the
    deterministic offline analyst otherwise. Rows are claimed with FOR UPDATE SKIP LOCKED under a
    lease, so this run shares the queue safely with any `streampulse worker` processes. It holds no
    DuckDB connection and no pool slot: the slow model calls never block the warehouse.
    """
    with postgres.connect():  # applies pending Postgres migrations once per process
        pass
    stats = drain(
        postgres.url,
        redis.url,
        worker_id=f"dagster:{socket.gethostname()}:{os.getpid()}:{context.run.run_id[:8]}",
        deadline_s=config.deadline_s,
        max_events=config.max_events,
        concurrency=config.concurrency,
        batch=config.batch,
    )
    with postgres.connect() as conn:
        conn.autocommit = True
        after = queue.stats(conn)
    context.log.info(f"analysis drain: {stats.summary()}")
    return dg.MaterializeResult(metadata=_metadata(stats, after))


@dg.asset(
    deps=[analysis_queue_results],
    pool="duckdb",
    group_name="analysis",
    kinds={"duckdb", "postgres"},
)
def analysed_events(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource, postgres: PostgresResource
) -> dg.MaterializeResult:
    """Analysed spike events in the warehouse: one row per explained queue event.
    A short copy of DONE rows from the Postgres queue into DuckDB `analysed_events` with the result
    flattened (verdict, kind, summary, reason, keywords, confidence, cache key and hit, tier,
    search queries, tokens, estimated cost, latency), upserted by id so reruns are idempotent. Only
    rows finished since the warehouse's newest analysis (with an overlap) are read. Each copied V3
    SPIKE gets its chart (<state>/charts/<id>.png, from the series captured in its evidence), and
    the `latest_spikes` metadata shows the newest explanations, in the alerts' own words, with
    their charts.
    """
    with postgres.connect() as conn, duckdb.get_connection() as con:
        copied = copy_to_warehouse(conn, con)
        total, hit_rate, cost = warehouse_totals(con)
    folder = charts_dir()
    with postgres.connect() as conn:
        new_spikes = spikes_by_id(conn, copied["id"]) if len(copied) else []
        latest = latest_spikes(conn, SHOWN_SPIKES)
        conn.rollback()
    charts = [p for p in (write_chart(folder, e) for e in new_spikes) if p is not None]
    meta = {"dagster/row_count": int(total), "rows_copied": len(copied)}
    meta["charts_written"] = len(charts)
    meta["latest_spikes"] = dg.MetadataValue.md(showcase_markdown(latest, folder))
    if len(copied):
        meta["copied_cache_hit_rate"] = round(float(copied["cache_hit"].mean()), 4)
        meta["copied_cost_usd"] = round(float(copied["cost_usd"].sum()), 6)
        meta["copied_verdicts"] = dg.MetadataValue.json(
            {str(k): int(v) for k, v in copied["verdict"].value_counts().items()}
        )
    if total:
        meta["cache_hit_rate"] = round(float(hit_rate or 0.0), 4)
        meta["estimated_cost_usd_total"] = round(float(cost or 0.0), 6)
    context.log.info(f"copied {len(copied)} analysed events into the warehouse")
    return dg.MaterializeResult(metadata=meta)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[analysis_queue_results, analysed_events])
