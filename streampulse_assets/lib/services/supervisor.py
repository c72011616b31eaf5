"""Keeps the embedded servers of `streampulse dev` running: a dead one is restarted in place.

Every `interval` seconds each supervised server's pid file is checked against a live process
serving it (no connection, no fork). A server that died (kill -9, OOM) is started again on the
same data folder and port; a start that fails (a killed postmaster's backends still hold its
shared memory for a moment) is retried at the next check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from streampulse_assets.lib.services.manager import Services
from streampulse_assets.lib.services.postgres import EmbeddedServiceError


class Supervisor:
    def __init__(
        self,
        services: Services,
        names: list[str],
        say: Callable[[str], None],
        interval: float = 2.0,
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        self.services, self.names, self.say = services, list(names), say
        self.interval, self.on_restart = interval, on_restart
        self.restarts: dict[str, int] = dict.fromkeys(self.names, 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_once(self) -> list[str]:
        """Restart every supervised server that is not running; returns the names restarted."""
        restarted = []
        for name in self.names:
            server = self.services.server(name)
            if self._stop.is_set() or server.pid() is not None:
                continue
            self.say(f"services: {name} is not running (died?); restarting it, port {server.port}")
            try:
                server.start()
            except (EmbeddedServiceError, OSError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.say(f"services: {name} did not start yet ({first}); retrying")
                continue
            self.restarts[name] += 1
            restarted.append(name)
            self.say(f"services: {name} restarted (pid {server.pid()})")
            if self.on_restart is not None:
                self.on_restart(name)
        return restarted

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_once()
            except Exception as exc:  # the supervisor outlives any surprise
                self.say(f"services: supervisor check failed: {exc!r}")

    def start(self) -> Supervisor:
        self._thread = threading.Thread(target=self._loop, name="services-supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 120) -> None:
        """Stop supervising (waits for a restart in progress, so none races the teardown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
