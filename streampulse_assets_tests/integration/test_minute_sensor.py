"""The minute sensor: one run per minute, catch-up after a pause, skip while a tick is running."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from streampulse_assets.defs.ingest.sensors import minute_sensor, next_tick
from streampulse_assets.defs.ticks import MINUTE_JOB
from streampulse_assets.lib.ticks import (
    BOOTSTRAP_TAG,
    MINUTE_START_TAG,
    MINUTE_TAG,
    Tick,
    hour_key,
    tick_tags,
)

NOW = datetime(2026, 11, 20, 12, 34, 41)


@pytest.fixture(autouse=True)
def own_state_folder(tmp_path, monkeypatch):
    """The sensor looks for a pending first-start backfill in the state folder: use this test's."""
    monkeypatch.setenv("STREAMPULSE_HOME", str(tmp_path / "state"))


def _minute(delta_minutes: int = 0) -> datetime:
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    return now + timedelta(minutes=delta_minutes)


def test_first_tick_computes_the_current_minute():
    assert next_tick(None, NOW) == (datetime(2026, 11, 20, 12, 34),) * 2


def test_same_minute_is_not_launched_twice():
    assert next_tick("2026-11-20T12:34:00", NOW) is None


def test_catch_up_covers_missed_minutes_within_one_hour_partition():
    assert next_tick("2026-11-20T12:24:00", NOW) == (
        datetime(2026, 11, 20, 12, 25),
        datetime(2026, 11, 20, 12, 34),
    )
    # Crossing an hour boundary: finish the previous hour first, the rest comes next tick.
    first, last = next_tick("2026-11-20T11:50:00", NOW)
    assert (first, last) == (datetime(2026, 11, 20, 11, 51), datetime(2026, 11, 20, 11, 59))
    assert next_tick(last.isoformat(), NOW) == (
        datetime(2026, 11, 20, 12, 0),
        NOW.replace(second=0),
    )


def test_catch_up_is_bounded_after_a_long_outage():
    first, _ = next_tick("2026-11-19T00:00:00", NOW)
    assert NOW - first <= timedelta(minutes=61)


def _defs():
    from streampulse_assets.definitions import defs

    return defs()


def test_sensor_requests_a_partitioned_run_with_minute_tags(dagster_instance):
    context = dg.build_sensor_context(instance=dagster_instance, definitions=_defs())
    result = minute_sensor.evaluate_tick(context)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    minute = datetime.fromisoformat(request.tags[MINUTE_TAG])
    assert request.run_key == request.tags[MINUTE_TAG]
    assert request.tags[MINUTE_START_TAG] == request.tags[MINUTE_TAG]
    assert request.partition_key == minute.strftime("%Y-%m-%d-%H:00")
    assert result.cursor == request.tags[MINUTE_TAG]


def test_sensor_skips_while_the_previous_tick_runs(dagster_instance):
    defs = _defs()
    job = defs.resolve_job_def(MINUTE_JOB)
    run = dagster_instance.create_run_for_job(job, run_config={})  # NOT_STARTED: in flight
    assert dagster_instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.NOT_STARTED
    context = dg.build_sensor_context(instance=dagster_instance, definitions=defs)
    result = minute_sensor.evaluate_tick(context)
    assert not result.run_requests
    assert "is running" in (result.skip_message or "")
    dagster_instance.report_run_canceled(run)
    context = dg.build_sensor_context(instance=dagster_instance, definitions=defs)
    assert len(minute_sensor.evaluate_tick(context).run_requests) == 1


def test_a_long_outage_is_reported_not_silent(dagster_instance):
    from streampulse_assets.defs.ingest.sensors import skipped_gap
    from streampulse_assets.lib.ticks import GAP_TAG

    first, _ = next_tick("2026-11-20T09:00:00", NOW)
    assert skipped_gap("2026-11-20T09:00:00", first) == (datetime(2026, 11, 20, 9, 1), first)
    assert skipped_gap("2026-11-20T12:30:00", datetime(2026, 11, 20, 12, 31)) is None
    context = dg.build_sensor_context(
        instance=dagster_instance, definitions=_defs(), cursor="2026-11-19T00:00:00"
    )
    request = minute_sensor.evaluate_tick(context).run_requests[0]
    gap_start, gap_end = request.tags[GAP_TAG].split("/")
    assert gap_start == "2026-11-19T00:01:00"
    assert gap_end == request.tags[MINUTE_START_TAG]


