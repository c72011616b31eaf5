"""`streampulse services up|status|down` and the `dev` guard, run as real commands."""

import fcntl
import os
import subprocess
import sys

import psycopg2
import redis

from streampulse_assets.lib.services.paths import free_port


def _cli(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "streampulse_assets.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPULSE_")}
    env.update(
        STREAMPULSE_HOME=str(tmp_path / "home"),
        STREAMPULSE_PG_PORT=str(free_port()),
        STREAMPULSE_REDIS_PORT=str(free_port()),
    )
    return env


def test_services_up_status_down(tmp_path):
    env = _env(tmp_path)
    up = _cli("services", "up", env=env)
    assert up.returncode == 0, up.stderr
    try:
        home = tmp_path / "home"
        pg_password = (home / "postgres" / "password").read_text().strip()
        redis_password = (home / "redis" / "password").read_text().strip()
        pg_port, redis_port = env["STREAMPULSE_PG_PORT"], env["STREAMPULSE_REDIS_PORT"]
        # The URLs are printed with the password masked; it is only in its 0600 file.
        assert f"postgresql://postgres:***@127.0.0.1:{pg_port}/streampulse" in up.stdout
        assert f"redis://:***@127.0.0.1:{redis_port}/0" in up.stdout
        assert pg_password not in up.stdout and redis_password not in up.stdout
        pg_url = f"postgresql://postgres:{pg_password}@127.0.0.1:{pg_port}/streampulse"
        redis_url = f"redis://:{redis_password}@127.0.0.1:{redis_port}/0"
        with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
            cur.execute("SELECT current_database()")
            assert cur.fetchone()[0] == "streampulse"
        conn.close()
        assert redis.Redis.from_url(redis_url).ping()
        status = _cli("services", "status", env=env)
        assert status.returncode == 0 and "PostgreSQL" in status.stdout and "Redis" in status.stdout
        assert pg_password not in status.stdout and redis_password not in status.stdout
        assert (tmp_path / "home" / "postgres" / "data" / "PG_VERSION").exists()
    finally:
        down = _cli("services", "down", env=env)
    assert down.returncode == 0, down.stderr
    status = _cli("services", "status", env=env)
    assert status.returncode == 1  # nothing answers any more


def test_second_dev_says_clearly_that_one_is_running(tmp_path):
    env = _env(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    with open(home / "dev.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242")
        held.flush()
        second = _cli("dev", env=env)
    assert second.returncode == 1
    assert "already running (pid 4242)" in second.stderr


def test_embedded_postgres_keeps_utc_when_the_machine_is_in_korea(tmp_path, monkeypatch):
    # Dagster writes aware UTC datetimes into `timestamp` columns and reads them back as UTC; a
    # server in the machine's zone (initdb copies TZ) would put every run 9 hours in the future.
    from datetime import UTC, datetime

    from streampulse_assets.lib.services.postgres import EmbeddedPostgres

    monkeypatch.setenv("TZ", "Asia/Seoul")
    monkeypatch.delenv("PGTZ", raising=False)
    server = EmbeddedPostgres(tmp_path / "pg", port=free_port(), databases=("dagster",))
    server.start()
    try:
        conn = psycopg2.connect(server.url("dagster"))
        with conn, conn.cursor() as cur:
            cur.execute("SHOW timezone")
            assert cur.fetchone()[0] == "UTC"
            aware = datetime.now(UTC)
            cur.execute("SELECT %s::timestamp", (aware,))  # what Dagster stores
            assert abs((cur.fetchone()[0] - aware.replace(tzinfo=None)).total_seconds()) < 1
        conn.close()
        assert "timezone = 'Asia/Seoul'" in (server.data_dir / "postgresql.conf").read_text()
    finally:
        server.stop()


def test_dev_run_logs_are_info_by_default(tmp_path, monkeypatch, dagster_pg_env, capfd):
    """The instance `streampulse dev` prepares prints a run's console log at INFO (Dagster's
    default is DEBUG: a line per step event); the event log still has every event."""
    import dagster as dg

    from streampulse_assets.cli.dev import log_level, prepare_dagster_home

    monkeypatch.setenv("STREAMPULSE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("STREAMPULSE_LOG_LEVEL", raising=False)
    from streampulse_assets.lib.settings import get_settings

    get_settings.cache_clear()
    assert log_level() == "info"
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(log_level())))

    @dg.asset
    def chatty(context) -> None:
        context.log.info("visible line")
        context.log.debug("hidden line")

    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([chatty], instance=instance)
        assert result.success
        kinds = {e.event_type_value for e in result.all_events}
    logged = capfd.readouterr()
    console = logged.out + logged.err
    assert "visible line" in console and "hidden line" not in console
    assert " - DEBUG - " not in console and "STEP_SUCCESS" not in console
    assert "STEP_SUCCESS" in kinds  # the event log (UI) keeps every step event

    monkeypatch.setenv("STREAMPULSE_LOG_LEVEL", "DEBUG")
    get_settings.cache_clear()
    try:
        assert log_level() == "debug"
        text = (prepare_dagster_home(log_level()) / "dagster.yaml").read_text()
        assert "python_log_level: DEBUG" in text
    finally:
        get_settings.cache_clear()
