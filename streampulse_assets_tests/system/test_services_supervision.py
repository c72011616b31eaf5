"""`streampulse dev` keeps its embedded servers: a killed one comes back with its data, and
servers left running by a crashed `streampulse dev` are owned (and stopped) by the next one."""

import os
import signal
import time

import psycopg2
import pytest
import redis

from streampulse_assets.lib.services.manager import Services
from streampulse_assets.lib.services.paths import free_port
from streampulse_assets.lib.services.supervisor import Supervisor
from streampulse_assets.lib.settings import StoresSettings


@pytest.fixture
def services(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMPULSE_HOME", str(tmp_path / "home"))
    for name in ("STREAMPULSE_POSTGRES_URL", "STREAMPULSE_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = StoresSettings(pg_port=free_port(), redis_port=free_port())
    made = []

    def make() -> Services:  # a fresh manager, as a restarted `streampulse dev` builds one
        made.append(Services(settings))
        return made[-1]

    yield make
    make().down()


def _wait(condition, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _answers_pg(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=3).close()
    except psycopg2.OperationalError:
        return False
    return True


def _answers_redis(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=3).ping())
    except redis.RedisError:
        return False


def test_killed_servers_are_restarted_with_their_data(services):
    svc = services()
    owned, adopted = svc.up_owned()
    assert owned == ["postgres", "redis"] and adopted == []
    pg, rd = svc.postgres, svc.redis
    conn = psycopg2.connect(pg.url())
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
    conn.close()
    redis.Redis.from_url(rd.url()).set("kept", "yes")
    said: list[str] = []
    supervisor = Supervisor(svc, svc.embedded(), said.append, interval=0.5).start()
    try:
        for name, server, answers in (("postgres", pg, _answers_pg), ("redis", rd, _answers_redis)):
            old = server.pid()
            os.kill(old, signal.SIGKILL)
            new = _wait(lambda s=server, o=old: s.pid() not in (None, o) and s.pid(), what="pid")
            _wait(lambda s=server, a=answers: a(s.url()), what="the restarted server to answer")
            assert new != old
            # The new server answers as soon as it is up, a moment before the supervisor's
            # thread, back from starting it, counts and reports the restart.
            done = f"services: {name} restarted"
            _wait(lambda d=done: any(line.startswith(d) for line in said), what="the report")
        assert supervisor.restarts == {"postgres": 1, "redis": 1}
    finally:
        supervisor.stop()
    conn = psycopg2.connect(pg.url())
    with conn, conn.cursor() as cur:
        cur.execute("SELECT x FROM kept")
        assert cur.fetchall() == [(7,)]
    conn.close()
    assert redis.Redis.from_url(rd.url()).get("kept") == b"yes"
    assert any("postgres is not running" in line for line in said)
    assert any("redis restarted" in line for line in said)


def test_servers_of_a_crashed_dev_are_adopted_and_stopped(services):
    crashed = services()
    crashed.up_owned()  # ... and then the dev tree is killed: the servers stay up
    pids = {"postgres": crashed.postgres.pid(), "redis": crashed.redis.pid()}
    assert all(pids.values())

    restarted = services()
    owned, adopted = restarted.up_owned()
    assert adopted == ["postgres", "redis"] and owned == ["postgres", "redis"]
    assert restarted.postgres.pid() == pids["postgres"]  # the same servers, not new ones
    assert restarted.redis.pid() == pids["redis"]
    assert restarted.down(owned) == ["redis", "postgres"]  # what Ctrl-C then does
    restarted.release()
    assert not restarted.postgres.is_running() and not restarted.redis.is_running()


def test_servers_not_started_by_dev_are_not_adopted(services):
    standalone = services()
    assert standalone.up() == ["postgres", "redis"]  # `streampulse services up`
    dev = services()
    owned, adopted = dev.up_owned()
    assert owned == [] and adopted == []  # dev uses them and leaves them running
    # A recorded pid that no longer serves (the server was restarted by someone else) is no
    # proof of ownership either.
    dev.owner_file.write_text('{"dev_pid": 1, "postgres": 1, "redis": 1}')
    assert services().up_owned() == ([], [])
    assert dev.postgres.is_running() and dev.redis.is_running()
