"""Runtime settings from environment variables (prefix STREAMPULSE_), with local defaults."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from streampulse_assets.lib.services.paths import state_dir
from streampulse_assets.lib.services.secrets import secret

EMBEDDED_PG_PORT = 54329
EMBEDDED_REDIS_PORT = 6389


class Settings(BaseSettings):
    """Every knob a user may turn; see the README's environment table."""

    model_config = SettingsConfigDict(env_prefix="STREAMPULSE_", extra="ignore")

    postgres_url: str | None = Field(None, description="External Postgres; unset = embedded")
    redis_url: str | None = Field(None, description="External Redis; unset = embedded")
    duckdb_path: str | None = Field(None, description="Warehouse file")
    duckdb_memory_limit: str = Field(
        "1GB", description="DuckDB memory_limit of warehouse steps (larger work spills to disk)"
    )
    pg_port: int = EMBEDDED_PG_PORT
    redis_port: int = EMBEDDED_REDIS_PORT
    dagster_db: str = Field("dagster", description="Database for Dagster's own storage")
    sources: str = "simulator"
    simulator_seed: int = 7
    simulator_categories: int = 300
    simulator_scenario: str = Field(
        "hard", description="Simulator world: 'hard' (realistic difficulty) or 'classic' (easy)"
    )
    replay_path: str | None = Field(None, description="CSV/Parquet file for the replay source")
    landing_dir: str | None = Field(None, description="Raw API responses archive")
    bootstrap_days: int = Field(8, description="Simulator history backfilled on first dev start")
    partitions_start: str | None = Field(
        None, description="First hourly partition (ISO, UTC); unset = first start's bootstrap range"
    )
    primary_detector: Literal["V3", "LEARNED"] = Field(
        "V3",
        description="Detector whose events are queued, analysed and alerted (others in shadow)",
    )
    log_level: str = Field("INFO", description="Log level of `streampulse dev` (DEBUG for more)")

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


@cache
def get_settings() -> Settings:
    return Settings()


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}
