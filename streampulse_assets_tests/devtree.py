"""A real `streampulse dev` in a subprocess for system tests: started on its own state folder and
ports, killed as a whole process tree (SIGKILL, as a crash or `kill -9` would), or stopped.

Also a loopback webhook receiver that records every request by its Idempotency-Key and can hold
one request open until the test has killed the sender.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil

from streampulse_assets.lib.services.paths import REPO_ROOT, free_port

STREAMPULSE = str(Path(sys.executable).parent / "streampulse")


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 300, every=0.5):
    """Poll until `predicate()` is truthy and return it; generous deadlines, never a sync sleep."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception as exc:  # a server restarting answers with errors meanwhile
            value, last = None, exc
        else:
            last = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last!r})")
        time.sleep(every)


def dev_env(state: Path, **extra: str) -> dict[str, str]:
    """The environment of a `streampulse dev` on its own state folder, ports and stores."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STREAMPULSE_", "DAGSTER_", "PYTEST_"))
    }
    env.update(
        STREAMPULSE_HOME=str(state),
        STREAMPULSE_PG_PORT=str(free_port()),
        STREAMPULSE_REDIS_PORT=str(free_port()),
        STREAMPULSE_SOURCES="simulator",
        STREAMPULSE_SIMULATOR_CATEGORIES="20",
        STREAMPULSE_BOOTSTRAP_DAYS="0",
        STREAMPULSE_PARTITIONS_START=datetime.now(UTC).strftime("%Y-%m-%dT00:00:00"),
    )
    env.update(extra)
    return env


class Dev:
    """One `streampulse dev` process (the root of the tree), its log in the state folder."""

    def __init__(self, env: dict[str, str], name: str) -> None:
        self.env = env
        self.log_path = Path(env["STREAMPULSE_HOME"]).parent / f"dev-{name}.log"
        self.port = free_port()
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop/kill
        self.proc = subprocess.Popen(
            [STREAMPULSE, "dev", "--port", str(self.port)],
            env=env,
            cwd=REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 300) -> None:
        def ready():
            assert self.proc.poll() is None, f"streampulse dev exited:\n{self.log()[-3000:]}"
            return "Dagster UI:" in self.log()

        wait_for(ready, "streampulse dev to start dagster", timeout)

    def kill_tree(self) -> list[int]:
        """SIGKILL the whole process tree at once: every process is first stopped (SIGSTOP, so
        none forks or reacts while the tree is collected), then all are killed."""
        frozen: dict[int, psutil.Process] = {}
        while True:
            try:
                root = psutil.Process(self.proc.pid)
                found = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            new = [p for p in found if p.pid not in frozen]
            if not new:
                break
            for p in new:
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.send_signal(signal.SIGSTOP)
                    frozen[p.pid] = p
        for p in frozen.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        for p in frozen.values():  # the orphans are reaped by init; wait until they are gone
            with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
                p.wait(timeout=60)
        self._log.close()
        return sorted(frozen)

    def stop(self, timeout: float = 400) -> int:
        """SIGTERM, as a user stopping it; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log.close()


class WebhookReceiver:
    """A loopback webhook endpoint: every POST is recorded (Idempotency-Key, body); once
    `hold_next()` was called, the next request is held open (no response) until `release()`."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        self.held = threading.Event()  # a request is being held
        self._release = threading.Event()
        self._armed = False
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                with receiver._lock:
                    receiver.requests.append((key, body))
                    hold, receiver._armed = receiver._armed, False
                if hold:
                    receiver.held.set()
                    receiver._release.wait(600)
                with contextlib.suppress(OSError):  # the sender may be dead by now
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def hold_next(self) -> None:
        with self._lock:
            self._armed = True

    def release(self) -> None:
        self._release.set()

    def keys(self) -> list[str]:
        with self._lock:
            return [k for k, _ in self.requests]

    def bodies(self, key: str) -> list[dict]:
        with self._lock:
            return [json.loads(b) for k, b in self.requests if k == key]

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
