"""`streampulse dev` stops dagster's whole process tree: one interrupt, then terminate and kill."""

import sys
import time
from pathlib import Path

from streampulse_assets.cli.child_group import ChildGroup

# A stand-in for `dagster dev`: starts a grandchild (code given), writes its pid, logs every SIGINT
# it gets itself, and exits on the first one after a short "shutdown" without stopping the
# grandchild (what a second interrupt during dagster's shutdown leads to).
PARENT = """
import signal, subprocess, sys, time
from pathlib import Path
out = Path(sys.argv[1])
daemon = subprocess.Popen([sys.executable, "-c", sys.argv[2], sys.argv[1]])
(out / "daemon.pid").write_text(str(daemon.pid))
def on_int(*_):
    with open(out / "interrupts.log", "a") as log:
        log.write("SIGINT\\n")
    time.sleep(0.5)
    sys.exit(0)
signal.signal(signal.SIGINT, on_int)
(out / "ready").write_text("1")
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # exited; only its parent (init) has not reaped it yet


STUCK_DAEMON = (
    "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
)
RUN_IN_FLIGHT = (  # a run that was executing: it ends on its own shortly after dagster stops
    "import signal, sys, time; from pathlib import Path; "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(1.5); "
    "(Path(sys.argv[1]) / 'run.done').write_text('1')"
)


def _start(tmp_path, grandchild: str) -> ChildGroup:
    group = ChildGroup([sys.executable, "-c", PARENT, str(tmp_path), grandchild])
    deadline = time.monotonic() + 30
    while not (tmp_path / "ready").exists():
        assert time.monotonic() < deadline and group.proc.poll() is None
        time.sleep(0.05)
    return group


def test_stop_interrupts_once_then_kills_what_is_left(tmp_path):
    group = _start(tmp_path, STUCK_DAEMON)
    daemon = int((tmp_path / "daemon.pid").read_text())
    assert group.alive() and not _gone(daemon)
    group.interrupt()
    group.interrupt()  # e.g. SIGTERM delivered via `uv run` and to us directly
    group.stop(grace=2, term_grace=2)
    assert (tmp_path / "interrupts.log").read_text() == "SIGINT\n"  # its shutdown ran uncut
    assert group.proc.returncode == 0
    assert _gone(daemon)  # it ignored SIGINT and SIGTERM: killed


def test_a_run_still_in_flight_may_finish_within_the_grace_period(tmp_path):
    group = _start(tmp_path, RUN_IN_FLIGHT)
    group.stop(grace=30, term_grace=2)
    assert (tmp_path / "run.done").exists()  # not terminated mid-run
    assert not group.alive()


def test_stop_of_an_already_finished_child_is_harmless(tmp_path):
    group = ChildGroup([sys.executable, "-c", "pass"])
    group.proc.wait()
    group.stop(grace=10, term_grace=2)
    assert not group.alive() and group.proc.returncode == 0


def test_plain_output_relays_the_child_without_colour_codes(capfd):
    # What `streampulse dev` does when its stdout is a file or a pipe (not a terminal).
    code = (
        "import sys; print('\\x1b[32m2026-12-01 10:00:00\\x1b[0m - dagster - \\x1b[34mINFO\\x1b[0m"
        " - started'); print('\\x1b[1;31merror\\x1b[0m', file=sys.stderr);"
        "print('INFO:dagster.daemon.SensorDaemon:started'); print('WARNING:root:kept')"
    )
    group = ChildGroup([sys.executable, "-c", code], plain_output=True)
    assert group.wait(60)
    group._relay.join(60)
    out = capfd.readouterr().out
    assert "2026-12-01 10:00:00 - dagster - INFO - started\n" in out
    assert "error\n" in out and "\x1b" not in out
    assert "WARNING:root:kept\n" in out and "INFO:dagster" not in out  # no root-handler copies