def test_a_waiting_tick_hands_live_minutes_to_the_fetch_job(tmp_path):
    from streampulse_assets.defs.ingest.fetch import FETCH_JOB, STALLED, live_fetch_request
    from streampulse_assets.lib.ingest.landing import Landing

    landing = Landing(tmp_path)
    now = NOW.replace(tzinfo=UTC)
    stalled = now - STALLED - timedelta(seconds=1)
    request = live_fetch_request("chzzk,soop", landing, stalled, now)
    assert request.job_name == FETCH_JOB
    assert request.run_key == "fetch/2026-11-20T12:34:00"  # one fetch per minute, at most
    assert live_fetch_request("chzzk", landing, now - timedelta(seconds=5), now) is None  # working
    assert live_fetch_request("simulator", landing, stalled, now) is None  # answers any minute
    assert live_fetch_request("simulator,nonsense", landing, stalled, now) is None  # tick says why
    landing.write("chzzk", NOW, [])  # the tick (or an earlier fetch) archived this minute already
    assert live_fetch_request("chzzk", landing, stalled, now) is None
    assert live_fetch_request("chzzk,soop", landing, stalled, now).job_name == FETCH_JOB


def test_sensor_launches_live_fetch_while_a_tick_waits(dagster_instance, settings_env, tmp_path):
    from streampulse_assets.lib.ticks import REQUESTED_TAG

    settings_env(STREAMPULSE_SOURCES="chzzk", STREAMPULSE_LANDING_DIR=str(tmp_path / "landing"))

    defs = _defs()
    asked = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()  # the sensor's own clock
    own = {REQUESTED_TAG: asked, MINUTE_TAG: _minute(-1).isoformat()}  # its minute is over
    run = dagster_instance.create_run_for_job(
        defs.resolve_job_def(MINUTE_JOB), run_config={}, tags=own
    )
    context = dg.build_sensor_context(instance=dagster_instance, definitions=defs)
    result = minute_sensor.evaluate_tick(context)
    (request,) = result.run_requests
    assert request.job_name == "live_fetch" and request.run_key.startswith("fetch/")
    assert result.cursor is None  # the tick's own minutes are still owed to the pipeline
    dagster_instance.report_run_canceled(run)


def test_live_fetch_never_doubles_a_tick_that_can_still_fetch(
    dagster_instance, settings_env, tmp_path
):
    # A tick queued for 30 s inside its own minute will fetch that minute itself; a started tick
    # (fetching, even slowly) is not doubled; only one whose step waits for the pool is blocked.
    from streampulse_assets.defs.ingest.fetch import tick_blocked
    from streampulse_assets.lib.ticks import REQUESTED_TAG

    settings_env(STREAMPULSE_SOURCES="chzzk", STREAMPULSE_LANDING_DIR=str(tmp_path / "landing"))
    defs = _defs()
    job = defs.resolve_job_def(MINUTE_JOB)
    now = datetime.now(UTC)
    asked = (now - timedelta(seconds=30)).isoformat()
    current = dagster_instance.create_run_for_job(
        job, run_config={}, tags={REQUESTED_TAG: asked, MINUTE_TAG: _minute(1).isoformat()}
    )
    record = dagster_instance.get_run_record_by_id(current.run_id)
    assert not tick_blocked(dagster_instance, record, now)
    context = dg.build_sensor_context(instance=dagster_instance, definitions=defs)
    result = minute_sensor.evaluate_tick(context)
    assert not result.run_requests and "is running" in result.skip_message
    dagster_instance.report_run_canceled(current)

    past = {REQUESTED_TAG: asked, MINUTE_TAG: _minute(-2).isoformat()}
    working = dagster_instance.create_run_for_job(
        job, run_config={}, tags=past, status=dg.DagsterRunStatus.STARTED
    )
    record = dagster_instance.get_run_record_by_id(working.run_id)
    assert not tick_blocked(dagster_instance, record, now)  # fetching its own (late) minutes
    storage = dagster_instance.event_log_storage
    storage.set_concurrency_slots("duckdb", 1)
    try:
        storage.claim_concurrency_slot("duckdb", "a-backfill", "raw_snapshots")
        claim = storage.claim_concurrency_slot("duckdb", working.run_id, "signal_events")
        assert not claim.is_claimed  # blocked behind the backfill's slot
        assert tick_blocked(dagster_instance, record, now)
        context = dg.build_sensor_context(instance=dagster_instance, definitions=defs)
        (request,) = minute_sensor.evaluate_tick(context).run_requests
        assert request.job_name == "live_fetch"
    finally:
        storage.free_concurrency_slots_for_run("a-backfill")
        storage.free_concurrency_slots_for_run(working.run_id)
    dagster_instance.report_run_canceled(working)


