"""Run-status helpers shared by the sensors (they read Dagster's own storage, never DuckDB)."""

import dagster as dg

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def run_in_flight(instance: dg.DagsterInstance, job_name: str) -> str | None:
    """The id of a queued or running run of `job_name`, if any (sensors skip while one runs)."""
    records = instance.get_run_records(
        dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT), limit=1
    )
    return records[0].dagster_run.run_id if records else None
