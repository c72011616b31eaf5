"""The live fetch job: archive the current minute of the live APIs while the minute pipeline waits.

A minute tick needs the single DuckDB writer; behind a long backfill it waits for the pool, and a
live API cannot answer for a minute that has passed. The minute sensor launches this job for every
minute a tick stays in flight, so the waiting never loses live data: the next tick re-parses the
archived responses. It touches no DuckDB and does nothing for the simulator or replay sources.
"""

from datetime import UTC, datetime

import dagster as dg

from streampulse_assets.lib.ingest.collect import fetch_unarchived, parse_source_names
from streampulse_assets.lib.ingest.landing import Landing
from streampulse_assets.lib.ingest.sources import build_live
from streampulse_assets.lib.settings import get_settings
from streampulse_assets.lib.snapshots import floor_minute

FETCH_JOB = "live_fetch"


@dg.op
def fetch_live_responses(context: dg.OpExecutionContext) -> dict[str, str]:
    """Fetch and archive this minute for every configured live platform without an archive."""
    settings = get_settings()
    minute = floor_minute(datetime.now(UTC))
    landing = Landing(settings.resolved_landing_dir())
    done, errors = fetch_unarchived(
        parse_source_names(settings.sources), landing, minute, build_live
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


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[live_fetch])
