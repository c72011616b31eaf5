"""Dagster instance storage named in dagster.yaml: Postgres when its DAGSTER_PG_* variables are set.

`streampulse dev` (and the test fixtures) set DAGSTER_PG_* to the platform's Postgres, and get
Dagster's Postgres storage exactly as `storage: postgres:` would configure it. Without them (the
Dagster CLI run from the repo root: `dg list defs`, `dg check defs`, `dagster definitions
validate`), the instance falls back to SQLite files instead of failing on a missing variable, so
loading definitions never needs a running Postgres. A half-set environment is an error that names
the missing variables. The SQLite fallback lives in `$DAGSTER_HOME/storage`, or in
`.streampulse/dagster_cli/storage` when DAGSTER_HOME is unset (a fixed place, so the processes
of one `dagster dev` share it); it is never the `streampulse dev` instance.
"""

import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from dagster._config import process_config, resolve_to_config_type
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClass, ConfigurableClassData
from dagster_postgres.storage import DagsterPostgresStorage

from streampulse_assets.lib.services.paths import state_dir

log = logging.getLogger("dagster")


def env_names(config) -> Iterator[str]:
    """Every `{env: NAME}` referenced in a config tree."""
    if isinstance(config, dict):
        if set(config) == {"env"} and isinstance(config["env"], str):
            yield config["env"]
            return
        for value in config.values():
            yield from env_names(value)
    elif isinstance(config, list):
        for value in config:
            yield from env_names(value)


def sqlite_base_dir() -> Path:
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) / "storage" if home else state_dir() / "dagster_cli" / "storage"


class PostgresOrSqliteStorage(DagsterStorage, ConfigurableClass):
    """Factory only: `from_config_value` returns a Postgres or a SQLite storage."""

    @classmethod
    def config_type(cls):
        from dagster import Permissive

        return Permissive()  # the Postgres storage's own schema, resolved in from_config_value

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: dict
    ) -> DagsterStorage:
        names = sorted(set(env_names(config_value)))
        missing = [name for name in names if os.environ.get(name) is None]
        if not missing:
            schema = resolve_to_config_type(DagsterPostgresStorage.config_type())
            result = process_config(schema, config_value)
            if not result.success:
                errors = "; ".join(e.message for e in result.errors)
                raise ValueError(f"dagster.yaml Postgres storage: {errors}")
            return DagsterPostgresStorage.from_config_value(inst_data, result.value)
        if len(missing) < len(names):
            raise ValueError(
                "dagster.yaml Postgres storage: set all or none of "
                f"{', '.join(names)}; missing {', '.join(missing)}"
            )
        base_dir = sqlite_base_dir()
        log.info(
            "%s not set: Dagster storage is SQLite in %s (not the streampulse dev instance)",
            "/".join(names),
            base_dir,
        )
        base_dir.mkdir(parents=True, exist_ok=True)
        # Two CLI commands started at once would both create the schema (alembic_version clash).
        with open(base_dir / ".create.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return DagsterSqliteStorage.from_local(str(base_dir), inst_data=inst_data)
