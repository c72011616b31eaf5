"""detection_quality is requested for every day whose signal_events change (issue 13 item 2).

A real DagsterInstance (the repo's dagster.yaml on the embedded Postgres) records signal_events
materialisations from real runs: one single-run range over hours of two past days, as the
first-start bootstrap does, then a re-materialised hour, then the open hour of today.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from streampulse_assets.defs.quality.assets import detection_labels, detection_quality
from streampulse_assets.defs.quality.sensors import (
    QUALITY_JOB,
    SETTLE,
    due_days,
    quality_after_detection_sensor,
    quality_job,
    read_cursor,
    runs_in_flight,
    write_cursor,
)
from streampulse_assets.defs.resources import PostgresResource, WarehouseResource

hours = dg.HourlyPartitionsDefinition(start_date="2025-01-01-00:00", timezone="UTC", end_offset=1)


@dg.asset(
    name="signal_events", partitions_def=hours, backfill_policy=dg.BackfillPolicy.single_run()
)
def signal_events_stub() -> None:
    """Stands in for signal_events: only its materialisation events matter here."""


DEFS = dg.Definitions(
    assets=[signal_events_stub, detection_labels, detection_quality],
    jobs=[quality_job],
    sensors=[quality_after_detection_sensor],
    resources={
        "duckdb": WarehouseResource(database=":memory:"),
        "postgres": PostgresResource(url="postgresql://unused"),
    },
)


@pytest.fixture
def past_days():
    """Two complete, settled days that are daily partitions of the code location."""
    from streampulse_assets.defs.partitions import daily_partitions

    keys = daily_partitions.get_partition_keys()
    assert len(keys) >= 3, f"daily partitions start too late for this test: {keys}"
    return keys[-3], keys[-2]  # two and three days ago: settled at any time of day


@pytest.fixture
def instance(dagster_instance):
    """The shared Dagster storage under a short name (its runs go after each test)."""
    return dagster_instance


def materialise(instance, first: str, last: str) -> None:
    """One run over the hourly range [first, last] (a single-run backfill)."""
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    assert dg.materialize([signal_events_stub], instance=instance, tags=tags).success


def start_cursor(instance) -> str:
    """The sensor's cursor after every materialisation already in the shared Dagster DB."""
    records = instance.fetch_materializations(dg.AssetKey("signal_events"), limit=1)
    return write_cursor(records.records[0].storage_id if records.records else None, {})


def tick(instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=DEFS)
    result = quality_after_detection_sensor.evaluate_tick(context)
    return {r.partition_key: r.run_key for r in result.run_requests}, result


def test_changed_past_days_are_requested_once_and_again_after_a_rematerialisation(
    instance, past_days
):
    day_a, day_b = past_days
    start = start_cursor(instance)
    materialise(instance, f"{day_a}-20:00", f"{day_b}-03:00")  # 4 + 4 hours, two days

    requested, first = tick(instance, start)
    assert set(requested) == {day_a, day_b}
    assert quality_after_detection_sensor.job_name == QUALITY_JOB
    assert all(r.tags["dagster/priority"] == "-1" for r in first.run_requests)  # after live ticks
    assert requested[day_a] != requested[day_b]

    again, second = tick(instance, first.cursor)
    assert again == {} and "no complete day changed" in second.skip_message

    materialise(instance, f"{day_a}-21:00", f"{day_a}-21:00")  # one hour backfilled
    redo, _ = tick(instance, second.cursor)
    assert set(redo) == {day_a}
    assert redo[day_a] != requested[day_a]  # new data: a new run key

    # A cursor reset re-reads the same events but asks for the same data under the same run keys,
    # which the sensor daemon does not launch twice.
    replay, _ = tick(instance, start)
    assert replay == {day_a: redo[day_a], day_b: requested[day_b]}


def test_today_waits_until_its_24_hours_are_over(instance):
    now = datetime.now(UTC)
    hour = now.strftime("%Y-%m-%d-%H:00")
    start = start_cursor(instance)
    materialise(instance, hour, hour)
    requested, result = tick(instance, start)
    assert requested == {}
    _, pending = read_cursor(result.cursor)
    assert set(pending) == {now.strftime("%Y-%m-%d")}  # kept, requested once it is settled
    tomorrow = datetime.fromisoformat(now.strftime("%Y-%m-%d")).replace(tzinfo=UTC)
    tomorrow += timedelta(days=1)
    assert due_days(pending, tomorrow + SETTLE - timedelta(seconds=1), set()) == []
    assert due_days(pending, tomorrow + SETTLE, set()) == [now.strftime("%Y-%m-%d")]


def test_a_day_whose_materialising_run_is_still_in_flight_waits(instance):
    job = DEFS.resolve_job_def(QUALITY_JOB)
    run = instance.create_run_for_job(job, run_config={})  # NOT_STARTED: in flight
    pending = {"2025-03-01": (7, run.run_id), "2025-03-02": (9, "finished-run")}
    running = runs_in_flight(instance, {run.run_id, "finished-run"})
    assert running == {run.run_id}
    later = datetime(2025, 3, 10, tzinfo=UTC)
    assert due_days(pending, later, running) == ["2025-03-02"]
    instance.report_run_canceled(run)
    running = runs_in_flight(instance, {run.run_id})
    assert due_days(pending, later, running) == ["2025-03-01", "2025-03-02"]


def test_the_code_location_runs_the_sensor_from_the_first_start():
    from streampulse_assets.definitions import defs

    loaded = defs()
    sensor = loaded.resolve_sensor_def("quality_after_detection_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    job = loaded.resolve_job_def(QUALITY_JOB)
    assert job.asset_layer.executable_asset_keys == {
        dg.AssetKey("detection_labels"),
        dg.AssetKey("detection_quality"),
    }
