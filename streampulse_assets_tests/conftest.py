"""Shared fixtures: real embedded Postgres and Redis, started once per test session.

Every test that needs Postgres gets a fresh database cloned from a migrated template (fast, and
isolated); every test that needs Redis gets a flushed database. Nothing here is a fake. The
servers are session fixtures, so they start only when a collected test asks for them (`-m unit`
starts none).

Tests live in three layers, one folder each, marked by folder (`pytest -m "not system"` is the inner
loop): `unit/` (pure: no servers, no subprocesses), `integration/` (embedded Postgres/Redis, DuckDB
files, loopback HTTP, in-process Dagster) and `system/` (subprocesses: `streampulse dev`,
`dagster dev`, CLI runs, kill tests). `unit/test_layout.py` fails for a test file outside them.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

# Test data lies in 2025; partitions are fixed when the definitions load, so tests name their
# start instead of recording one in the developer's state folder.
os.environ.setdefault("STREAMPULSE_PARTITIONS_START", "2025-01-01")

from streampulse_assets.lib.schema import migrate_postgres
from streampulse_assets.lib.services.paths import REPO_ROOT, free_port
from streampulse_assets.lib.services.postgres import EmbeddedPostgres
from streampulse_assets.lib.services.redis import EmbeddedRedis

TESTS_ROOT = Path(__file__).parent
LAYERS = ("unit", "integration", "system")
TEMPLATE_DB = "sp_template"
_db_counter = itertools.count()


def layer_of(path: Path) -> str | None:
    """The layer a test file belongs to: the first folder under streampulse_assets_tests/."""
    try:
        parts = Path(path).resolve().relative_to(TESTS_ROOT.resolve()).parts
    except ValueError:
        return None
    return parts[0] if len(parts) > 1 and parts[0] in LAYERS else None


# Fixtures that start a server (directly or through another fixture): never in a unit test.
SERVER_FIXTURES = frozenset(
    {"embedded_postgres", "embedded_redis", "pg_url", "redis_url", "stores", "dagster_pg_env",
     "dagster_instance", "httpserver"}
)  # fmt: skip


def pytest_collection_modifyitems(config, items):
    misplaced = []
    for item in items:
        layer = layer_of(item.path)
        if layer is not None:
            item.add_marker(getattr(pytest.mark, layer))
        if layer == "unit" and SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            misplaced.append(item.nodeid)
    if misplaced:
        raise pytest.UsageError(
            "unit tests start no servers; move these to integration/: " + ", ".join(misplaced)
        )


@pytest.fixture(scope="session")
def services_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def embedded_postgres(services_root) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(
        services_root / "postgres", port=free_port(), databases=("dagster", TEMPLATE_DB)
    )
    server.start()
    conn = psycopg2.connect(server.url(TEMPLATE_DB))
    try:
        migrate_postgres(conn)
    finally:
        conn.close()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def embedded_redis(services_root) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(services_root / "redis", port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(embedded_postgres) -> str:
    """A fresh, migrated database on the session's embedded Postgres."""
    name = f"test_{os.getpid()}_{next(_db_counter)}"
    admin = psycopg2.connect(embedded_postgres.url("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
    admin.close()
    return embedded_postgres.url(name)


@pytest.fixture
def pg_conn(pg_url):
    """An autocommit connection to `pg_url` (as the queue's callers use it)."""
    connection = psycopg2.connect(pg_url)
    connection.autocommit = True
    yield connection
    connection.close()


@pytest.fixture
def redis_url(embedded_redis) -> str:
    """The session's embedded Redis, flushed before the test."""
    import redis

    client = redis.Redis.from_url(embedded_redis.url(0))
    client.flushall()
    client.close()
    return embedded_redis.url(0)


@pytest.fixture
def duckdb_path(tmp_path) -> str:
    return str(tmp_path / "warehouse.duckdb")


@pytest.fixture
def dagster_pg_env(embedded_postgres, monkeypatch) -> dict[str, str]:
    """DAGSTER_PG_* pointing the repo's dagster.yaml at the embedded server's `dagster` DB."""
    env = {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(embedded_postgres.port),
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": "dagster",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def dagster_instance(dagster_pg_env, tmp_path, monkeypatch):
    """A DagsterInstance built from the repo's own dagster.yaml (Postgres storage). The storage
    is the session's, shared by every test, so the runs a test creates are deleted after it (a
    failed tick left behind would make the next test's sensor compute its minutes again)."""
    import dagster as dg

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.get()
    before = {r.dagster_run.run_id for r in instance.get_run_records()}
    try:
        yield instance
        for record in instance.get_run_records():
            if record.dagster_run.run_id not in before:
                instance.delete_run(record.dagster_run.run_id)
    finally:
        instance.dispose()


@pytest.fixture
def settings_env(monkeypatch):
    """Call with STREAMPULSE_* variables for this test; the settings cache is cleared around it."""
    from streampulse_assets.lib.settings import get_settings

    def apply(**env: str) -> None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


@pytest.fixture
def stores(pg_url, redis_url, duckdb_path, monkeypatch) -> dict[str, str]:
    """Point the settings (and so every resource) at this test's stores."""
    from streampulse_assets.lib.settings import get_settings

    monkeypatch.setenv("STREAMPULSE_POSTGRES_URL", pg_url)
    monkeypatch.setenv("STREAMPULSE_REDIS_URL", redis_url)
    monkeypatch.setenv("STREAMPULSE_DUCKDB_PATH", duckdb_path)
    get_settings.cache_clear()
    yield {"postgres": pg_url, "redis": redis_url, "duckdb": duckdb_path}
    get_settings.cache_clear()
