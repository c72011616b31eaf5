"""Faults against the real servers: Postgres restarted mid-tick and mid-analysis, a daemon pause."""

from datetime import timedelta

import dagster as dg
import duckdb
import pandas as pd
import psycopg2
import pytest

from streampulse_assets.defs.detection.assets import (
    baselines,
    signal_events,
)
from streampulse_assets.defs.resources import PostgresResource, WarehouseResource
from streampulse_assets.lib.detection.frame import load_raw, normalise
from streampulse_assets.lib.schema import migrate_duckdb
from streampulse_assets.lib.ticks import Tick, hour_key, tick_tags
from streampulse_assets_tests.integration.test_detection_assets import T0, queue, scenario

ASSETS = [baselines, signal_events]
JUMP = T0 + timedelta(hours=3)  # the scenario's surge and adoption minute


def backfilled_warehouse(duckdb_path: str, pg_url: str, raw: pd.DataFrame) -> dict:
    """Load `raw` into a fresh warehouse and backfill the detection assets over 00:00-03:00."""
    con = duckdb.connect(duckdb_path)
    migrate_duckdb(con)
    load_raw(con, normalise(raw))
    con.close()
    resources = {
        "duckdb": WarehouseResource(database=duckdb_path),
        "postgres": PostgresResource(url=pg_url, connect_timeout=2),
    }
    backfill = dg.materialize(
        ASSETS,
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": "2025-03-01-00:00",
            "dagster/asset_partition_range_end": "2025-03-01-02:00",
        },
    )
    assert backfill.success
    return resources


@pytest.fixture
def warehouse(duckdb_path, pg_url):
    return backfilled_warehouse(duckdb_path, pg_url, scenario())


def _tick(resources, last, first=None, raise_on_error=True):
    tick = Tick(first or last, last + timedelta(minutes=1))
    return dg.materialize(
        ASSETS,
        resources=resources,
        partition_key=hour_key(last),
        tags=tick_tags(tick),
        raise_on_error=raise_on_error,
    )


def _failure_text(result) -> str:
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    return str(failure.event_specific_data.error)


def test_postgres_down_during_a_tick_fails_clearly_and_the_next_tick_recovers(
    warehouse, pg_url, embedded_postgres
):
    embedded_postgres.stop()
    try:
        failed = _tick(warehouse, JUMP, raise_on_error=False)
    finally:
        embedded_postgres.start()
    assert not failed.success
    assert "connect" in _failure_text(failed).lower()  # psycopg2 says why: connection refused
    assert queue(pg_url).empty

    recovered = _tick(warehouse, JUMP + timedelta(minutes=1))
    assert recovered.success
    stored = queue(pg_url)
    # The events of the failed minute were stored in the warehouse and are queued now, once.
    assert JUMP in set(stored["ts"].dt.tz_convert(None))
    assert not stored.duplicated(["detector", "category_id", "ts"]).any()
    again = _tick(warehouse, JUMP + timedelta(minutes=1))
    assert again.success
    assert len(queue(pg_url)) == len(stored)


def test_daemon_paused_ten_minutes_catches_up_in_one_tick(warehouse, pg_url, duckdb_path):
    # The sensor was down from JUMP-1 to JUMP+9: the next tick covers all ten minutes at once.
    result = _tick(warehouse, JUMP + timedelta(minutes=9), first=JUMP)
    assert result.success
    meta = result.asset_materializations_for_node("signal_events")[0].metadata
    assert meta["range_minutes"].value == 10
    with duckdb.connect(duckdb_path) as con:
        minutes = con.execute(
            "SELECT count(DISTINCT ts) FROM rolling_baselines WHERE ts >= ? AND ts < ?",
            [JUMP, JUMP + timedelta(minutes=10)],
        ).fetchall()[0][0]
    assert minutes == 10
    assert JUMP in set(queue(pg_url)["ts"].dt.tz_convert(None))


def test_postgres_restarted_during_analysis_loses_and_duplicates_nothing(
    warehouse, pg_url, redis_url, embedded_postgres
):
    from streampulse_assets.lib.analysis.worker import drain

    assert _tick(warehouse, JUMP).success
    pending = queue(pg_url)
    pending = pending[pending["analysis_status"] == "PENDING"]
    assert len(pending) >= 1

    embedded_postgres.stop()
    try:
        with pytest.raises(psycopg2.OperationalError):
            drain(pg_url, redis_url, worker_id="w1", max_events=10, deadline_s=20)
    finally:
        embedded_postgres.start()
    stats = drain(pg_url, redis_url, worker_id="w1", max_events=50, deadline_s=60)
    assert stats.summary()["events_analysed"] == len(pending)
    done = queue(pg_url)
    assert set(done.loc[done.index.isin(pending.index), "analysis_status"]) == {"DONE"}
    second = drain(pg_url, redis_url, worker_id="w2", max_events=50, deadline_s=5)
    assert second.summary()["events_analysed"] == 0  # nothing analysed twice


def test_postgres_restarted_between_claim_and_complete(
    pg_url, redis_url, embedded_postgres, httpserver
):
    """Postgres goes down while the model is answering: the claimed events keep their lease,
    return to the queue when it expires, and are explained exactly once after the restart."""
    import threading

    from bench import samples
    from streampulse_assets.lib.analysis import queue as q
    from streampulse_assets.lib.analysis.worker import drain
    from streampulse_assets_tests.integration.test_analysis_llm import StubServer, client

    conn = psycopg2.connect(pg_url)
    conn.autocommit = True
    samples.insert_rows(conn, samples.sample_rows(3, seed=5))
    stub = StubServer(httpserver)
    stopped = threading.Event()
    original = stub.handle

    def handle_and_crash_postgres(request):
        if not stopped.is_set():
            stopped.set()
            embedded_postgres.stop()  # the first model call happens after the claim
        return original(request)

    httpserver.clear()
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(
        handle_and_crash_postgres
    )
    try:
        with pytest.raises(psycopg2.Error):
            drain(pg_url, redis_url, worker_id="w1", llm=client(httpserver), batch=3, lease_s=1)
    finally:
        embedded_postgres.start()
    assert stopped.is_set()
    conn = psycopg2.connect(pg_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT analysis_status, count(*) FROM analysis_queue GROUP BY 1")
        assert dict(cur.fetchall()) == {"IN_PROGRESS": 3}  # leased, not lost
    import time

    time.sleep(1.2)  # the one-second lease expires
    assert q.release_expired(conn, lease_s=1) == 3
    stats = drain(pg_url, redis_url, worker_id="w2", llm=None)
    assert stats.summary()["events_analysed"] == 3
    with conn.cursor() as cur:
        cur.execute("SELECT analysis_status, worker_id, count(*) FROM analysis_queue GROUP BY 1, 2")
        assert cur.fetchall() == [("DONE", "w2", 3)]
    conn.close()
