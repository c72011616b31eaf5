"""Queue hand-off against real Postgres, and the Dagster detection assets end to end."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import psycopg2

from streampulse_assets.defs.detection.assets import (
    baselines,
    signal_events,
)
from streampulse_assets.defs.resources import PostgresResource, WarehouseResource
from streampulse_assets.lib.detection.engine import EVENT_COLUMNS, detect_frame
from streampulse_assets.lib.detection.enqueue import enqueue_events
from streampulse_assets.lib.detection.frame import load_raw, normalise
from streampulse_assets.lib.schema import migrate_duckdb
from streampulse_assets.lib.ticks import MINUTE_TAG

T0 = datetime(2025, 3, 1)


def top(*pairs) -> str:
    return json.dumps(
        [{"channel_id": c, "channel_name": c.upper(), "title": f"{c} live", "viewers": v}
         for c, v in pairs]
    )  # fmt: skip


def scenario(n: int = 240, jump: int = 180) -> pd.DataFrame:
    """'a' gets a broad surge at `jump`; 'small' is adopted by 'star' from 'big' at `jump`."""
    rng = np.random.default_rng(0)
    a = (10_000 * (1 + rng.uniform(-0.01, 0.01, n))).round().astype(int)
    a[jump:] = 24_000
    small = (800 * (1 + rng.uniform(-0.01, 0.01, n))).round().astype(int)
    small[jump:] = 9_800
    big = (30_000 * (1 + rng.uniform(-0.01, 0.01, n))).round().astype(int)
    rows = []
    for i in range(n):
        ts = T0 + timedelta(minutes=i)
        after = i >= jump
        tops = {
            "a": top(("a1", 5_000), ("a2", 3_000)),
            "small": top(("star", 9_000), ("s1", 500)) if after else top(("s1", 500)),
            "big": top(("b2", 5_000)) if after else top(("star", 20_000), ("b2", 5_000)),
        }
        for cat, values in (("a", a), ("small", small), ("big", big)):
            rows.append(("chzzk", cat, ts, f"Cat {cat}", int(values[i]), 10, tops[cat]))
    columns = [
        "platform", "category_id", "ts", "category_name", "viewers", "open_lives",
        "top_streamers",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def queue(pg_url: str) -> pd.DataFrame:
    conn = psycopg2.connect(pg_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT detector, category_id, ts, level, cause, analysis_status, evidence "
                "FROM analysis_queue ORDER BY ts, category_id"
            )
            cols = [d[0] for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=cols)
    finally:
        conn.close()


def test_enqueue_is_exactly_once_and_skips_adoption(pg_url):
    events = detect_frame(scenario())
    v3 = events[events["detector"] == "V3"]
    assert {"V1", "V3"} <= set(events["detector"])
    conn = psycopg2.connect(pg_url)
    try:
        first = enqueue_events(conn, events)
        again = enqueue_events(conn, events)
    finally:
        conn.close()
    assert first.offered == len(v3) and first.inserted == len(v3) and first.duplicates == 0
    assert first.ignored == int((events["detector"] == "V1").sum())
    assert first.skipped == int((v3["cause"] == "CATEGORY_ADOPTION").sum()) >= 1
    assert again.inserted == 0 and again.duplicates == len(v3)
    stored = queue(pg_url)
    assert len(stored) == len(v3) and set(stored["detector"]) == {"V3"}
    adoption = stored[stored["cause"] == "CATEGORY_ADOPTION"].iloc[0]
    assert adoption["analysis_status"] == "SKIPPED" and adoption["category_id"] == "small"
    surge = stored[(stored["category_id"] == "a") & (stored["level"] == "SPIKE")].iloc[0]
    assert surge["analysis_status"] == "PENDING"
    assert surge["ts"].utcoffset() == timedelta(0) and surge["ts"].hour == 3
    ev = surge["evidence"]
    assert ev["current"] == 24_000 and ev["profile"] == "default" and ev["is_major"] is True
    assert isinstance(ev["candidate_reasons"], list) and "spike" in ev["candidate_reasons"]
    streamer = ev["top_streamers"][0]
    assert set(streamer) >= {"channel_id", "viewers", "viewers_before", "title_before",
                             "category_before"}  # fmt: skip
    assert streamer["viewers_before"] == 5_000 and streamer["title_before"] == "a1 live"
    star = adoption["evidence"]["top_streamers"][0]
    assert star["channel_id"] == "star" and star["category_before"] == "Cat big"


def test_a_learned_going_live_candidate_is_queued_as_skipped(pg_url):
    learned = {
        "detector": "LEARNED", "platform": "soop", "category_name": "Cat", "current": 60,
        "baseline_short": 30.0, "delta": 30.0, "cause": "PERSON_ISSUE", "open_lives": 4,
        "open_lives_before": 3, "top_streamers": top(("new", 28), ("s1", 15)), "profile": "default",
    }  # fmt: skip
    reasons = ["learned score 0.412", "z 14.0 over the row itself"]
    why = "going live: NEW was not live here an hour ago and has 28 viewers; the category rose "
    why += "by 30"
    going = json.dumps([*reasons, why])
    rows = [
        {**learned, "category_id": "tiny", "ts": T0, "level": "CANDIDATE",
         "candidate_reasons": going},
        {**learned, "category_id": "other", "ts": T0, "level": "SPIKE",
         "candidate_reasons": json.dumps(reasons)},
        {**learned, "detector": "V3", "category_id": "tiny", "ts": T0, "level": "SPIKE",
         "candidate_reasons": json.dumps(["spike"])},
    ]  # fmt: skip
    events = pd.DataFrame(rows).reindex(columns=EVENT_COLUMNS)
    conn = psycopg2.connect(pg_url)
    try:
        stats = enqueue_events(conn, events, detector="LEARNED")
    finally:
        conn.close()
    assert (stats.inserted, stats.pending, stats.skipped, stats.ignored) == (2, 1, 1, 1)
    stored = queue(pg_url).set_index("category_id")
    assert stored.loc["tiny", "analysis_status"] == "SKIPPED"
    assert stored.loc["tiny", "level"] == "CANDIDATE"
    assert stored.loc["tiny", "evidence"]["candidate_reasons"][-1].startswith("going live")
    assert stored.loc["other", "analysis_status"] == "PENDING"


def test_enqueue_of_nothing(pg_url):
    conn = psycopg2.connect(pg_url)
    try:
        assert enqueue_events(conn, pd.DataFrame()).inserted == 0
    finally:
        conn.close()
    assert queue(pg_url).empty


def _resources(duckdb_path: str, pg_url: str) -> dict:
    return {
        "duckdb": WarehouseResource(database=duckdb_path),
        "postgres": PostgresResource(url=pg_url),
    }


def test_assets_backfill_a_range_then_a_live_tick_enqueues(duckdb_path, pg_url):
    con = duckdb.connect(duckdb_path)
    migrate_duckdb(con)
    load_raw(con, normalise(scenario()))
    con.close()
    assets = [baselines, signal_events]
    backfill = dg.materialize(
        assets,
        resources=_resources(duckdb_path, pg_url),
        tags={
            "dagster/asset_partition_range_start": "2025-03-01-00:00",
            "dagster/asset_partition_range_end": "2025-03-01-02:00",
        },
    )
    assert backfill.success
    mats = backfill.asset_materializations_for_node("signal_events")
    assert len(mats) == 3  # one per hourly partition, computed in one run
    checks = backfill.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    assert queue(pg_url).empty  # history is recorded, not queued for paid analysis

    tick = dg.materialize(
        assets,
        resources=_resources(duckdb_path, pg_url),
        partition_key="2025-03-01-03:00",
        tags={MINUTE_TAG: "2025-03-01T03:00:00"},
    )
    assert tick.success
    meta = tick.asset_materializations_for_node("signal_events")[0].metadata
    assert meta["live_tick"].value is True and meta["enqueued_inserted"].value >= 2
    assert meta["range_minutes"].value == 1 and meta["range_partitions"].value == 1
    rolled = next(  # both baseline tables come from one step ("baselines")
        m.metadata
        for m in tick.asset_materializations_for_node("baselines")
        if m.asset_key == dg.AssetKey("rolling_baselines")
    )
    assert rolled["dagster/row_count"].value == 3  # three categories, one minute
    stored = queue(pg_url)
    assert set(stored["ts"].dt.tz_convert(None)) == {T0 + timedelta(hours=3)}
    assert set(stored["analysis_status"]) == {"PENDING", "SKIPPED"}
    con = duckdb.connect(duckdb_path)
    try:
        counts = con.execute(
            "SELECT count(*), count(DISTINCT ts) FROM signal_events WHERE ts < ?",
            [T0 + timedelta(hours=3)],
        ).fetchall()[0]
        baseline_rows = con.execute("SELECT count(*) FROM rolling_baselines").fetchall()[0][0]
    finally:
        con.close()
    assert counts[0] == 0  # flat history: nothing before the jump
    assert baseline_rows == 3 * 181  # 00:00-03:00 backfilled + the live minute


def test_selecting_one_baseline_asset_computes_only_its_table(duckdb_path, pg_url):
    con = duckdb.connect(duckdb_path)
    migrate_duckdb(con)
    load_raw(con, normalise(scenario()))
    con.close()
    result = dg.materialize(
        [baselines],
        selection=["rolling_baselines"],
        resources=_resources(duckdb_path, pg_url),
        partition_key="2025-03-01-01:00",
    )
    assert result.success
    assert [m.asset_key.path[0] for m in result.get_asset_materialization_events()] == [
        "rolling_baselines"
    ]
    assert [c.check_name for c in result.get_asset_check_evaluations()] == ["covers_window"]
    con = duckdb.connect(duckdb_path)
    try:
        counts = con.execute(
            "SELECT (SELECT count(*) FROM rolling_baselines), "
            "(SELECT count(*) FROM seasonal_baselines)"
        ).fetchall()[0]
    finally:
        con.close()
    assert counts == (3 * 60, 0)  # three categories, one hour; the other table untouched
