"""Run-status helpers shared by the sensors (they read Dagster's own storage, never DuckDB)."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from streampulse_assets.lib.ticks import BOOTSTRAP_TAG
from streampulse_assets.lib.timeutil import aware_utc

RETRY_PATIENCE = timedelta(minutes=2)  # a due automatic retry is launched well within this
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def in_flight_record(instance: dg.DagsterInstance, job_name: str) -> dg.RunRecord | None:
    """The oldest queued or running run of `job_name`, if any."""
    records = instance.get_run_records(
        dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT), limit=1, ascending=True
    )
    return records[0] if records else None


def run_in_flight(instance: dg.DagsterInstance, job_name: str) -> str | None:
    """The id of a queued or running run of `job_name`, if any (sensors skip while one runs)."""
    record = in_flight_record(instance, job_name)
    return record.dagster_run.run_id if record else None


def ended_at(record: dg.RunRecord) -> datetime:
    """When a finished run ended (its failure or success event), as aware UTC."""
    if record.end_time is not None:
        return datetime.fromtimestamp(record.end_time, UTC)
    return aware_utc(record.update_timestamp)  # naive UTC on some storages


def awaiting_retry(
    instance: dg.DagsterInstance, job_name: str, now: datetime, patience=RETRY_PATIENCE
) -> dg.RunRecord | None:
    """The newest run of `job_name` if it failed and its automatic retry has not been launched
    yet (the retry daemon needs a few seconds); a retry that never comes is not waited for
    longer than `patience` after the failure."""
    records = instance.get_run_records(dg.RunsFilter(job_name=job_name), limit=1)
    if not records or not records[0].dagster_run.is_complete_and_waiting_to_retry:
        return None
    if now - ended_at(records[0]) > patience:
        return None
    return records[0]


def failed_for_good(
    instance: dg.DagsterInstance,
    job_name: str,
    now: datetime | None = None,
    patience=RETRY_PATIENCE,
) -> dg.RunRecord | None:
    """The newest run of `job_name` if it failed or was cancelled and no retry will follow: none
    is due, or the one due has not been launched within `patience` of the failure (the retry
    daemon lost it, e.g. its storage was down when the failure was recorded)."""
    records = instance.get_run_records(dg.RunsFilter(job_name=job_name), limit=1)
    if not records:
        return None
    run = records[0].dagster_run
    if run.status not in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        return None
    if not run.is_complete_and_waiting_to_retry:
        return records[0]
    now = now or datetime.now(UTC)
    return records[0] if now - ended_at(records[0]) > patience else None


def waiting_for_pool(instance: dg.DagsterInstance, run_id: str, pool: str = "duckdb") -> bool:
    """A step of the run is waiting for a slot of `pool` (the run started, its step is blocked)."""
    return run_id in instance.event_log_storage.get_concurrency_info(pool).pending_run_ids


def bootstrap_since(instance: dg.DagsterInstance, pending: datetime | None) -> datetime | None:
    """When the first-start history backfill was asked for, while it is pending (`pending`: the
    launcher's marker time) or in progress (a REQUESTED backfill tagged streampulse/bootstrap)."""
    from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus

    backfills = instance.get_backfills(
        filters=BulkActionsFilter(statuses=[BulkActionStatus.REQUESTED]), limit=20
    )
    times = [
        datetime.fromtimestamp(b.backfill_timestamp, UTC)
        for b in backfills
        if BOOTSTRAP_TAG in (b.tags or {})
    ]
    if pending is not None:
        times.append(pending)
    return min(times) if times else None
