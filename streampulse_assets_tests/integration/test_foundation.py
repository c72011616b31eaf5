"""The foundation: definitions load, real servers run, schemas migrate, Dagster uses Postgres."""

import duckdb
import psycopg2
import pytest
import redis

from streampulse_assets.defs.resources import WarehouseResource
from streampulse_assets.lib.schema import MigrationError, migrate_duckdb, migrate_postgres
from streampulse_assets.lib.services.paths import free_port
from streampulse_assets.lib.services.postgres import EmbeddedPostgres
from streampulse_assets.lib.services.redis import EmbeddedRedis


def test_definitions_validate_loadable():
    import dagster as dg

    from streampulse_assets.definitions import defs

    loaded = defs()
    dg.Definitions.validate_loadable(loaded)
    assert {"duckdb", "postgres", "redis"} <= set(loaded.resources)


def test_embedded_postgres_starts_accepts_and_stops(tmp_path):
    server = EmbeddedPostgres(tmp_path / "pg", port=free_port())
    assert server.start() is True
    assert server.start() is False  # already running: idempotent
    with psycopg2.connect(server.url("streampulse")) as conn, conn.cursor() as cur:
        cur.execute("SELECT 41 + 1")
        assert cur.fetchone()[0] == 42
    assert server.stop() is True
    assert not server.is_running()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(server.url("streampulse"), connect_timeout=2)
    # Data survives a restart.
    assert server.start() is True
    assert server.stop() is True


def test_embedded_redis_starts_accepts_and_stops(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis", port=free_port())
    assert server.start() is True
    client = redis.Redis.from_url(server.url())
    client.set("k", "v")
    assert client.get("k") == b"v"
    client.close()
    assert server.stop() is True
    assert not server.is_running()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(server.url(), socket_connect_timeout=1).ping()


def test_duckdb_schema_applies_twice(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    first = migrate_duckdb(con)
    second = migrate_duckdb(con)
    assert first and not second
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert "raw_snapshots" in tables


def test_postgres_schema_applies_twice(pg_url):
    conn = psycopg2.connect(pg_url)
    try:
        assert migrate_postgres(conn) == []  # the template was migrated already
        assert migrate_postgres(conn) == []
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM schema_migrations")
            assert cur.fetchone()[0] >= 1
    finally:
        conn.close()


def test_edited_migration_is_refused(tmp_path, monkeypatch):
    sql = tmp_path / "sql" / "duckdb"
    sql.mkdir(parents=True)
    (sql / "001_a.sql").write_text("CREATE TABLE a (x INTEGER);")
    monkeypatch.setenv("STREAMPULSE_SQL_DIR", str(tmp_path / "sql"))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    migrate_duckdb(con)
    (sql / "001_a.sql").write_text("CREATE TABLE a (x BIGINT);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate_duckdb(con)
    # A new file migrates existing data instead.
    (sql / "001_a.sql").write_text("CREATE TABLE a (x INTEGER);")
    con.execute("INSERT INTO a VALUES (1)")
    (sql / "002_b.sql").write_text("ALTER TABLE a ADD COLUMN y INTEGER DEFAULT 0;")
    migrate_duckdb(con)
    assert con.execute("SELECT x, y FROM a").fetchall() == [(1, 0)]


def test_resources_really_connect(stores):
    from streampulse_assets.defs.resources import build_resources

    res = build_resources()
    with res["duckdb"].get_connection() as con:
        assert con.execute("SELECT count(*) FROM raw_snapshots").fetchone()[0] == 0
    with res["postgres"].connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM analysis_queue")
        assert cur.fetchone()[0] == 0
    client = res["redis"].client()
    assert client.ping() is True
    client.close()


def test_trivial_asset_materialises_on_postgres_instance(dagster_instance, stores):
    import dagster as dg

    @dg.asset(pool="duckdb")
    def probe(duckdb: WarehouseResource) -> dg.MaterializeResult:
        with duckdb.get_connection() as con:
            n = con.execute("SELECT count(*) FROM raw_snapshots").fetchone()[0]
        return dg.MaterializeResult(metadata={"rows": n})

    result = dg.materialize(
        [probe],
        instance=dagster_instance,
        resources={"duckdb": WarehouseResource(database=stores["duckdb"])},
    )
    assert result.success
    storage = type(dagster_instance.run_storage).__name__
    assert storage == "PostgresRunStorage"
    record = dagster_instance.get_latest_materialization_event(dg.AssetKey("probe"))
    assert record is not None
    assert dagster_instance.get_run_by_id(result.run_id) is not None