def test_sensor_waits_for_the_retry_of_a_failed_tick(dagster_instance):
    # Between a failure and its automatic retry nothing is in flight for a few seconds; a new
    # tick launched then would compute later minutes before the retried ones.
    defs = _defs()
    job = defs.resolve_job_def(MINUTE_JOB)
    run = dagster_instance.create_run_for_job(job, run_config={}, tags=job.tags)
    dagster_instance.report_run_failed(run)  # the instance marks it: dagster/will_retry = true
    context = dg.build_sensor_context(instance=dagster_instance, definitions=defs)
    result = minute_sensor.evaluate_tick(context)
    assert not result.run_requests and "about to be retried" in result.skip_message
    dagster_instance.add_run_tags(run.run_id, {"dagster/auto_retry_run_id": "next"})  # launched
    context = dg.build_sensor_context(instance=dagster_instance, definitions=defs)
    assert len(minute_sensor.evaluate_tick(context).run_requests) == 1


def test_a_retry_is_not_taken_for_a_tick_waiting_since_its_parent(
    dagster_instance, settings_env, tmp_path
):
    # Retries inherit their parent's tags, requested_at included: the retry's own creation time
    # counts, or live_fetch would start beside every retry that is busy working.
    from streampulse_assets.lib.ticks import REQUESTED_TAG

    settings_env(STREAMPULSE_SOURCES="chzzk", STREAMPULSE_LANDING_DIR=str(tmp_path / "landing"))
    defs = _defs()
    asked = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    tags = {
        REQUESTED_TAG: asked,
        "dagster/parent_run_id": "first-attempt",
        MINUTE_TAG: _minute(-3).isoformat(),
    }
    run = dagster_instance.create_run_for_job(
        defs.resolve_job_def(MINUTE_JOB), run_config={}, tags=tags
    )
    context = dg.build_sensor_context(instance=dagster_instance, definitions=defs)
    result = minute_sensor.evaluate_tick(context)
    assert not result.run_requests and "is running" in result.skip_message
    dagster_instance.report_run_canceled(run)


def test_a_retry_that_never_comes_is_not_awaited_for_ever(dagster_instance):
    from streampulse_assets.defs.runs import awaiting_retry, ended_at

    job = _defs().resolve_job_def(MINUTE_JOB)
    run = dagster_instance.create_run_for_job(job, run_config={}, tags=job.tags)
    dagster_instance.report_run_failed(run)
    record = awaiting_retry(dagster_instance, MINUTE_JOB, datetime.now(UTC))
    assert record.dagster_run.run_id == run.run_id
    ended = ended_at(record)
    assert abs((datetime.now(UTC) - ended).total_seconds()) < 60  # aware UTC, not local time
    assert awaiting_retry(dagster_instance, MINUTE_JOB, ended + timedelta(minutes=3)) is None
    dagster_instance.add_run_tags(run.run_id, {"dagster/auto_retry_run_id": "launched"})


def test_minutes_of_a_tick_whose_retry_never_came_are_computed_again(dagster_instance):
    # The retry daemon lost the failure (its storage was down when it was recorded): the run
    # stays "waiting to retry" for ever. Past the patience, its minutes are owed, not skipped.
    from streampulse_assets.defs.ingest.sensors import rewound_cursor
    from streampulse_assets.defs.runs import RETRY_PATIENCE, ended_at, failed_for_good

    job = _defs().resolve_job_def(MINUTE_JOB)
    minute = _minute(-3)
    tags = job.tags | {MINUTE_START_TAG: minute.isoformat(), MINUTE_TAG: minute.isoformat()}
    run = dagster_instance.create_run_for_job(job, run_config={}, tags=tags)
    dagster_instance.report_run_failed(run)
    assert dagster_instance.get_run_by_id(run.run_id).is_complete_and_waiting_to_retry
    assert rewound_cursor(dagster_instance, minute.isoformat()) == (minute.isoformat(), "")
    (record,) = dagster_instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]))
    assert failed_for_good(dagster_instance, MINUTE_JOB, ended_at(record)) is None  # awaited
    later = ended_at(record) + RETRY_PATIENCE + timedelta(seconds=1)
    cursor, suffix = rewound_cursor(dagster_instance, minute.isoformat(), later)
    assert cursor == (minute - timedelta(minutes=1)).isoformat()
    assert suffix == f"/after-{run.run_id[:8]}"
    dagster_instance.add_run_tags(run.run_id, {"dagster/auto_retry_run_id": "launched"})


def test_only_the_minute_pipeline_is_retried_after_a_failure(dagster_instance):
    defs = _defs()
    assert dagster_instance.run_retries_enabled  # the repo's dagster.yaml
    assert dagster_instance.run_retries_max_retries == 0  # default: jobs opt in
    assert defs.resolve_job_def(MINUTE_JOB).tags["dagster/max_retries"] == "2"
    assert "dagster/max_retries" not in defs.resolve_job_def("live_fetch").tags


