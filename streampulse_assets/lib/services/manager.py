"""Start, stop and describe the services StreamPulse needs (embedded unless a URL is configured)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg2
import redis

from streampulse_assets.lib.services.paths import state_dir
from streampulse_assets.lib.services.postgres import EmbeddedPostgres
from streampulse_assets.lib.services.redis import EmbeddedRedis
from streampulse_assets.lib.settings import Settings


@dataclass
class ServiceStatus:
    name: str
    url: str
    embedded: bool
    running: bool
    detail: str = ""


class Services:
    """Embedded Postgres and Redis under `.streampulse/`, or the external servers configured."""

    def __init__(self, settings: Settings):
        self.settings = settings
        root = state_dir()
        self.postgres = EmbeddedPostgres(root / "postgres", port=settings.pg_port)
        self.redis = EmbeddedRedis(root / "redis", port=settings.redis_port)

    @property
    def postgres_embedded(self) -> bool:
        return not self.settings.postgres_url

    @property
    def redis_embedded(self) -> bool:
        return not self.settings.redis_url

    def up(self) -> list[str]:
        """Start whatever embedded server is not running; returns the names this call started."""
        started = []
        if self.postgres_embedded and self.postgres.start():
            started.append("postgres")
        if self.redis_embedded and self.redis.start():
            started.append("redis")
        return started

    def down(self, names: list[str] | None = None) -> list[str]:
        stopped = []
        if self.redis_embedded and (names is None or "redis" in names) and self.redis.stop():
            stopped.append("redis")
        if (
            self.postgres_embedded
            and (names is None or "postgres" in names)
            and self.postgres.stop()
        ):
            stopped.append("postgres")
        return stopped

    def status(self) -> list[ServiceStatus]:
        pg_url = self.settings.resolved_postgres_url()
        redis_url = self.settings.resolved_redis_url()
        pg_ok, pg_detail = _probe_postgres(pg_url)
        redis_ok, redis_detail = _probe_redis(redis_url)
        return [
            ServiceStatus("postgres", _redact(pg_url), self.postgres_embedded, pg_ok, pg_detail),
            ServiceStatus("redis", _redact(redis_url), self.redis_embedded, redis_ok, redis_detail),
        ]

    def dagster_pg_env(self) -> dict[str, str]:
        """DAGSTER_PG_* variables read by dagster.yaml, derived from the Postgres URL."""
        parts = urlsplit(self.settings.resolved_postgres_url())
        db = self.settings.dagster_db if self.postgres_embedded else None
        return {
            # Sessions in UTC on any server (libpq reads PGTZ): see postgres.py on why Dagster's
            # run timestamps need it. An external server's own default timezone is left alone.
            "PGTZ": "UTC",
            "DAGSTER_PG_HOST": parts.hostname or "127.0.0.1",
            "DAGSTER_PG_PORT": str(parts.port or 5432),
            "DAGSTER_PG_USER": parts.username or "postgres",
            "DAGSTER_PG_PASSWORD": parts.password or "",
            "DAGSTER_PG_DB": db or parts.path.lstrip("/") or "postgres",
        }


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def _probe_postgres(url: str) -> tuple[bool, str]:
    try:
        with psycopg2.connect(url, connect_timeout=3) as conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            return True, f"PostgreSQL {cur.fetchone()[0]}"
    except psycopg2.Error as exc:
        return False, str(exc).strip().splitlines()[0]


def _probe_redis(url: str) -> tuple[bool, str]:
    try:
        info = redis.Redis.from_url(url, socket_timeout=3).info("server")
        return True, f"Redis {info['redis_version']}"
    except redis.RedisError as exc:
        return False, str(exc)
