"""Retention: warehouse rows, landing files, Postgres rows, and Dagster runs with asset history."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import psycopg2
import pytest
from psycopg2.extras import Json

from streampulse_assets.defs.operations.assets import (
    dagster_run_retention,
    landing_retention,
    operational_store_retention,
    warehouse_retention,
)
from streampulse_assets.defs.operations.jobs import maintenance_job
from streampulse_assets.defs.operations.run_retention import KEPT_EVENT_TYPES, prune_dagster_runs
from streampulse_assets.defs.resources import PostgresResource, WarehouseResource
from streampulse_assets.lib.ingest.landing import Landing
from streampulse_assets.lib.retention import (
    RetentionPolicy,
    prune_landing,
    prune_postgres,
    prune_warehouse,
)
from streampulse_assets.lib.schema import migrate_duckdb
from streampulse_assets.lib.settings import RetentionSettings, get_settings
from streampulse_assets.lib.settings.configs import retention_policy
from streampulse_assets.lib.sources.base import RawPayload

NOW = datetime(2025, 6, 30, 12, 0)


def _fill_warehouse(path):
    con = duckdb.connect(path)
    migrate_duckdb(con)
    con.execute("CREATE TABLE IF NOT EXISTS test_rollups (platform VARCHAR, ts TIMESTAMP)")
    con.execute("CREATE TABLE IF NOT EXISTS no_ts_table (platform VARCHAR, minute TIMESTAMP)")
    for age_days in (1, 10, 20, 36, 40, 400):
        ts = NOW - timedelta(days=age_days)
        con.execute(
            "INSERT INTO raw_snapshots (platform, category_id, ts, viewers, source) "
            "VALUES ('chzzk', 'c', ?, 10, 'sim')",
            [ts],
        )
        con.execute("INSERT INTO test_rollups VALUES ('chzzk', ?)", [ts])
        con.execute("INSERT INTO no_ts_table VALUES ('chzzk', ?)", [ts])
    return con


def test_prune_warehouse_per_table(duckdb_path):
    con = _fill_warehouse(duckdb_path)
    days = {"raw_snapshots": 35, "test_rollups": 14, "no_ts_table": 1, "absent_table": 3}
    removed = prune_warehouse(con, days, now=NOW)
    assert removed == {"raw_snapshots": 3, "test_rollups": 4}  # absent and ts-less skipped
    oldest = con.execute("SELECT min(ts) FROM raw_snapshots").fetchone()[0]
    assert oldest == NOW - timedelta(days=20)
    assert con.execute("SELECT count(*) FROM no_ts_table").fetchone()[0] == 6
    assert prune_warehouse(con, days, now=NOW) == {"raw_snapshots": 0, "test_rollups": 0}
    assert prune_warehouse(con, {"raw_snapshots": 0}, now=NOW) == {}  # 0 days keeps forever
    con.close()


def test_policy_guards_the_seasonal_baseline():
    assert RetentionPolicy().warehouse_days["raw_snapshots"] == 35
    with pytest.raises(ValueError, match="seasonal baseline"):
        RetentionPolicy(warehouse_days={"raw_snapshots": 7})
    with pytest.raises(ValueError, match="not a table name"):
        RetentionPolicy(warehouse_days={"raw; DROP TABLE x": 30})
    policy = retention_policy(
        RetentionSettings.read(
            {
                "STREAMPULSE_RETENTION_RAW_SNAPSHOTS_DAYS": "60",
                "STREAMPULSE_RUN_RETENTION_DAYS": "3",
            }
        )
    )
    assert (policy.warehouse_days["raw_snapshots"], policy.run_days) == (60, 3)
    assert policy.warehouse_days["signal_events"] == 365
    with pytest.raises(ValueError, match="RETENTION_LANDING_DAYS"):
        retention_policy(
            RetentionSettings.read({"STREAMPULSE_RETENTION_LANDING_DAYS": "two weeks"})
        )


def _land(root, platform, minute):
    payload = RawPayload(platform=platform, request="GET /x", status=200, body=b"{}")
    return Landing(root).write(platform, minute, [payload])


def test_prune_landing_removes_whole_old_days_only(tmp_path):
    root = tmp_path / "landing"
    old = [
        _land(root, p, NOW - timedelta(days=20, minutes=m))
        for p in ("chzzk", "soop")
        for m in (0, 1)
    ]
    boundary = _land(root, "chzzk", datetime(2025, 6, 15, 23, 59))  # day wholly before cutoff
    kept = _land(root, "chzzk", datetime(2025, 6, 16, 0, 0))  # its noon onwards is within 14 d
    stray = root / "chzzk" / "notes"
    stray.mkdir()
    (stray / "keep.txt").write_text("not a date folder")
    removed = prune_landing(root, 14, now=NOW)
    assert removed["files"] == 5 and removed["folders"] == 3 and removed["bytes"] > 0
    assert not any(p.exists() for p in [*old, boundary])
    assert kept.exists() and (stray / "keep.txt").exists()
    assert prune_landing(root, 14, now=NOW)["files"] == 0
    assert prune_landing(tmp_path / "missing", 14, now=NOW)["files"] == 0


def _event(cur, category_id, age_days, status):
    ts = datetime.now(UTC) - timedelta(days=age_days)
    cur.execute(
        "INSERT INTO analysis_queue (detector, platform, category_id, ts, level, evidence, "
        "analysis_status) VALUES ('V3', 'chzzk', %s, %s, 'SPIKE', %s, %s) RETURNING id",
        (category_id, ts, Json({}), status),
    )
    return cur.fetchone()[0]


def _delivery(cur, event_id, age_days):
    cur.execute(
        "INSERT INTO alert_deliveries (event_id, sink, status, payload, created_at) VALUES "
        "(%s, 'webhook', 'SENT', %s, now() - make_interval(days => %s))",
        (event_id, Json({"text": "x"}), age_days),
    )


def test_prune_postgres_keeps_pending_work(pg_url):
    conn = psycopg2.connect(pg_url)
    with conn.cursor() as cur:
        old_done = _event(cur, "a", 400, "DONE")
        _event(cur, "b", 400, "SKIPPED")
        _event(cur, "c", 400, "FAILED")
        old_pending = _event(cur, "d", 400, "PENDING")
        _event(cur, "e", 400, "IN_PROGRESS")
        mid = _event(cur, "f", 100, "DONE")
        new = _event(cur, "g", 1, "DONE")
        _delivery(cur, old_done, 400)
        _delivery(cur, mid, 100)
        _delivery(cur, new, 1)
        _delivery(cur, old_pending, 400)
        labelled = _event(cur, "h", 400, "DONE")
        cur.execute(
            "INSERT INTO operator_feedback (event_id, verdict) VALUES (%s, true)", (labelled,)
        )
    conn.commit()
    removed = prune_postgres(conn, events_days=365, deliveries_days=90)
    assert removed == {"alert_deliveries": 3, "analysis_queue": 3}
    with conn.cursor() as cur:
        cur.execute("SELECT category_id FROM analysis_queue ORDER BY category_id")
        assert [r[0] for r in cur.fetchall()] == ["d", "e", "f", "g", "h"]
        cur.execute("SELECT event_id FROM alert_deliveries")
        assert [r[0] for r in cur.fetchall()] == [new]
    assert prune_postgres(conn, events_days=365, deliveries_days=90) == {
        "alert_deliveries": 0,
        "analysis_queue": 0,
    }
    conn.close()


@dg.asset
def tiny_asset() -> dg.MaterializeResult:
    """A trivial asset whose materialisations must survive run retention."""
    return dg.MaterializeResult(metadata={"rows": 1})


def _age_runs(instance, run_ids, days):
    url = instance.event_log_storage.postgres_url
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE runs SET create_timestamp = create_timestamp - make_interval(days => :d) "
                "WHERE run_id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"d": days, "ids": list(run_ids)},
        )
    engine.dispose()


def _event_types(instance, run_id):
    import sqlalchemy as sa

    engine = sa.create_engine(instance.event_log_storage.postgres_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT dagster_event_type FROM event_logs WHERE run_id = :r"), {"r": run_id}
        ).fetchall()
    engine.dispose()
    return [r[0] for r in rows]


def test_run_retention_keeps_materialisation_history(dagster_instance):
    instance = dagster_instance
    key = tiny_asset.key
    before = len(instance.fetch_materializations(key, limit=1000).records)
    old_runs = [dg.materialize([tiny_asset], instance=instance).run_id for _ in range(2)]
    recent = dg.materialize([tiny_asset], instance=instance).run_id
    assert len(_event_types(instance, old_runs[0])) > 5  # step, run and log events
    _age_runs(instance, old_runs, days=30)

    result = dg.materialize([dagster_run_retention], instance=instance)
    assert result.success
    [mat] = result.asset_materializations_for_node("dagster_run_retention")
    assert mat.metadata["runs_deleted"].value >= 2
    assert mat.metadata["event_rows_deleted"].value > 0

    for run_id in old_runs:
        assert instance.get_run_by_id(run_id) is None
        kept = _event_types(instance, run_id)
        assert kept == ["ASSET_MATERIALIZATION"]  # only asset history left
        assert set(kept) <= set(KEPT_EVENT_TYPES)
    assert instance.get_run_by_id(recent) is not None
    assert len(_event_types(instance, recent)) > 5
    records = instance.fetch_materializations(key, limit=1000).records
    assert len(records) == before + 3
    assert {r.run_id for r in records} >= {*old_runs, recent}
    assert instance.get_latest_materialization_event(key).run_id == recent
    # Nothing older is left: a second pass deletes nothing.
    cutoff = datetime.now(UTC) - timedelta(days=7)
    assert prune_dagster_runs(instance, cutoff) == {"runs": 0, "event_rows": 0}


def test_run_retention_refuses_non_postgres_event_storage():
    with dg.DagsterInstance.ephemeral() as instance:
        with pytest.raises(RuntimeError, match="Postgres"):
            prune_dagster_runs(instance, datetime.now(UTC))
        result = dg.materialize([dagster_run_retention], instance=instance)
        [mat] = result.asset_materializations_for_node("dagster_run_retention")
        assert "not Postgres" in mat.metadata["skipped"].value


def test_maintenance_job_end_to_end(dagster_instance, stores, tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    monkeypatch.setenv("STREAMPULSE_LANDING_DIR", str(landing))
    get_settings.cache_clear()
    now = datetime.now(UTC).replace(tzinfo=None)
    _land(landing, "chzzk", now - timedelta(days=30))
    _land(landing, "chzzk", now)
    con = _fill_warehouse(stores["duckdb"])
    con.execute("UPDATE raw_snapshots SET ts = ts + (?::TIMESTAMP - ?::TIMESTAMP)", [now, NOW])
    con.close()
    conn = psycopg2.connect(stores["postgres"])
    with conn.cursor() as cur:
        _event(cur, "old", 400, "DONE")
        _event(cur, "new", 1, "DONE")
    conn.commit()
    conn.close()

    assets = [dagster_run_retention, warehouse_retention, landing_retention]
    assets.append(operational_store_retention)
    defs = dg.Definitions(
        assets=assets,
        jobs=[maintenance_job],
        resources={
            "duckdb": WarehouseResource(database=stores["duckdb"]),
            "postgres": PostgresResource(url=stores["postgres"]),
        },
    )
    result = defs.resolve_job_def("maintenance").execute_in_process(instance=dagster_instance)
    assert result.success
    meta = {
        m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()}
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    assert meta["warehouse_retention"]["raw_snapshots_deleted"] == 3
    assert meta["landing_retention"]["files_deleted"] == 1
    assert meta["operational_store_retention"]["analysis_queue_deleted"] == 1
    assert "runs_deleted" in meta["dagster_run_retention"]
    get_settings.cache_clear()
