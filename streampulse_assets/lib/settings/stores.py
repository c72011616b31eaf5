"""Stores and paths: the state folder, the warehouse, Postgres and Redis (embedded or external)."""

from __future__ import annotations

from pathlib import Path

from streampulse_assets.lib.services.paths import state_dir
from streampulse_assets.lib.services.secrets import secret
from streampulse_assets.lib.settings.base import Group, var

EMBEDDED_PG_PORT = 54329
EMBEDDED_REDIS_PORT = 6389


class StoresSettings(Group):
    """Stores and paths

    Where StreamPulse keeps its data and how it reaches its servers."""

    home: str | None = var(
        "STREAMPULSE_HOME",
        None,
        "state folder (embedded data, landing area, `DAGSTER_HOME`); made 0700, and "
        "`streampulse dev` writes with umask 077",
        shown="`.streampulse/`",
    )
    postgres_url: str | None = var(
        "STREAMPULSE_POSTGRES_URL",
        None,
        "operational store (queue, deliveries, labels); set it to use an external server. "
        "Dagster's storage needs UTC sessions: `streampulse dev` sets `PGTZ=UTC` (the embedded "
        "server runs in UTC); set it too for `dagster` commands you run yourself against a "
        "server in another zone",
        shown="embedded server",
    )
    redis_url: str | None = var(
        "STREAMPULSE_REDIS_URL", None, "analysis cache", shown="embedded server"
    )
    pg_port: int = var("STREAMPULSE_PG_PORT", EMBEDDED_PG_PORT, "port of the embedded Postgres")
    redis_port: int = var(
        "STREAMPULSE_REDIS_PORT", EMBEDDED_REDIS_PORT, "port of the embedded Redis"
    )
    pg_system_home: str = var(
        "STREAMPULSE_PG_SYSTEM_HOME",
        "/var/lib/streampulse-postgres",
        "as root: the folder owned by the `embedded_postgres` account that holds the embedded "
        "server's data (`<folder>/<id>/`)",
    )
    dagster_db: str = var(
        "STREAMPULSE_DAGSTER_DB",
        "dagster",
        "database for Dagster's own storage on the embedded server",
    )
    duckdb_path: str | None = var(
        "STREAMPULSE_DUCKDB_PATH",
        None,
        "the warehouse file (single writer)",
        shown="`.streampulse/warehouse.duckdb`",
    )
    duckdb_memory_limit: str = var(
        "STREAMPULSE_DUCKDB_MEMORY_LIMIT",
        "1GB",
        "DuckDB `memory_limit` of every warehouse step and of the scratch databases of "
        "`streampulse detect`/`evaluate`; larger joins and sorts spill to disk",
    )
    landing_dir: str | None = var(
        "STREAMPULSE_LANDING_DIR",
        None,
        "archive of raw API responses",
        shown="`.streampulse/landing`",
    )
    sql_dir: str | None = var(
        "STREAMPULSE_SQL_DIR", None, "migrations folder (tests only)", shown="`sql/`"
    )

    def resolved_duckdb_path(self) -> Path:
        return Path(self.duckdb_path or state_dir() / "warehouse.duckdb").resolve()

    def resolved_landing_dir(self) -> Path:
        return Path(self.landing_dir or state_dir() / "landing").resolve()

    def resolved_postgres_url(self) -> str:
        if self.postgres_url:
            return self.postgres_url
        password = secret(state_dir() / "postgres" / "password")  # the embedded server's
        return f"postgresql://postgres:{password}@127.0.0.1:{self.pg_port}/streampulse"

    def resolved_redis_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        password = secret(state_dir() / "redis" / "password")  # the embedded server's
        return f"redis://:{password}@127.0.0.1:{self.redis_port}/0"


class DevSettings(Group):
    """`streampulse dev`"""

    log_level: str = var(
        "STREAMPULSE_LOG_LEVEL",
        "INFO",
        "`streampulse dev`'s log (Dagster services and the console log of every run; the UI's "
        "event log keeps every event); `DEBUG` for a line per step. Plain text, without colour "
        "codes, when stdout is not a terminal",
    )
