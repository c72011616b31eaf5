"""Start, stop and describe the services StreamPulse needs (embedded unless a URL is configured)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psycopg2
import redis

from streampulse_assets.lib.services.paths import state_dir
from streampulse_assets.lib.services.postgres import EmbeddedPostgres
from streampulse_assets.lib.services.redis import EmbeddedRedis
from streampulse_assets.lib.services.secrets import mask_text, mask_url, write_private
from streampulse_assets.lib.settings import StoresSettings


@dataclass
class ServiceStatus:
    name: str
    url: str
    embedded: bool
    running: bool
    detail: str = ""


class Services:
    """Embedded Postgres and Redis under `.streampulse/`, or the external servers configured."""

    def __init__(self, settings: StoresSettings):
        self.settings = settings
        root = state_dir()
        self.owner_file = root / "services.owner.json"
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

    def server(self, name: str) -> EmbeddedPostgres | EmbeddedRedis:
        return {"postgres": self.postgres, "redis": self.redis}[name]

    def embedded(self) -> list[str]:
        flags = {"postgres": self.postgres_embedded, "redis": self.redis_embedded}
        return [name for name, embedded in flags.items() if embedded]

    def up_owned(self) -> tuple[list[str], list[str]]:
        """Start the embedded servers for `streampulse dev` and own them: the ones this call
        starts, and the ones a previous `streampulse dev` started and left running when it died
        (recorded in services.owner.json with their pids; adopted only while the same pid still
        serves). Returns (owned, adopted). Only one `streampulse dev` runs at a time (dev.lock),
        so a recorded owner is always gone. Servers started by `streampulse services up` are
        used, not owned: they stay up when `streampulse dev` stops."""
        recorded = self._recorded()
        adopted = [
            name for name in self.embedded()
            if recorded.get(name) is not None and recorded[name] == self.server(name).pid()
        ]  # fmt: skip
        started = self.up()
        owned = [name for name in self.embedded() if name in started or name in adopted]
        self.record_owned(owned)
        return owned, adopted

    def record_owned(self, names: list[str]) -> None:
        """Write which servers the running `streampulse dev` owns, with their current pids."""
        write_private(
            self.owner_file,
            json.dumps({"dev_pid": os.getpid(), **{n: self.server(n).pid() for n in names}}),
        )

    def _recorded(self) -> dict:
        try:
            return json.loads(self.owner_file.read_text())
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        self.owner_file.unlink(missing_ok=True)

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
        pg, rd = mask_url(pg_url), mask_url(redis_url)
        return [
            ServiceStatus("postgres", pg, self.postgres_embedded, pg_ok, pg_detail),
            ServiceStatus("redis", rd, self.redis_embedded, redis_ok, redis_detail),
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
            "DAGSTER_PG_USER": unquote(parts.username or "postgres"),
            "DAGSTER_PG_PASSWORD": unquote(parts.password or ""),
            "DAGSTER_PG_DB": db or parts.path.lstrip("/") or "postgres",
        }


def _probe_postgres(url: str) -> tuple[bool, str]:
    try:
        with psycopg2.connect(url, connect_timeout=3) as conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            return True, f"PostgreSQL {cur.fetchone()[0]}"
    except psycopg2.Error as exc:
        return False, mask_text(str(exc).strip().splitlines()[0], url)


def _probe_redis(url: str) -> tuple[bool, str]:
    try:
        info = redis.Redis.from_url(url, socket_timeout=3).info("server")
        return True, f"Redis {info['redis_version']}"
    except redis.RedisError as exc:
        return False, mask_text(str(exc), url)
