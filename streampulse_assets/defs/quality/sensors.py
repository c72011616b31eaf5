"""Score a day's detection quality whenever that day's signal_events change.

The sensor follows signal_events materialisations in Dagster's event log (never DuckDB): the
first-start bootstrap backfill, a UI backfill of past hours, and the live minute ticks. Each
materialised hour marks its UTC day as changed. A changed day is requested (labels, then
quality, one run of `detection_quality_job`) once it is complete and settled: its 24 hours are
over plus SETTLE for the last minute ticks, and the run that last materialised it has finished
(a backfill records its hours one by one at the end of its step). Run key = day + the newest
signal_events storage id of that day: a re-materialisation requests the day again, the same data
never twice (not even after a cursor reset). Today is held in the cursor until it is settled.
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from streampulse_assets.defs.partitions import daily_partitions
from streampulse_assets.defs.quality.assets import detection_labels, detection_quality
from streampulse_assets.defs.runs import IN_FLIGHT
from streampulse_assets.lib.timeutil import aware_utc

SIGNAL_EVENTS = dg.AssetKey("signal_events")
QUALITY_JOB = "detection_quality_job"
SETTLE = timedelta(minutes=20)  # after midnight: the day's last minute ticks have landed
PAGE, MAX_PAGES = 1000, 10  # event-log reads per tick; the cursor carries on from there
TRIGGER_TAG = "streampulse/signal_events_storage_id"
# Queued behind the minute ticks: the run queue launches higher priorities first, and eight
# bootstrapped days must not delay the live pipeline waiting for the same DuckDB pool slot.
RUN_TAGS = {"dagster/priority": "-1"}

quality_job = dg.define_asset_job(
    QUALITY_JOB,
    selection=dg.AssetSelection.assets(detection_labels, detection_quality).without_checks(),
    partitions_def=daily_partitions,
    description="One UTC day's labels and detection quality (its checks follow by automation).",
)


def read_cursor(cursor: str | None) -> tuple[int | None, dict[str, tuple[int, str]]]:
    """(last storage id read, {day: (newest storage id, its run id)} waiting to be scored)."""
    if not cursor:
        return None, {}
    state = json.loads(cursor)
    return state["after"], {day: (int(sid), run) for day, (sid, run) in state["pending"].items()}


def write_cursor(after: int | None, pending: dict[str, tuple[int, str]]) -> str:
    return json.dumps({"after": after, "pending": pending}, sort_keys=True)


def day_of(partition_key: str) -> str:
    """The UTC day of an hourly partition key ('2026-11-30-13:00' -> '2026-11-30')."""
    return partition_key[:10]


def collect_changes(
    instance: dg.DagsterInstance, after: int | None, pending: dict[str, tuple[int, str]]
) -> int | None:
    """Fold signal_events materialisations newer than `after` into `pending`; returns the new
    `after`. Reads at most MAX_PAGES pages per tick."""
    for _ in range(MAX_PAGES):
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=SIGNAL_EVENTS, after_storage_id=after),
            limit=PAGE,
            ascending=True,
        )
        for record in result.records:
            after = record.storage_id
            if record.partition_key:
                day = day_of(record.partition_key)
                if day not in pending or pending[day][0] < record.storage_id:
                    pending[day] = (record.storage_id, record.run_id)
        if len(result.records) < PAGE:
            break
    return after


def runs_in_flight(instance: dg.DagsterInstance, run_ids: set[str]) -> set[str]:
    ids = sorted(r for r in run_ids if r)
    if not ids:
        return set()
    records = instance.get_run_records(dg.RunsFilter(run_ids=ids, statuses=IN_FLIGHT))
    return {r.dagster_run.run_id for r in records}


def due_days(pending: dict[str, tuple[int, str]], now: datetime, running: set[str]) -> list[str]:
    """Days complete and settled at `now` whose last materialising run has finished, oldest
    first."""
    due = []
    for day in sorted(pending):
        end = aware_utc(datetime.fromisoformat(day)) + timedelta(days=1)
        if now >= end + SETTLE and pending[day][1] not in running:
            due.append(day)
    return due


@dg.sensor(
    job=quality_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def quality_after_detection_sensor(context: dg.SensorEvaluationContext):
    """Request detection_labels + detection_quality for each complete day whose signal_events
    were (re-)materialised: every bootstrapped day after the first start, every backfilled day,
    and each day shortly after it ends (reads Dagster's event log only)."""
    after, pending = read_cursor(context.cursor)
    after = collect_changes(context.instance, after, pending)
    now = datetime.now(UTC)
    running = runs_in_flight(context.instance, {run for _, run in pending.values()})
    requests = []
    for day in due_days(pending, now, running):
        storage_id, _ = pending.pop(day)
        if not daily_partitions.has_partition_key(day):
            context.log.warning(f"signal_events changed on {day}, outside the daily partitions")
            continue
        requests.append(
            dg.RunRequest(
                partition_key=day,
                run_key=f"{day}:{storage_id}",
                tags={**RUN_TAGS, TRIGGER_TAG: str(storage_id)},
            )
        )
    cursor = write_cursor(after, pending)
    if not requests:
        waiting = ", ".join(sorted(pending)) or "none"
        reason = f"no complete day changed (waiting: {waiting})"
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[quality_job], sensors=[quality_after_detection_sensor])
