"""Dagster run retention that keeps asset history (Dagster 1.13.27 has no run/event-log retention).

Why not `instance.delete_run`: in 1.13.27 it calls `run_storage.delete_run` and then
`event_log_storage.delete_events`, and `SqlEventLogStorage.delete_events_for_run` deletes *every*
`event_logs` row of the run, ASSET_MATERIALIZATION and ASSET_OBSERVATION included, so the asset
catalog would lose its history. Instead, for each finished run created before the cutoff:
1. delete its `event_logs` rows except the asset-history types in `KEPT_EVENT_TYPES` (SQL on the
   Postgres event log; user log lines have a NULL event type and go too);
2. delete the run row with `instance.run_storage.delete_run` (its `run_tags` cascade) and its
   captured compute logs.
Kept asset events still name the deleted run: the UI shows "run not found" for that link, and
Dagster's partition status cache treats partitions whose planned run no longer exists as neither
failed nor in progress (`build_failed_and_in_progress_partition_subset`). Runs still queued or
in progress are never touched. Non-Postgres event storage (e.g. a throwaway SQLite instance) is
skipped with a reason, never handled by falling back to `delete_run`.
"""

import contextlib
from datetime import datetime

import dagster as dg
import sqlalchemy as sa

KEPT_EVENT_TYPES = (
    "ASSET_MATERIALIZATION",
    "ASSET_OBSERVATION",
    "ASSET_CHECK_EVALUATION",
    "ASSET_FAILED_TO_MATERIALIZE",
    "ASSET_WIPED",
    "ASSET_HEALTH_CHANGED",
    "FRESHNESS_STATE_CHANGE",
)
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
_DELETE_EVENTS = sa.text(
    "DELETE FROM event_logs WHERE run_id IN :run_ids "
    "AND (dagster_event_type IS NULL OR dagster_event_type NOT IN :kept)"
).bindparams(sa.bindparam("run_ids", expanding=True), sa.bindparam("kept", expanding=True))


def event_storage_is_postgres(instance: dg.DagsterInstance) -> bool:
    return type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"


def prune_dagster_runs(
    instance: dg.DagsterInstance,
    created_before: datetime,
    *,
    batch_size: int = 200,
) -> dict[str, int]:
    """Delete finished runs created before `created_before` and their operational event rows.

    Returns {"runs": runs deleted, "event_rows": event_logs rows deleted}. Asset materialisation,
    observation and check history (KEPT_EVENT_TYPES) stays.
    """
    if not event_storage_is_postgres(instance):
        raise RuntimeError(
            "run retention needs Postgres event storage, got "
            f"{type(instance.event_log_storage).__name__}"
        )
    storage = instance.event_log_storage
    removed = {"runs": 0, "event_rows": 0}
    run_filter = dg.RunsFilter(created_before=created_before, statuses=FINISHED)
    while True:
        records = instance.get_run_records(run_filter, limit=batch_size, ascending=True)
        run_ids = [r.dagster_run.run_id for r in records]
        if not run_ids:
            return removed
        with storage.index_connection() as conn:
            result = conn.execute(_DELETE_EVENTS, {"run_ids": run_ids, "kept": KEPT_EVENT_TYPES})
            removed["event_rows"] += max(result.rowcount, 0)
            conn.commit()  # a no-op on Dagster's AUTOCOMMIT engine, explicit anyway
        for run_id in run_ids:
            instance.run_storage.delete_run(run_id)
            # Not every compute log manager supports prefix deletes; the rows are what matters.
            with contextlib.suppress(Exception):
                instance.compute_log_manager.delete_logs(prefix=[run_id])
        removed["runs"] += len(run_ids)
