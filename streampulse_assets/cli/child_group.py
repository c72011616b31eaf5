"""A child process run in its own process group, stopped as a whole.

`dagster dev` shuts its webserver, daemon and code servers down when interrupted once; a second
interrupt during that shutdown cuts it short and orphans the daemon (seen when a SIGTERM reached
both `uv run` and `streampulse`). So the child is interrupted exactly once, given time to stop,
and whatever is left of its group is then terminated and killed.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ANSI_ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]")
# Dagster's database retry calls `logging.warning` on the unconfigured root logger, which installs
# Python's default handler: from then on every `dagster.*` record is printed a second time as
# `INFO:dagster.daemon...:message`. The relay drops those copies.
ROOT_HANDLER_COPY = re.compile(rb"^(DEBUG|INFO|WARNING|ERROR|CRITICAL):dagster[\w.\-]*:")


def strip_ansi(line: bytes) -> bytes:
    """`line` without terminal colour and cursor codes."""
    return ANSI_ESCAPE.sub(b"", line)


class ChildGroup:
    def __init__(self, cmd: list[str], plain_output: bool = False, **popen_kwargs) -> None:
        """`plain_output`: the child's stdout and stderr are relayed to our stdout with colour
        codes removed (for logs written to a file or a pipe)."""
        if plain_output:
            popen_kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # A shell that started us in the background ignores SIGINT; give the child its default
        # back so that our one interrupt always reaches it.
        self.proc = subprocess.Popen(
            cmd,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            **popen_kwargs,
        )
        self.pgid = self.proc.pid
        self.interrupted = False
        self._relay: threading.Thread | None = None
        if plain_output:
            self._relay = threading.Thread(target=self._copy_plain, name="output", daemon=True)
            self._relay.start()

    def _copy_plain(self) -> None:
        """Copy the child's output line by line; keeps reading (and dropping) when our stdout is
        gone, so the child never blocks on a full pipe."""
        out = sys.stdout.buffer
        for line in iter(self.proc.stdout.readline, b""):
            line = strip_ansi(line)
            if ROOT_HANDLER_COPY.match(line):
                continue
            with contextlib.suppress(OSError, ValueError):
                out.write(line)
                out.flush()

    def interrupt(self) -> None:
        """Ask the child to stop (SIGINT), once; later calls do nothing."""
        if self.interrupted:
            return
        self.interrupted = True  # before sending: a signal handler may call this again meanwhile
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the child to exit (True) or `timeout` (False); Ctrl-C here interrupts it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                self.proc.wait(timeout=left)
                return True
            except KeyboardInterrupt:
                self.interrupt()
            except subprocess.TimeoutExpired:
                return False

    def stop(self, grace: float = 130.0, term_grace: float = 5.0) -> None:
        """Interrupt, give the group up to `grace` to exit (runs still in flight finish), then
        SIGTERM and finally SIGKILL what is left. The default outlasts `dagster dev`'s own
        shutdown, which waits up to 60 s for its webserver and then 60 s for its daemon."""
        self.interrupt()
        deadline = time.monotonic() + grace
        self.wait(grace)
        self._wait_empty(deadline)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self.alive():
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, sig)
            self._wait_empty(time.monotonic() + term_grace)

    def _wait_empty(self, deadline: float) -> None:
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.1)

    def alive(self) -> bool:
        """Whether any process of the child's group is still running (zombies do not count)."""
        self.proc.poll()  # reap the child itself
        proc = Path("/proc")
        if not proc.is_dir():  # not Linux: ask the kernel whether the group has any member
            try:
                os.killpg(self.pgid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass
            return True
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
            if int(pgrp) == self.pgid and state != "Z":
                return True
        return False
