"""The minute tick: the minutes a run of the minute pipeline computes, and the run tags saying so.

A live tick is launched by the minute sensor. Its tags name its minutes [start, end) (one minute,
or the minutes since the previous tick when it catches up, always inside one hourly partition)
and, when the sensor was away longer than its catch-up bound, the gap of minutes no tick will
compute. Any other run (a backfill, a manual materialisation) computes its partitions' window.
The tag names and their encoding live here only; the values are stored with every run, so they
never change. Dagster's side (the job, reading a run's context): `defs/ticks.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from streampulse_assets.lib.timeutil import MINUTE, floor_minute, naive_utc

MINUTE_TAG = "streampulse/minute"  # the newest (last) minute a live tick computes
MINUTE_START_TAG = "streampulse/minute_start"  # its first minute (absent: MINUTE_TAG only)
GAP_TAG = "streampulse/gap"  # minutes no tick will compute: "<start>/<end>", [start, end)
REQUESTED_TAG = "streampulse/requested_at"  # when the sensor asked for the tick (its own clock)
BOOTSTRAP_TAG = "streampulse/bootstrap"  # the first-start history backfill (cli/bootstrap.py)
# Dagster's own tags of a single run over a range of partitions (a single-run backfill).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
HOUR_KEY_FORMAT = "%Y-%m-%d-%H:00"  # key of the hourly partition holding a minute
_HOUR = timedelta(hours=1)


def hour_key(ts: datetime) -> str:
    """The key of the hourly (UTC) partition holding `ts`."""
    return naive_utc(ts).strftime(HOUR_KEY_FORMAT)


def hour_from_key(key: str) -> datetime:
    """The naive UTC start of an hourly partition key."""
    return datetime.strptime(key, "%Y-%m-%d-%H:%M")


@dataclass(frozen=True)
class Tick:
    """Minutes [start, end) of one run, naive UTC (aware inputs are converted). `live`: launched
    by the minute sensor (else a backfill over whole hours); `gap`: minutes [start, end) the
    sensor skipped before this tick and will never compute (a backfill's job)."""

    start: datetime
    end: datetime
    live: bool = True
    gap: tuple[datetime, datetime] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", floor_minute(self.start))
        object.__setattr__(self, "end", floor_minute(self.end))
        if self.gap is not None:
            object.__setattr__(self, "gap", (naive_utc(self.gap[0]), naive_utc(self.gap[1])))

    @property
    def last(self) -> datetime:
        """The tick's newest minute."""
        return self.end - MINUTE

    @property
    def partition_key(self) -> str:
        """The hourly partition the tick's first minute lies in."""
        return hour_key(self.start)

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Tick | None:
        """The tick a run's tags describe: a live tick (the sensor's tags) or a single-run
        backfill (Dagster's range tags); None for any other run."""
        minute = tags.get(MINUTE_TAG)
        if minute:
            last = floor_minute(datetime.fromisoformat(minute))
            first = tags.get(MINUTE_START_TAG)
            start = floor_minute(datetime.fromisoformat(first)) if first else last
            return cls(start, last + MINUTE, live=True, gap=_parse_gap(tags.get(GAP_TAG)))
        first_hour, last_hour = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
        if first_hour and last_hour:
            start, end = hour_from_key(first_hour), hour_from_key(last_hour) + _HOUR
            return cls(start, end, live=False)
        return None


def tick_tags(tick: Tick, requested_at: datetime | None = None) -> dict[str, str]:
    """The run tags of `tick`: the sensor's tags for a live tick (with when it was requested,
    if given), Dagster's partition range tags for a backfill (whole hours only)."""
    if not tick.live:
        if tick.start != tick.start.replace(minute=0) or tick.end != tick.end.replace(minute=0):
            raise ValueError(f"a backfill covers whole hours, not {tick.start} to {tick.end}")
        return {RANGE_START_TAG: hour_key(tick.start), RANGE_END_TAG: hour_key(tick.end - _HOUR)}
    tags = {MINUTE_TAG: tick.last.isoformat(), MINUTE_START_TAG: tick.start.isoformat()}
    if requested_at is not None:
        tags[REQUESTED_TAG] = requested_at.isoformat()
    if tick.gap is not None:
        tags[GAP_TAG] = f"{tick.gap[0].isoformat()}/{tick.gap[1].isoformat()}"
    return tags


def requested_at(tags: Mapping[str, str]) -> datetime | None:
    """When the sensor asked for the tick (aware UTC, the sensor's clock), if it says."""
    value = tags.get(REQUESTED_TAG)
    return datetime.fromisoformat(value) if value else None


def _parse_gap(value: str | None) -> tuple[datetime, datetime] | None:
    if not value:
        return None
    start, end = value.split("/")
    return datetime.fromisoformat(start), datetime.fromisoformat(end)
