"""Idempotent, versioned schema migrations from `sql/duckdb/` and `sql/postgres/`.

Files are named `NNN_description.sql` and applied in numeric order, each once, recorded in a
`schema_migrations` table with a checksum. An applied file that later changes is an error: a schema
change is a new file, so existing data is migrated, never dropped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from streampulse_assets.lib.duck import transaction
from streampulse_assets.lib.services.paths import REPO_ROOT
from streampulse_assets.lib.settings import StoresSettings

_NAME = re.compile(r"^(\d{3})_[\w-]+\.sql$")
PG_MIGRATION_LOCK = 7_314_159  # advisory lock so concurrent starters apply migrations once


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def sql_dir() -> Path:
    return Path(StoresSettings.read().sql_dir or REPO_ROOT / "sql")


def load_migrations(engine: str) -> list[Migration]:
    folder = sql_dir() / engine
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise MigrationError(f"duplicate migration numbers in {folder}: {versions}")
    return found


def _check_applied(applied: dict[int, tuple[str, str]], migrations: list[Migration]) -> None:
    for m in migrations:
        if m.version in applied and applied[m.version][1] != m.checksum:
            raise MigrationError(
                f"{m.name} changed after it was applied (checksum {applied[m.version][1]} -> "
                f"{m.checksum}); add a new migration file instead of editing an applied one"
            )


def migrate_duckdb(con) -> list[str]:
    """Apply pending warehouse migrations on a DuckDB connection; returns the names applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "name VARCHAR, checksum VARCHAR, applied_at TIMESTAMP DEFAULT current_timestamp)"
    )
    rows = con.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    applied = {v: (n, c) for v, n, c in rows}
    migrations = load_migrations("duckdb")
    _check_applied(applied, migrations)
    done = []
    for m in migrations:
        if m.version in applied:
            continue
        try:
            with transaction(con):
                con.execute(m.sql)
                con.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                    [m.version, m.name, m.checksum],
                )
        except Exception as exc:
            raise MigrationError(f"{m.name} failed: {exc}") from exc
        done.append(m.name)
    return done


def migrate_postgres(conn) -> list[str]:
    """Apply pending operational-store migrations on a psycopg2 connection."""
    migrations = load_migrations("postgres")
    done = []
    # One transaction, serialised across processes by an advisory lock.
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (PG_MIGRATION_LOCK,))
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ DEFAULT now())"
        )
        cur.execute("SELECT version, name, checksum FROM schema_migrations")
        applied = {v: (n, c) for v, n, c in cur.fetchall()}
        _check_applied(applied, migrations)
        for m in migrations:
            if m.version in applied:
                continue
            try:
                cur.execute(m.sql)
            except Exception as exc:
                raise MigrationError(f"{m.name} failed: {exc}") from exc
            cur.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (m.version, m.name, m.checksum),
            )
            done.append(m.name)
    return done
