"""The three stores StreamPulse talks to, configured from STREAMPULSE_* environment variables.

The Postgres and Redis URLs may carry passwords: they are passed as `dg.EnvVar` when set in the
environment (the UI shows the variable's name, never its value) and their fields are marked
secret (a plain value is shown masked).
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg2
import redis
from dagster_duckdb import DuckDBResource
from pydantic import Field

from streampulse_assets.lib.schema import migrate_duckdb, migrate_postgres
from streampulse_assets.lib.settings import StoresSettings, env_name, get_settings

_migrated: set[str] = set()
SECRET = {"dagster__is_secret": True}  # Dagster's UI shows such a field's value as a mask


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse file; the schema is migrated on the first connection of a process."""

    @contextmanager
    def get_connection(self) -> Iterator:
        with super().get_connection() as con:
            key = f"duckdb:{self.database}"
            if key not in _migrated:
                migrate_duckdb(con)
                _migrated.add(key)
            yield con


class PostgresResource(dg.ConfigurableResource):
    """The operational store (work queue, alert deliveries, operator labels)."""

    url: str = Field(description="Postgres URL (secret)", json_schema_extra=SECRET)
    connect_timeout: int = 5

    @contextmanager
    def connect(self) -> Iterator[psycopg2.extensions.connection]:
        url = _value(self.url)
        conn = psycopg2.connect(url, connect_timeout=self.connect_timeout)
        try:
            key = f"pg:{url}"
            if key not in _migrated:
                migrate_postgres(conn)
                _migrated.add(key)
            yield conn
        finally:
            conn.close()


class RedisResource(dg.ConfigurableResource):
    """The analysis cache."""

    url: str = Field(description="Redis URL (secret)", json_schema_extra=SECRET)
    socket_timeout: float = 2.0

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(
            _value(self.url),
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.socket_timeout,
        )


def build_resources() -> dict[str, dg.ConfigurableResource]:
    settings = get_settings()
    return {
        "duckdb": WarehouseResource(
            database=str(settings.stores.resolved_duckdb_path()),
            connection_config={"memory_limit": settings.stores.duckdb_memory_limit},
        ),
        "postgres": PostgresResource(
            url=_from_env(settings.stores, "postgres_url", settings.stores.resolved_postgres_url())
        ),
        "redis": RedisResource(
            url=_from_env(settings.stores, "redis_url", settings.stores.resolved_redis_url())
        ),
    }


def _value(url: str) -> str:
    """The URL itself, also on a resource used directly (outside a run, Dagster has not
    resolved its EnvVar yet)."""
    return url.get_value() if isinstance(url, dg.EnvVar) else url


def _from_env(stores: StoresSettings, field: str, value: str) -> "str | dg.EnvVar":
    """`dg.EnvVar(<the field's variable>)` when the variable holds the value (always under
    `streampulse dev`), so the UI shows the variable's name, never the URL."""
    configured = getattr(stores, field) == value
    return dg.EnvVar(env_name(StoresSettings, field)) if configured else value


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
