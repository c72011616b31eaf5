from datetime import UTC, datetime

import dagster as dg

from streampulse_assets.defs.resources import PostgresResource
from streampulse_assets.defs.runs import run_in_flight
from streampulse_assets.lib.analysis import queue

ANALYSIS_JOB = "analysis_job"

analysis_job = dg.define_asset_job(
    ANALYSIS_JOB,
    selection=dg.AssetSelection.assets("analysis_queue_results", "analysed_events"),
    description="Drain the Postgres analysis queue, then copy the results into the warehouse.",
)


@dg.sensor(
    job=analysis_job,
    minimum_interval_seconds=5,  # a spike should be explained within a minute of its minute
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def analysis_queue_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    """Launch a draining run when the Postgres queue has due PENDING events (never reads DuckDB).

    Expired leases of crashed workers are returned to PENDING first. One run at a time; the run
    key is the range of due ids plus the minute, so a partly drained backlog, or one left by a
    crashed run, launches the next run.
    """
    with postgres.connect() as conn:
        conn.autocommit = True
        released = queue.release_expired(conn)
        stats = queue.stats(conn)
    if released:
        context.log.info(f"returned {released} expired leases to the queue")
    if not stats.due:
        return dg.SkipReason(f"no due PENDING events ({stats.pending} pending in back-off)")
    in_flight = run_in_flight(context.instance, ANALYSIS_JOB)
    if in_flight:
        return dg.SkipReason(f"analysis run {in_flight} is in progress")
    # The minute in the key lets the same due range launch again after a crashed drain run
    # (its leases expire and the ids become due again); one run at a time is enforced above.
    minute = datetime.now(UTC).strftime("%Y%m%dT%H%M")
    return dg.RunRequest(
        run_key=f"analysis:{stats.max_due_id}:{stats.min_due_id}:{minute}",
        tags={"streampulse/queue_due": str(stats.due)},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[analysis_job], sensors=[analysis_queue_sensor])
