"""The minute tick: its run tags round-trip, and a run's context gives one Tick (live or
backfill window), whatever Dagster context it comes from."""

from datetime import UTC, datetime, timedelta, timezone

import dagster as dg
import pytest

from streampulse_assets.defs.partitions import hourly_partitions, single_run
from streampulse_assets.defs.ticks import run_tick, tick_request
from streampulse_assets.lib.ticks import (
    GAP_TAG,
    MINUTE_START_TAG,
    MINUTE_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    REQUESTED_TAG,
    Tick,
    requested_at,
    tick_tags,
)
from streampulse_assets.lib.timeutil import now_minute

MIN = timedelta(minutes=1)
T0 = datetime(2025, 3, 1, 3, 10)


def test_live_tags_keep_their_stored_string_values():
    gap = (datetime(2025, 3, 1, 1, 0), datetime(2025, 3, 1, 3, 10))
    asked = datetime(2025, 3, 1, 3, 14, 5, 120, tzinfo=UTC)
    tags = tick_tags(Tick(T0, T0 + 5 * MIN, gap=gap), requested_at=asked)
    assert tags == {
        MINUTE_TAG: "2025-03-01T03:14:00",
        MINUTE_START_TAG: "2025-03-01T03:10:00",
        REQUESTED_TAG: "2025-03-01T03:14:05.000120+00:00",
        GAP_TAG: "2025-03-01T01:00:00/2025-03-01T03:10:00",
    }
    assert (MINUTE_TAG, MINUTE_START_TAG, GAP_TAG, REQUESTED_TAG) == (
        "streampulse/minute",
        "streampulse/minute_start",
        "streampulse/gap",
        "streampulse/requested_at",
    )
    assert requested_at(tags) == asked


@pytest.mark.parametrize(
    "tick",
    [
        Tick(T0, T0 + MIN),
        Tick(T0, T0 + 50 * MIN),
        Tick(T0, T0 + MIN, gap=(T0 - 90 * MIN, T0)),
        Tick(datetime(2025, 3, 1), datetime(2025, 3, 9), live=False),
    ],
)
def test_tags_round_trip(tick):
    assert Tick.from_tags(tick_tags(tick)) == tick


def test_a_tick_reads_what_older_runs_wrote():
    # Only the minute tag (the tick computes that minute), aware values, no gap.
    assert Tick.from_tags({MINUTE_TAG: "2025-03-01T03:10:00"}) == Tick(T0, T0 + MIN)
    aware = {MINUTE_TAG: "2025-03-01T12:10:30+09:00", MINUTE_START_TAG: "2025-03-01T03:05:00"}
    assert Tick.from_tags(aware) == Tick(T0 - 5 * MIN, T0 + MIN)
    assert Tick.from_tags({"dagster/priority": "5"}) is None
    assert requested_at({}) is None


def test_a_backfill_tick_is_written_as_dagster_partition_range_tags():
    tags = tick_tags(Tick(datetime(2025, 3, 1), datetime(2025, 3, 2), live=False))
    assert tags == {RANGE_START_TAG: "2025-03-01-00:00", RANGE_END_TAG: "2025-03-01-23:00"}
    with pytest.raises(ValueError, match="whole hours"):
        tick_tags(Tick(T0, T0 + MIN, live=False))


def test_tick_normalises_to_naive_utc_minutes():
    kst = timezone(timedelta(hours=9))
    tick = Tick(datetime(2025, 3, 1, 12, 10, 42, tzinfo=kst), datetime(2025, 3, 1, 3, 11))
    assert (tick.start, tick.end, tick.last) == (T0, T0 + MIN, T0)
    assert tick.partition_key == "2025-03-01-03:00"


def test_the_request_of_a_tick():
    tick = Tick(T0, T0 + 3 * MIN)
    request = tick_request(tick, datetime(2025, 3, 1, 3, 12, 1, tzinfo=UTC), "/after-abc")
    assert request.job_name == "minute_pipeline"
    assert request.run_key == "2025-03-01T03:12:00/after-abc"
    assert request.partition_key == "2025-03-01-03:00"
    assert Tick.from_tags(request.tags) == tick


_SEEN: list[Tick] = []


@dg.asset(partitions_def=hourly_partitions, backfill_policy=single_run)
def tick_probe(context: dg.AssetExecutionContext) -> None:
    _SEEN.append(run_tick(context))


def _run_tick(partition_key: str | None = None, tags: dict[str, str] | None = None) -> Tick:
    """The Tick a real in-process run of `tick_probe` reads from its context."""
    _SEEN.clear()
    assert dg.materialize([tick_probe], partition_key=partition_key, tags=tags).success
    (tick,) = _SEEN
    return tick


def test_a_backfill_run_computes_its_whole_partition_window():
    tick = _run_tick("2025-03-01-03:00")
    assert tick == Tick(datetime(2025, 3, 1, 3), datetime(2025, 3, 1, 4), live=False)
    assert tick.start.tzinfo is None and tick.end.tzinfo is None
    # A single-run backfill over a range of partitions (the soak bench's history run).
    history = Tick(datetime(2025, 3, 1), datetime(2025, 3, 3), live=False)
    assert _run_tick(tags=tick_tags(history)) == history


def test_a_live_tick_computes_its_own_minutes_inside_its_partition():
    live = Tick(T0, T0 + 5 * MIN, gap=(T0 - 60 * MIN, T0))
    assert _run_tick("2025-03-01-03:00", tick_tags(live)) == live
    # Minutes outside the run's partition are never computed by it.
    tags = tick_tags(Tick(T0 - 20 * MIN, T0 + 55 * MIN))
    assert _run_tick("2025-03-01-03:00", tags) == Tick(datetime(2025, 3, 1, 3), T0 + 50 * MIN)


def test_a_run_never_computes_the_future():
    now = now_minute()
    tick = _run_tick(now.strftime("%Y-%m-%d-%H:00"), tick_tags(Tick(now, now + 30 * MIN)))
    assert tick.live and tick.start == now
    assert now + MIN <= tick.end <= now + 2 * MIN  # the minute may turn meanwhile
