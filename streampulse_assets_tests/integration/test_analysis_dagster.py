"""The analysis assets and sensor against real Postgres, Redis and a temp DuckDB file."""

import dagster as dg
import duckdb
import psycopg2
import pytest

from bench import samples
from streampulse_assets.defs.analysis.assets import analysed_events, analysis_queue_results
from streampulse_assets.defs.analysis.sensors import analysis_queue_sensor
from streampulse_assets.defs.resources import build_resources


@pytest.fixture
def conn(stores):
    c = psycopg2.connect(stores["postgres"])
    c.autocommit = True
    yield c
    c.close()


def materialize(resources):
    return dg.materialize([analysis_queue_results, analysed_events], resources=resources)


def meta(result, node: str) -> dict:
    (mat,) = result.asset_materializations_for_node(node)
    return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}


def test_sensor_requests_a_run_only_when_events_are_due(conn, stores):
    resources = {"postgres": build_resources()["postgres"]}
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=resources)
        skip = analysis_queue_sensor.evaluate_tick(ctx)
        assert not skip.run_requests and "no due PENDING" in skip.skip_message
        ids = samples.insert_rows(conn, samples.sample_rows(4))
        ctx = dg.build_sensor_context(instance=instance, resources=resources)
        (request,) = analysis_queue_sensor.evaluate_tick(ctx).run_requests
        assert request.run_key.startswith(f"analysis:{max(ids)}:{min(ids)}:")
        assert request.tags["streampulse/queue_due"] == "4"


def test_sensor_returns_expired_leases_to_the_queue(conn, stores):
    samples.insert_rows(conn, samples.sample_rows(1))
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE analysis_queue SET analysis_status = 'IN_PROGRESS', attempts = 1, "
            "worker_id = 'dead', claimed_at = now() - interval '1 hour'"
        )
    resources = {"postgres": build_resources()["postgres"]}
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=resources)
        assert len(analysis_queue_sensor.evaluate_tick(ctx).run_requests) == 1
    with conn.cursor() as cur:
        cur.execute("SELECT analysis_status FROM analysis_queue")
        assert cur.fetchone()[0] == "PENDING"


def test_materialisation_drains_the_queue_and_copies_results_to_duckdb(conn, stores):
    samples.insert_rows(conn, samples.sample_rows(12))
    result = materialize(build_resources())
    assert result.success
    drained = meta(result, "analysis_queue_results")
    assert drained["events_analysed"] == 12 and drained["queue_pending"] == 0
    assert drained["cache_hit_rate"] == 0.0 and drained["llm_calls"] == 0
    assert drained["estimated_cost_usd"] == 0.0 and drained["latency_p95_s"] >= 0
    copied = meta(result, "analysed_events")
    assert copied["rows_copied"] == 12 and copied["dagster/row_count"] == 12
    with duckdb.connect(stores["duckdb"]) as con:
        rows = con.execute(
            "SELECT verdict, tier, summary, cache_key, ts FROM analysed_events ORDER BY id"
        ).fetchall()
    assert len(rows) == 12
    assert {r[1] for r in rows} == {"offline"} and all(r[2].startswith("[") for r in rows)
    assert all(r[3].startswith("spike:") for r in rows)
    first_ts = samples.sample_rows(1)[0]["ts"]
    assert rows[0][4] == first_ts  # naive UTC minute, as everywhere in the warehouse
    # Re-running copies nothing new and keeps one row per event.
    again = materialize(build_resources())
    assert meta(again, "analysis_queue_results")["events_analysed"] == 0
    assert meta(again, "analysed_events")["dagster/row_count"] == 12


def test_replayed_events_hit_the_cache_and_metadata_shows_it(conn, stores):
    samples.insert_rows(conn, samples.sample_rows(10))
    materialize(build_resources())
    with conn.cursor() as cur:
        cur.execute("UPDATE analysis_queue SET analysis_status = 'PENDING', result = NULL")
    result = materialize(build_resources())
    assert meta(result, "analysis_queue_results")["cache_hit_rate"] == 1.0
    copied = meta(result, "analysed_events")
    assert copied["rows_copied"] == 10 and copied["copied_cache_hit_rate"] == 1.0
    assert copied["dagster/row_count"] == 10
