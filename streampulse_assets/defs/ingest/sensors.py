from datetime import UTC, datetime, timedelta

import dagster as dg

from streampulse_assets.cli.bootstrap import pending_since
from streampulse_assets.defs.ingest.fetch import live_fetch, live_fetch_request, tick_blocked
from streampulse_assets.defs.runs import (
    awaiting_retry,
    bootstrap_since,
    ended_at,
    failed_for_good,
    in_flight_record,
)
from streampulse_assets.defs.ticks import MINUTE_JOB, minute_pipeline, tick_request
from streampulse_assets.lib.ingest.landing import Landing
from streampulse_assets.lib.services.paths import state_dir
from streampulse_assets.lib.settings import get_settings
from streampulse_assets.lib.ticks import Tick, requested_at
from streampulse_assets.lib.timeutil import MINUTE, aware_utc, floor_minute

MAX_CATCH_UP = timedelta(minutes=60)  # older gaps are a backfill's job, not a tick's
PARENT_RUN_TAG = "dagster/parent_run_id"  # set on retries and re-executions


def next_tick(cursor: str | None, now: datetime) -> tuple[datetime, datetime] | None:
    """(first, last) minute the next run should compute, within one hourly partition."""
    now_minute = floor_minute(now)
    first = datetime.fromisoformat(cursor) + MINUTE if cursor else now_minute
    first = max(first, now_minute - MAX_CATCH_UP)
    if first > now_minute:
        return None
    last = min(now_minute, first.replace(minute=59))  # stay inside first's hour partition
    return first, last


def skipped_gap(cursor: str | None, first: datetime) -> tuple[datetime, datetime] | None:
    """Minutes [start, end) no tick will compute because the daemon was away too long."""
    if not cursor:
        return None
    expected = datetime.fromisoformat(cursor) + MINUTE
    return (expected, first) if expected < first else None


def rewound_cursor(
    instance: dg.DagsterInstance, cursor: str | None, now: datetime | None = None
) -> tuple[str | None, str]:
    """The cursor moved back before the minutes of a tick that failed for good (retries used up,
    cancelled, failed by the run watchdog, or a due retry never launched), so the next tick
    computes them again; and a suffix that keeps that tick's run key distinct from the failed
    one's ("" when nothing was rewound)."""
    failed = failed_for_good(instance, MINUTE_JOB, now)
    if failed is None:
        return cursor, ""
    tick = Tick.from_tags(failed.dagster_run.tags)
    if tick is None or not tick.live:  # launched by hand, not by this sensor
        return cursor, ""
    before = tick.start - MINUTE
    if cursor and datetime.fromisoformat(cursor) <= before:
        return cursor, ""
    return before.isoformat(), f"/after-{failed.dagster_run.run_id[:8]}"


def waiting_since(record: dg.RunRecord) -> datetime:
    """When the sensor requested this tick (its own tag, so no database clock or timezone is
    involved); for retries (which inherit their parent's tags) and ticks launched by hand, the
    run's creation time."""
    requested = requested_at(record.dagster_run.tags)
    if requested and PARENT_RUN_TAG not in record.dagster_run.tags:
        return requested
    return aware_utc(record.create_timestamp)


@dg.sensor(
    jobs=[minute_pipeline, live_fetch],
    minimum_interval_seconds=5,  # the daemon loop floor: a tick starts within seconds
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def minute_sensor(context: dg.SensorEvaluationContext):
    """Launch the minute pipeline once per minute (run key = the minute, cursor = last minute);
    while a tick is blocked, keep archiving the live APIs each minute (live_fetch) instead. The
    cursor never stays past minutes whose tick failed for good (they are computed again), and no
    tick runs while the first-start history is being backfilled."""
    now = datetime.now(UTC)

    def keep_fetching(since: datetime, why: str):  # a live_fetch run, else skip with `why`
        settings = get_settings()
        landing = Landing(settings.stores.resolved_landing_dir())
        return live_fetch_request(settings.sources.names, landing, since, now) or dg.SkipReason(why)

    instance = context.instance
    in_flight = in_flight_record(instance, MINUTE_JOB)
    if in_flight:
        why = f"run {in_flight.dagster_run.run_id} of the last tick is running"
        if tick_blocked(instance, in_flight, now):  # nobody is fetching this minute
            return keep_fetching(waiting_since(in_flight), why)
        return dg.SkipReason(why)
    failed = awaiting_retry(instance, MINUTE_JOB, now)
    if failed:  # the live APIs are still archived while the retry is awaited
        why = f"run {failed.dagster_run.run_id} failed and is about to be retried; waiting for it"
        if tick_blocked(instance, failed, now):
            return keep_fetching(ended_at(failed), why)
        return dg.SkipReason(why)
    bootstrap = bootstrap_since(instance, pending_since(state_dir(), now))
    if bootstrap is not None:  # history first: the tick after it starts where it began
        start = floor_minute(bootstrap) - MINUTE
        cursor = context.cursor or start.isoformat()
        fetch = keep_fetching(bootstrap, "the first-start history backfill is running")
        if isinstance(fetch, dg.RunRequest):
            return dg.SensorResult(run_requests=[fetch], cursor=cursor)
        return dg.SensorResult(skip_reason=fetch, cursor=cursor)
    cursor, key_suffix = rewound_cursor(instance, context.cursor, now)
    if key_suffix:
        context.log.warning(f"the tick after minute {cursor} failed for good; computing it again")
    minutes = next_tick(cursor, now)
    if minutes is None:
        return dg.SkipReason("this minute was launched already")
    first, last = minutes
    tick = Tick(first, last + MINUTE, live=True, gap=skipped_gap(cursor, first))
    if tick.gap:  # never silent: the run's checks report it, with the backfill to run
        gap_start, gap_end = tick.gap
        context.log.warning(f"minutes {gap_start} to {gap_end} were not ticked; backfill them")
    context.update_cursor(tick.last.isoformat())
    return tick_request(tick, requested_at=now, key_suffix=key_suffix)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[minute_sensor])
