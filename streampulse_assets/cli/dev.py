"""`streampulse dev`: embedded services + schema + `dagster dev` on port 3000, torn down on exit."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

import psycopg2
import typer
import yaml

from streampulse_assets.cli.bootstrap import launch_bootstrap_backfill
from streampulse_assets.cli.child_group import ChildGroup
from streampulse_assets.lib.schema import migrate_duckdb, migrate_postgres
from streampulse_assets.lib.services.manager import Services
from streampulse_assets.lib.services.paths import REPO_ROOT, port_is_free, state_dir
from streampulse_assets.lib.services.postgres import EmbeddedServiceError
from streampulse_assets.lib.services.supervisor import Supervisor
from streampulse_assets.lib.settings import get_settings

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def log_level() -> str:
    """STREAMPULSE_LOG_LEVEL (default INFO), lower case as `dagster dev --log-level` takes it."""
    level = get_settings().dev.log_level.strip().lower()
    if level not in LOG_LEVELS:
        raise typer.BadParameter(f"STREAMPULSE_LOG_LEVEL={level!r}: use one of {LOG_LEVELS}")
    return level


def prepare_dagster_home(level: str = "info") -> Path:
    """An absolute DAGSTER_HOME holding the repo's dagster.yaml (refreshed every start), with
    `python_logs.python_log_level` set: the console log of every run (Dagster's default is DEBUG,
    one line per step event) then shows `level` and above. The event log keeps every event."""
    home = state_dir() / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    config = yaml.safe_load((home / "dagster.yaml").read_text()) or {}
    config.setdefault("python_logs", {})["python_log_level"] = level.upper()
    text = (REPO_ROOT / "dagster.yaml").read_text()
    if "python_logs:" not in text:  # keep the copy's comments: append the one setting
        text += f"\npython_logs:\n  python_log_level: {level.upper()}\n"
    else:
        text = yaml.safe_dump(config, sort_keys=False)
    (home / "dagster.yaml").write_text(text)
    return home


def apply_schemas() -> list[str]:
    import duckdb

    settings = get_settings()
    conn = psycopg2.connect(settings.stores.resolved_postgres_url(), connect_timeout=10)
    try:
        applied = migrate_postgres(conn)
    finally:
        conn.close()
    path = settings.stores.resolved_duckdb_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        applied += migrate_duckdb(con)
    return applied


def platform_env(services: Services, level: str = "info") -> dict[str, str]:
    settings = get_settings()
    env = dict(os.environ)
    env.update(services.dagster_pg_env())
    env["DAGSTER_HOME"] = str(prepare_dagster_home(level))
    env["STREAMPULSE_POSTGRES_URL"] = settings.stores.resolved_postgres_url()
    env["STREAMPULSE_REDIS_URL"] = settings.stores.resolved_redis_url()
    env["STREAMPULSE_DUCKDB_PATH"] = str(settings.stores.resolved_duckdb_path())
    return env


def _take_lock():
    lock_path = state_dir() / "dev.lock"
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip() or "unknown"
        typer.secho(
            f"StreamPulse is already running (pid {other}) with its UI at http://localhost:3000.\n"
            "Use that one, or stop it with Ctrl-C in its terminal before starting another.",
            fg="red",
            err=True,
        )
        raise typer.Exit(1) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def dev(port: int = typer.Option(3000, help="Port of the Dagster UI.")) -> None:
    """Run the platform: embedded Postgres + Redis, schema migrations, and `dagster dev`.

    The embedded servers are supervised (restarted when they die) and owned: stopped at exit,
    also when a previous `streampulse dev` crashed and left them running. The log is INFO
    (STREAMPULSE_LOG_LEVEL=DEBUG for more), plain text when stdout is not a terminal."""
    os.umask(0o077)  # everything the platform writes (warehouse, landing, logs) is private
    level = log_level()
    lock = _take_lock()
    if not port_is_free(port):
        typer.secho(f"Port {port} is already in use; pass --port or stop that process.", fg="red")
        raise typer.Exit(1)
    services = Services(get_settings().stores)
    started: list[str] = []
    supervisor: Supervisor | None = None
    group: ChildGroup | None = None
    stop_requested = threading.Event()

    def on_stop_signal(*_) -> None:  # SIGTERM, or the terminal went away (SIGHUP)
        stop_requested.set()
        if group is not None:
            group.interrupt()

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, on_stop_signal)
    try:
        started, adopted = services.up_owned()
        if adopted:
            _say(f"services: adopted {', '.join(adopted)} left running by a stopped dev")
        _say(f"services: {', '.join(s.url for s in services.status())}")

        def on_restart(name: str) -> None:
            if name not in started:
                started.append(name)  # restarted by us: ours to stop
            services.record_owned(started)

        supervisor = Supervisor(services, services.embedded(), _say, on_restart=on_restart)
        supervisor.start()
        applied = apply_schemas()
        if applied:
            _say(f"schema: applied {', '.join(applied)}")
        env = platform_env(services, level)
        cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(REPO_ROOT / "workspace.yaml")]
        cmd += ["-p", str(port), "--log-level", level]
        if not stop_requested.is_set():
            _say(f"Dagster UI: http://localhost:{port}  (DAGSTER_HOME={env['DAGSTER_HOME']})")
            # From DAGSTER_HOME, so the repo-root dagster.yaml is not taken for the instance one.
            plain = not sys.stdout.isatty()
            group = ChildGroup(cmd, plain_output=plain, cwd=env["DAGSTER_HOME"], env=env)
            if stop_requested.is_set():  # a signal arrived while it was being started
                group.interrupt()
            else:
                _start_bootstrap(port)
            group.wait()  # Ctrl-C or a stop signal interrupts dagster once; it stops its processes
    except EmbeddedServiceError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut teardown short
        if group is not None:
            group.stop()  # what is left after dagster's own shutdown is terminated, then killed
        if supervisor is not None:
            supervisor.stop()
        if started:
            _say(f"stopping {', '.join(started)} ...")
            services.down(started)
        services.release()
        lock.close()


def _say(text: str) -> None:
    with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
        typer.echo(text)


def _start_bootstrap(port: int) -> None:
    """On the first start with the simulator, backfill its recent history (once)."""
    settings = get_settings()
    marker = state_dir() / "bootstrap.json"
    days = settings.partitions.bootstrap_days
    if days <= 0 or "simulator" not in settings.sources.names or marker.exists():
        return

    def run() -> None:
        try:
            backfill = launch_bootstrap_backfill(port, days, marker)
            typer.echo(
                f"first start: backfilling {days} days of simulated history "
                f"(backfill {backfill}, see Overview > Backfills)"
            )
        except RuntimeError as exc:
            typer.secho(str(exc), fg="yellow", err=True)

    threading.Thread(target=run, name="bootstrap-backfill", daemon=True).start()
