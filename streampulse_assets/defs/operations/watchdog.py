"""Run watchdog: a run whose worker process is gone is failed, and its pool slots are freed.

Dagster's run monitoring cannot see a dead DefaultRunLauncher worker: the launcher does not
support `check_run_worker_health`, so after `kill -9` of the dev tree a run stays STARTED for
ever, holds its `duckdb` pool slot, and every sensor that waits for it waits for ever. The worker
records its pid in the run's "Started process for run (pid: N)" engine event; this sensor checks
that process (same host: DefaultRunLauncher) and, when it is gone, marks the run FAILURE (the
retry daemon then re-runs a minute tick on its own window) or, for CANCELING, CANCELED. It only
writes to Dagster's storage: it never asks the code server to cancel (`CancelExecution` can hang
it while the dead run holds its execution lock).
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import psutil

from streampulse_assets.lib.timeutil import aware_utc

WATCHED = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
START_GRACE = timedelta(seconds=90)  # a launched run reports its worker's pid well within this
PID_PREFIX = "Started process for run"


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, timestamp) of the newest worker the run reported, if any."""
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    for entry in reversed(events):
        if not (entry.message or "").startswith(PID_PREFIX) or entry.dagster_event is None:
            continue
        metadata = entry.dagster_event.engine_event_data.metadata or {}
        pid = metadata.get("pid")
        if pid is not None:
            return int(pid.value), entry.timestamp
    return None


def process_alive(pid: int, reported_at: float) -> bool:
    """The process `pid` exists, is not a zombie, and is not a newer process reusing the pid."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return proc.create_time() <= reported_at + 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # exists, owned by someone else: not ours to judge
        return True


def why_dead(instance: dg.DagsterInstance, record: dg.RunRecord, now: datetime) -> str | None:
    """Why the run's worker is known to be gone, or None when it may still be working."""
    reported = worker_pid(instance, record.dagster_run.run_id)
    if reported is None:
        # No worker yet: only a launch that never reported in is dead (runs executed in
        # process by another program report no pid and are left alone).
        launched = aware_utc(record.update_timestamp)
        starting = record.dagster_run.status == dg.DagsterRunStatus.STARTING
        if starting and now - launched > START_GRACE:
            return f"its worker never started within {START_GRACE.seconds} s of the launch"
        return None
    pid, reported_at = reported
    if process_alive(pid, reported_at):
        return None
    return f"its worker process (pid {pid}) is gone"


def reap_dead_runs(instance: dg.DagsterInstance, now: datetime | None = None) -> list[str]:
    """Fail (or, when CANCELING, cancel) every watched run whose worker is gone and free its
    pool slots; returns one line per run handled."""
    now = now or datetime.now(UTC)
    done = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=WATCHED)):
        reason = why_dead(instance, record, now)
        if reason is None:
            continue
        run = instance.get_run_by_id(record.dagster_run.run_id)
        if run is None or run.status not in WATCHED:  # it finished meanwhile
            continue
        message = f"Run watchdog: {reason}; marked without contacting the code server."
        if run.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, message)
        else:
            instance.report_run_failed(run, message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        done.append(f"{run.job_name} run {run.run_id}: {reason}")
    return done


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def run_watchdog(context: dg.SensorEvaluationContext):
    """Fail runs whose worker process died (crash, kill -9, reboot) and free their pool slots,
    so the run's retry or the next tick can take over (reads and writes Dagster storage only)."""
    handled = reap_dead_runs(context.instance)
    for line in handled:
        context.log.warning(line)
    if not handled:
        return dg.SkipReason("every running run has a live worker")
    return dg.SkipReason(f"failed {len(handled)} run(s) whose worker was gone: {handled}")


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[run_watchdog])
