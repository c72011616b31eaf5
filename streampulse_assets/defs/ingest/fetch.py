"""The live fetch job: archive the current minute of the live APIs while the minute pipeline waits.

A minute tick needs the single DuckDB writer; behind a long backfill it waits for the pool, and a
live API cannot answer for a minute that has passed. The minute sensor launches this job for every
minute a tick is blocked (see `tick_blocked`: queued, or a step waiting for the pool, past the end
of its own minutes), so the waiting never loses live data: the next tick re-parses the archived
responses. A tick that is working (fetching, even slowly) is never doubled: its API is asked once.
It touches no DuckDB and does nothing for the simulator or replay sources.
"""

from datetime import datetime, timedelta

import dagster as dg

from streampulse_assets.defs.runs import waiting_for_pool
from streampulse_assets.lib.ingest.collect import (
    LIVE_PLATFORMS,
    fetch_unarchived,
    parse_source_names,
)
from streampulse_assets.lib.ingest.landing import Landing
from streampulse_assets.lib.settings import get_settings
from streampulse_assets.lib.sources.base import SourceError
from streampulse_assets.lib.sources.registry import build_live
from streampulse_assets.lib.ticks import Tick
from streampulse_assets.lib.timeutil import floor_minute, now_minute

FETCH_JOB = "live_fetch"
FETCH_TAG = "streampulse/fetch_minute"  # the minute the sensor asked for (the op fetches "now")
STALLED = timedelta(seconds=20)  # a tick in flight this long is waiting (pool, queue), not working


@dg.op
def fetch_live_responses(context: dg.OpExecutionContext) -> dict[str, str]:
    """Fetch and archive this minute for every configured live platform without an archive."""
    settings = get_settings()
    minute = now_minute()
    landing = Landing(settings.stores.resolved_landing_dir())
    done, errors = fetch_unarchived(
        parse_source_names(settings.sources.names), landing, minute, build_live
    )
    for name, text in {**done, **errors}.items():
        context.log.info(f"{name} {minute:%Y-%m-%d %H:%M} UTC: {text}")
    if errors and not done:
        raise dg.Failure(
            description=f"No live platform answered for {minute:%Y-%m-%d %H:%M} UTC:\n"
            + "\n".join(f"- {name}: {error}" for name, error in errors.items())
        )
    context.add_output_metadata({"minute": minute.isoformat(), **done, **errors})
    return done


@dg.job(
    description="Archive the current minute of the live APIs (CHZZK, SOOP) while a minute tick "
    "waits; the tick re-parses the archive. Launched by minute_sensor, never touches DuckDB.",
    tags={"dagster/priority": "5"},  # ahead of other queued runs: the minute will not come back
)
def live_fetch():
    fetch_live_responses()


WAITING = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED)


def tick_blocked(instance: dg.DagsterInstance, record: dg.RunRecord, now: datetime) -> bool:
    """True when no tick can be fetching the current minute: the tick's own minutes are over
    (a tick fetches only those) and it is not working, i.e. it waits in the run queue, one of its
    steps waits for the duckdb pool, or it failed and its retry is awaited."""
    run = record.dagster_run
    own = Tick.from_tags(run.tags)
    if own is None or not own.live or own.last >= floor_minute(now):
        return False  # the current minute is (or will be) the tick's own
    if run.status in WAITING or run.is_complete_and_waiting_to_retry:
        return True
    return waiting_for_pool(instance, run.run_id)


def live_fetch_request(
    sources: str, landing: Landing, waiting_since: datetime, now: datetime
) -> dg.RunRequest | None:
    """A live_fetch run for the current minute when a tick has waited longer than STALLED, live
    APIs are configured (they cannot answer later for this minute) and the minute is not archived
    yet; None otherwise. Times are aware UTC."""
    try:
        live = [name for name in parse_source_names(sources) if name in LIVE_PLATFORMS]
    except SourceError:  # a bad STREAMPULSE_SOURCES fails the tick itself, with its reason
        return None
    minute = floor_minute(now)
    if not live or now - waiting_since < STALLED:
        return None
    if all(landing.path(name, minute).exists() for name in live):
        return None
    key = minute.isoformat()
    return dg.RunRequest(job_name=FETCH_JOB, run_key=f"fetch/{key}", tags={FETCH_TAG: key})


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[live_fetch])
