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
