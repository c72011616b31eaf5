"""The repo-root dagster.yaml's storage, in process: Postgres when the DAGSTER_PG_* variables are
set, SQLite without them, a clear error when half of them are. The Dagster CLI itself runs as
subprocesses in system/test_dagster_cli.py."""

from pathlib import Path

import pytest
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage

from streampulse_assets.instance_storage import PostgresOrSqliteStorage, env_names
from streampulse_assets.lib.services.paths import REPO_ROOT


def _storage_config() -> dict:
    import yaml

    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    return config["storage"]["custom"]["config"]


def test_storage_is_postgres_with_the_variables_and_sqlite_without(
    dagster_pg_env, tmp_path, monkeypatch
):
    config = _storage_config()
    assert set(env_names(config)) == set(dagster_pg_env)
    pg = PostgresOrSqliteStorage.from_config_value(None, config)
    assert type(pg).__name__ == "DagsterPostgresStorage"
    pg.run_storage.dispose()
    pg.event_log_storage.dispose()

    for key in dagster_pg_env:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    sqlite = PostgresOrSqliteStorage.from_config_value(None, config)
    assert isinstance(sqlite, DagsterSqliteStorage)
    assert Path(sqlite.base_dir) == tmp_path / "storage"
    sqlite.run_storage.dispose()

    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")  # half-set: a clear error, no guess
    with pytest.raises(ValueError, match="missing DAGSTER_PG_DB"):
        PostgresOrSqliteStorage.from_config_value(None, config)