def test_minutes_of_a_tick_that_failed_for_good_are_computed_again(dagster_instance):
    from streampulse_assets.defs.ingest.sensors import rewound_cursor

    # Retries used up (or cancelled, or failed by the watchdog): the cursor must not stay past
    # its minutes, or they are lost for good.
    defs = _defs()
    job = defs.resolve_job_def(MINUTE_JOB)
    first, last = _minute(-5), _minute(-3)
    tags = tick_tags(Tick(first, last + timedelta(minutes=1)))
    run = dagster_instance.create_run_for_job(job, run_config={}, tags=tags)  # no retries left
    dagster_instance.report_run_failed(run)
    context = dg.build_sensor_context(
        instance=dagster_instance, definitions=defs, cursor=last.isoformat()
    )
    result = minute_sensor.evaluate_tick(context)
    (request,) = result.run_requests
    assert request.tags[MINUTE_TAG] > last.isoformat() or first.hour != _minute().hour
    assert request.tags[MINUTE_START_TAG] == first.isoformat()
    assert request.run_key.startswith(request.tags[MINUTE_TAG] + "/after-")  # not deduplicated
    assert request.tags[MINUTE_TAG] == result.cursor
    # Once a later tick exists (here: a success), the failure is not replayed again.
    done = dagster_instance.create_run_for_job(
        job, run_config={}, tags={MINUTE_TAG: result.cursor}, status=dg.DagsterRunStatus.SUCCESS
    )
    assert rewound_cursor(dagster_instance, result.cursor) == (result.cursor, "")
    assert dagster_instance.get_run_by_id(done.run_id).is_success


def test_a_cancelled_tick_is_computed_again_too(dagster_instance):
    defs = _defs()
    job = defs.resolve_job_def(MINUTE_JOB)
    minute = _minute(-1)
    tags = tick_tags(Tick(minute, minute + timedelta(minutes=1)))
    run = dagster_instance.create_run_for_job(job, run_config={}, tags=job.tags | tags)
    dagster_instance.report_run_canceled(run)  # cancelled runs are never retried
    context = dg.build_sensor_context(
        instance=dagster_instance, definitions=defs, cursor=minute.isoformat()
    )
    (request,) = minute_sensor.evaluate_tick(context).run_requests
    assert request.tags[MINUTE_START_TAG] == minute.isoformat()


def test_no_tick_runs_while_the_first_start_history_is_backfilled(dagster_instance, tmp_path):
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

    from streampulse_assets.cli.bootstrap import PENDING_NAME

    defs = _defs()
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    asked = datetime.now(UTC) - timedelta(minutes=2)
    (state / PENDING_NAME).write_text(asked.isoformat())  # the launcher waits for the UI
    context = dg.build_sensor_context(instance=dagster_instance, definitions=defs)
    result = minute_sensor.evaluate_tick(context)
    assert not result.run_requests and "history backfill" in result.skip_message
    start = floor(asked) - timedelta(minutes=1)
    assert result.cursor == start.isoformat()  # the first tick after it starts there

    (state / PENDING_NAME).unlink()  # launched: now the backfill itself is waited for
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=f"bootstrap-{datetime.now(UTC).timestamp():.6f}",
        asset_graph=defs.resolve_asset_graph(),
        partition_names=[hour_key(asked)],
        asset_selection=[dg.AssetKey("raw_snapshots")],
        backfill_timestamp=asked.timestamp(),
        tags={BOOTSTRAP_TAG: "7d"},
        dynamic_partitions_store=dagster_instance,
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )
    dagster_instance.add_backfill(backfill)
    try:
        context = dg.build_sensor_context(
            instance=dagster_instance, definitions=defs, cursor=result.cursor
        )
        waiting = minute_sensor.evaluate_tick(context)
        assert not waiting.run_requests and "history backfill" in waiting.skip_message
        assert waiting.cursor == result.cursor

    finally:  # the storage is shared: never leave a bootstrap in progress behind
        dagster_instance.update_backfill(backfill.with_status(BulkActionStatus.COMPLETED_SUCCESS))
    context = dg.build_sensor_context(
        instance=dagster_instance, definitions=defs, cursor=result.cursor
    )
    (request,) = minute_sensor.evaluate_tick(context).run_requests
    assert request.tags[MINUTE_START_TAG] == floor(asked).isoformat()  # no minute skipped


def floor(ts: datetime) -> datetime:
    return ts.replace(tzinfo=None, second=0, microsecond=0)
