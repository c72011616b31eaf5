"""The run watchdog fails runs whose worker was killed and frees their pool slots.

The worker is a real Dagster run worker (`dagster api execute_run`, what DefaultRunLauncher's
code server starts) against the repo's Postgres-backed instance; it is killed with SIGKILL.
"""

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._grpc.types import ExecuteRunArgs

from streampulse_assets.defs.operations.watchdog import (
    START_GRACE,
    reap_dead_runs,
    run_watchdog,
)
from streampulse_assets.lib.services.paths import REPO_ROOT


def reaped(instance: dg.DagsterInstance, run_id: str, **kw) -> list[str]:
    """What the watchdog did to this test's run (other tests' runs share the storage)."""
    return [line for line in reap_dead_runs(instance, **kw) if run_id in line]


@dg.op(pool="duckdb", config_schema={"marker": str})
def hold_the_pool(context: dg.OpExecutionContext) -> None:
    Path(context.op_config["marker"]).write_text("started")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # until killed
        time.sleep(0.2)


@dg.job(tags={"dagster/max_retries": "1"})
def stuck_job():
    hold_the_pool()


def _wait_for(predicate, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _start_worker(instance: dg.DagsterInstance, marker: Path):
    recon = dg.reconstructable(stuck_job)
    run = instance.create_run_for_job(
        stuck_job,
        run_config={"ops": {"hold_the_pool": {"config": {"marker": str(marker)}}}},
        tags=stuck_job.tags,
        job_code_origin=recon.get_python_origin(),
    )
    args = ExecuteRunArgs(
        job_origin=recon.get_python_origin(), run_id=run.run_id, instance_ref=instance.get_ref()
    )
    proc = subprocess.Popen(
        args.get_command_args(),
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return run, proc


def test_a_killed_run_worker_is_failed_and_its_pool_slot_freed(dagster_instance, tmp_path):
    instance = dagster_instance
    instance.event_log_storage.set_concurrency_slots("duckdb", 1)
    marker = tmp_path / "started"
    run, proc = _start_worker(instance, marker)
    try:
        _wait_for(marker.exists, "the op to start (holding the duckdb slot)")
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots
        assert reaped(instance, run.run_id) == []  # alive: left alone
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # stuck

    result = run_watchdog.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert "failed" in result.skip_message and run.run_id in result.skip_message
    after = instance.get_run_by_id(run.run_id)
    assert after.status == dg.DagsterRunStatus.FAILURE
    assert after.tags.get("dagster/will_retry") == "true"  # the retry daemon takes over
    assert not instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots
    failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert "worker process" in failure[-1].message
    assert reaped(instance, run.run_id) == []  # handled once


def test_a_launch_that_never_reported_a_worker_is_failed_after_the_grace(dagster_instance):
    instance = dagster_instance
    config = {"ops": {"hold_the_pool": {"config": {"marker": "unused"}}}}
    run = instance.create_run_for_job(
        stuck_job, run_config=config, status=dg.DagsterRunStatus.STARTING
    )
    in_process = instance.create_run_for_job(
        stuck_job, run_config=config, status=dg.DagsterRunStatus.STARTED
    )
    assert reaped(instance, run.run_id) == []  # just launched
    later = datetime.now(UTC) + START_GRACE + timedelta(seconds=5)
    (line,) = reaped(instance, run.run_id, now=later)
    assert run.run_id in line and "never started" in line
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    # A STARTED run with no recorded worker (executed in process elsewhere) is not judged.
    assert instance.get_run_by_id(in_process.run_id).status == dg.DagsterRunStatus.STARTED
    instance.report_run_canceled(in_process)


def test_a_canceling_run_whose_worker_died_is_marked_canceled(dagster_instance, tmp_path):
    instance = dagster_instance
    marker = tmp_path / "started"
    run, proc = _start_worker(instance, marker)
    try:
        _wait_for(marker.exists, "the op to start")
        instance.report_run_canceling(instance.get_run_by_id(run.run_id))
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    (line,) = reaped(instance, run.run_id)
    assert "gone" in line
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED


def test_a_tick_killed_mid_run_is_failed_retried_and_never_skipped(dagster_instance):
    # The whole chain after kill -9 of a tick's worker: the watchdog fails it (its retry is
    # awaited, no new tick starts beside it); if the retries fail too, the sensor computes the
    # tick's minutes again instead of moving on.
    from dagster._core.events import EngineEventData

    from streampulse_assets.definitions import defs as load_defs
    from streampulse_assets.defs.ingest.sensors import minute_sensor
    from streampulse_assets.defs.ticks import MINUTE_JOB
    from streampulse_assets.lib.ticks import MINUTE_START_TAG, Tick, tick_tags

    instance, defs = dagster_instance, load_defs()
    job = defs.resolve_job_def(MINUTE_JOB)
    minute = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0) - timedelta(minutes=2)
    tags = {**job.tags, **tick_tags(Tick(minute, minute + timedelta(minutes=1)))}
    run = instance.create_run_for_job(
        job, run_config={}, tags=tags, status=dg.DagsterRunStatus.STARTED
    )
    dead = subprocess.Popen(["true"])
    dead.wait()
    instance.report_engine_event(
        f"Started process for run (pid: {dead.pid}).", run, EngineEventData.in_process(dead.pid)
    )
    context = dg.build_sensor_context(instance=instance, definitions=defs)
    assert "is running" in minute_sensor.evaluate_tick(context).skip_message  # stuck

    assert len(reaped(instance, run.run_id)) == 1
    failed = instance.get_run_by_id(run.run_id)
    assert failed.status == dg.DagsterRunStatus.FAILURE
    assert failed.tags["dagster/will_retry"] == "true"
    context = dg.build_sensor_context(
        instance=instance, definitions=defs, cursor=minute.isoformat()
    )
    assert "about to be retried" in minute_sensor.evaluate_tick(context).skip_message

    # Both retries (what the retry daemon launches) fail as well: the minute is owed, not skipped.
    parent = run
    for number in (1, 2):
        instance.add_run_tags(parent.run_id, {"dagster/auto_retry_run_id": f"retry-{number}"})
        retry_tags = {**tags, "dagster/parent_run_id": parent.run_id}
        retry_tags["dagster/root_run_id"] = run.run_id
        retry_tags["dagster/retry_number"] = str(number)
        parent = instance.create_run_for_job(
            job, run_config={}, tags=retry_tags, root_run_id=run.run_id, parent_run_id=parent.run_id
        )
        instance.report_run_failed(parent)
    assert not instance.get_run_by_id(parent.run_id).is_complete_and_waiting_to_retry
    context = dg.build_sensor_context(
        instance=instance, definitions=defs, cursor=minute.isoformat()
    )
    (request,) = minute_sensor.evaluate_tick(context).run_requests
    assert request.tags[MINUTE_START_TAG] == minute.isoformat()
