"""Each hourly partition's metadata is that hour's own numbers, also after a single-run backfill.

Metadata is read back through the Dagster instance (the event log the UI's Plots tab reads),
one partition at a time.
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from streampulse_assets.defs.detection.assets import baselines, signal_events
from streampulse_assets.defs.ingest.assets import raw_snapshots
from streampulse_assets.defs.resources import PostgresResource, WarehouseResource
from streampulse_assets.lib.detection.frame import load_raw, normalise
from streampulse_assets.lib.schema import migrate_duckdb
from streampulse_assets.lib.sources.simulator import Simulator
from streampulse_assets.lib.ticks import MINUTE_TAG

# Recent enough to lie inside any partitions start (the default is the first start - 8 days).
BASE = (datetime.now(UTC) - timedelta(days=2)).replace(
    tzinfo=None, hour=6, minute=0, second=0, microsecond=0
)
H = timedelta(hours=1)


def key(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%d-%H:00")


def range_tags(first: datetime, last: datetime) -> dict:
    return {
        "dagster/asset_partition_range_start": key(first),
        "dagster/asset_partition_range_end": key(last),
    }


def partition_metadata(instance, asset: str, partition: str) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]),
        limit=1,
    ).records
    assert records, f"{asset} {partition} was not materialised"
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def per_hour(con, sql: str, start: datetime, end: datetime) -> dict:
    return dict(con.execute(sql, [start, end]).fetchall())


@pytest.fixture
def replay_with_gaps(tmp_path, settings_env):
    """Three hours of simulator data replayed from a file, with one chzzk minute missing in the
    second hour and the first ten minutes of every platform missing in the third."""
    frame = Simulator(seed=7, categories_per_platform=8, scenario="classic").frame(
        BASE, BASE + 3 * H
    )
    minute = frame["ts"] - BASE
    lost = ((frame["platform"] == "chzzk") & (minute == H + timedelta(minutes=10))) | (
        (minute >= 2 * H) & (minute < 2 * H + timedelta(minutes=10))
    )
    path = tmp_path / "recorded.parquet"
    frame[~lost].to_parquet(path, index=False)
    settings_env(
        STREAMPULSE_SOURCES="replay",
        STREAMPULSE_REPLAY_PATH=str(path),
        STREAMPULSE_LANDING_DIR=str(tmp_path / "landing"),
    )
    return frame[~lost]


def test_three_hour_backfill_gives_each_partition_its_own_numbers(replay_with_gaps, duckdb_path):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [raw_snapshots],
        instance=instance,
        tags=range_tags(BASE, BASE + 2 * H),
        resources={"duckdb": WarehouseResource(database=duckdb_path)},
    )
    assert result.success
    with duckdb.connect(duckdb_path) as con:
        rows = per_hour(
            con,
            "SELECT date_trunc('hour', ts), count(*) FROM raw_snapshots "
            "WHERE ts >= ? AND ts < ? GROUP BY 1",
            BASE,
            BASE + 3 * H,
        )
        chzzk = per_hour(
            con,
            "SELECT date_trunc('hour', ts), count(DISTINCT ts) FROM raw_snapshots "
            "WHERE platform = 'chzzk' AND ts >= ? AND ts < ? GROUP BY 1",
            BASE,
            BASE + 3 * H,
        )
    assert sum(rows.values()) == len(replay_with_gaps)
    metas = [partition_metadata(instance, "raw_snapshots", key(BASE + i * H)) for i in range(3)]
    counts = [m["dagster/row_count"] for m in metas]
    assert counts == [rows[BASE + i * H] for i in range(3)]
    assert len(set(counts)) == 3  # the data differ, and so do the partitions
    assert [m["chzzk_minutes"] for m in metas] == [chzzk[BASE + i * H] for i in range(3)]
    assert [m["chzzk_minutes"] for m in metas][1:] == [59, 50]
    assert len({m["soop_viewers_mean"] for m in metas}) == 3
    # The run's totals are the same on every partition, and named as range totals.
    assert {m["range_rows"] for m in metas} == {len(replay_with_gaps)}
    assert {m["range_partitions"] for m in metas} == {3}
    assert {m["range_minutes"] for m in metas} == {180}
    assert {m["table_rows"] for m in metas} == {len(replay_with_gaps)}
    assert "window_minutes" not in metas[0] and "window_start" not in metas[0]


def scenario(t0: datetime, n: int = 240, jump: int = 180) -> pd.DataFrame:
    """Category 'a' jumps 2.4x at minute `jump`; 'b' and 'c' stay flat."""
    rng = np.random.default_rng(0)
    rows = []
    for cat, level in (("a", 10_000), ("b", 30_000), ("c", 800)):
        values = (level * (1 + rng.uniform(-0.01, 0.01, n))).round().astype(int)
        if cat == "a":
            values[jump:] = 24_000
        top = json.dumps(
            [{"channel_id": f"{cat}1", "channel_name": cat, "title": "t", "viewers": level // 2}]
        )
        for i in range(n):
            ts = t0 + timedelta(minutes=i)
            rows.append(("chzzk", cat, ts, f"Cat {cat}", int(values[i]), 10, top))
    columns = [
        "platform", "category_id", "ts", "category_name", "viewers", "open_lives",
        "top_streamers",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _v3_rows(duckdb_path, start: datetime, end: datetime) -> int:
    with duckdb.connect(duckdb_path) as con:
        return con.execute(
            "SELECT count(*) FROM signal_events WHERE detector = 'V3' AND ts >= ? AND ts < ? "
            "AND level IN ('SPIKE', 'CANDIDATE')",
            [start, end],
        ).fetchall()[0][0]


def test_detection_partitions_and_queue_counts_mean_what_they_say(duckdb_path, pg_url):
    t0 = BASE.replace(hour=0)
    con = duckdb.connect(duckdb_path)
    migrate_duckdb(con)
    load_raw(con, normalise(scenario(t0)))
    con.close()
    instance = dg.DagsterInstance.ephemeral()
    resources = {
        "duckdb": WarehouseResource(database=duckdb_path),
        "postgres": PostgresResource(url=pg_url),
    }
    backfill = dg.materialize(
        [baselines, signal_events],
        instance=instance,
        resources=resources,
        tags=range_tags(t0, t0 + 3 * H),
    )
    assert backfill.success
    with duckdb.connect(duckdb_path) as con:
        events = per_hour(
            con,
            "SELECT date_trunc('hour', ts), count(*) FROM signal_events "
            "WHERE ts >= ? AND ts < ? GROUP BY 1",
            t0,
            t0 + 4 * H,
        )
        spikes = per_hour(
            con,
            "SELECT date_trunc('hour', ts), count(*) FROM signal_events "
            "WHERE detector = 'V3' AND level = 'SPIKE' AND ts >= ? AND ts < ? GROUP BY 1",
            t0,
            t0 + 4 * H,
        )
    metas = [partition_metadata(instance, "signal_events", key(t0 + i * H)) for i in range(4)]
    assert [m["v3_spikes"] for m in metas] == [spikes.get(t0 + i * H, 0) for i in range(4)]
    assert metas[3]["v3_spikes"] >= 1 and metas[0]["v3_spikes"] == 0  # only the jump's hour
    assert [m["dagster/row_count"] for m in metas] == [events.get(t0 + i * H, 0) for i in range(4)]
    assert {m["range_rows"] for m in metas} == {sum(events.values())}
    assert {m["table_rows"] for m in metas} == {sum(events.values())}
    assert not any(k.startswith("enqueued_") for m in metas for k in m)  # history: not queued
    rolling = [partition_metadata(instance, "rolling_baselines", key(t0 + i * H)) for i in range(4)]
    assert [m["dagster/row_count"] for m in rolling] == [3 * 60] * 4
    assert {m["range_rows"] for m in rolling} == {3 * 240}

    def tick(minute: datetime) -> dict:
        run = dg.materialize(
            [signal_events],
            instance=instance,
            resources=resources,
            partition_key=key(minute.replace(minute=0)),
            tags={MINUTE_TAG: minute.isoformat()},
        )
        assert run.success
        return partition_metadata(instance, "signal_events", key(minute.replace(minute=0)))

    # A live tick's hour partition shows the whole hour so far, not the tick's one minute.
    first = t0 + 3 * H + timedelta(minutes=10)
    meta = tick(first)
    assert meta["dagster/row_count"] == events[t0 + 3 * H] and meta["range_minutes"] == 1
    # The backfill stored the jump's events without queueing them: the lookback queues them now.
    missed = _v3_rows(duckdb_path, first - timedelta(minutes=30), first)
    assert missed >= 1 and meta["requeued_missed"] == missed
    own = _v3_rows(duckdb_path, first, first + timedelta(minutes=1))
    assert ("enqueued_offered" in meta) == (own > 0)
    # The next minute re-offers the same lookback: already queued, so no numbers about it.
    later = tick(first + timedelta(minutes=1))
    assert "requeued_missed" not in later
    own = _v3_rows(duckdb_path, first + timedelta(minutes=1), first + timedelta(minutes=2))
    assert ("enqueued_offered" in later) == (own > 0)
    if own:
        again = tick(first + timedelta(minutes=1))  # the same minute once more: duplicates
        assert again["enqueued_offered"] == own and again["enqueued_duplicates"] == own
