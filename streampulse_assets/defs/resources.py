"""The three stores StreamPulse talks to, configured from STREAMPULSE_* environment variables."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg2
import redis
from dagster_duckdb import DuckDBResource

from streampulse_assets.lib.schema import migrate_duckdb, migrate_postgres
from streampulse_assets.lib.settings import get_settings

_migrated: set[str] = set()


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

    url: str
    connect_timeout: int = 5

    @contextmanager
    def connect(self) -> Iterator[psycopg2.extensions.connection]:
        conn = psycopg2.connect(self.url, connect_timeout=self.connect_timeout)
        try:
            key = f"pg:{self.url}"
            if key not in _migrated:
                migrate_postgres(conn)
                _migrated.add(key)
            yield conn
        finally:
            conn.close()


class RedisResource(dg.ConfigurableResource):
    """The analysis cache."""

    url: str
    socket_timeout: float = 2.0

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.url, socket_timeout=self.socket_timeout, socket_connect_timeout=self.socket_timeout
        )


def build_resources() -> dict[str, dg.ConfigurableResource]:
    settings = get_settings()
    return {
        "duckdb": WarehouseResource(
            database=str(settings.resolved_duckdb_path()),
            connection_config={"memory_limit": settings.duckdb_memory_limit},
        ),
        "postgres": PostgresResource(url=settings.resolved_postgres_url()),
        "redis": RedisResource(url=settings.resolved_redis_url()),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
