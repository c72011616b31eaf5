"""Alerts across a process restart and a sender killed mid-delivery (subprocesses); the rest of
the alert tests are in integration/test_alerts.py."""

import json
import os
import signal
import subprocess
import sys
import time

from werkzeug import Response

from streampulse_assets.lib.alerts.delivery import deliver_alerts, idempotency_key
from streampulse_assets.lib.alerts.gate import AlertGate
from streampulse_assets.lib.alerts.sinks import IDEMPOTENCY_HEADER
from streampulse_assets.lib.services.paths import REPO_ROOT
from streampulse_assets.lib.settings import SinkSettings
from streampulse_assets.lib.settings.configs import alert_sinks
from streampulse_assets_tests.integration import test_alerts
from streampulse_assets_tests.integration.test_alerts import deliveries, insert_event

conn = test_alerts.conn  # the fixture: a connection to this test's Postgres database


def _pass_in_subprocess(pg_url, env_extra, *, wait=True):
    script = (
        "import json, psycopg2\n"
        "from streampulse_assets.lib.alerts.delivery import deliver_alerts\n"
        "from streampulse_assets.lib.settings.configs import alert_gate, alert_sinks\n"
        f"conn = psycopg2.connect({pg_url!r})\n"
        "stats = deliver_alerts(conn, alert_sinks(), alert_gate())\n"
        "print(json.dumps(stats.as_dict()))\n"
    )
    env = {**os.environ, **env_extra}
    cmd = [sys.executable, "-c", script]
    if not wait:
        return subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE)
    done = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_restart_never_sends_twice(conn, pg_url, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    insert_event(conn, category_id="a")
    insert_event(conn, category_id="b")
    env = {"STREAMPULSE_ALERT_WEBHOOK_URL": httpserver.url_for("/hook")}
    first = _pass_in_subprocess(pg_url, env)
    assert (first["enqueued"], first["sent"]) == (2, 2)
    second = _pass_in_subprocess(pg_url, env)  # a new process, same Postgres
    assert (second["enqueued"], second["sent"]) == (0, 0)
    insert_event(conn, category_id="c")  # a new event after the restart is delivered
    assert _pass_in_subprocess(pg_url, env)["sent"] == 1
    keys = [r.headers[IDEMPOTENCY_HEADER] for r, _ in httpserver.log]
    assert len(keys) == 3 == len(set(keys))


def _wait_for_no_other_backends(conn, timeout=30.0):
    deadline = time.monotonic() + timeout
    with conn.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
            if cur.fetchone()[0] == 0:
                conn.rollback()
                return
            conn.rollback()
            time.sleep(0.05)
    raise AssertionError("the killed process's Postgres session did not end")


def test_crash_between_send_and_mark_resends_at_most_once(conn, pg_url, httpserver):
    """The documented window: killed after the sink accepted, before the SENT mark committed."""
    holder = {}

    def kill_sender(request):
        holder["proc"].send_signal(signal.SIGKILL)
        holder["proc"].wait()
        return Response("ok")

    httpserver.expect_ordered_request("/hook").respond_with_handler(kill_sender)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    event_id = insert_event(conn)
    env = {"STREAMPULSE_ALERT_WEBHOOK_URL": httpserver.url_for("/hook")}
    holder["proc"] = _pass_in_subprocess(pg_url, env, wait=False)
    holder["proc"].wait(timeout=60)
    assert holder["proc"].returncode == -signal.SIGKILL
    _wait_for_no_other_backends(conn)
    [(_, _, status, attempts, _, _)] = deliveries(conn)
    assert (status, attempts) == ("SENDING", 1)  # recorded before it was sent
    with conn.cursor() as cur:
        cur.execute("SELECT idempotency_key FROM alert_deliveries")
        assert cur.fetchone()[0] == idempotency_key(event_id, "webhook")
    conn.rollback()
    # While the dead sender's lease runs nobody sends it (a slow sender is never doubled).
    assert deliver_alerts(conn, alert_sinks(SinkSettings.read(env)), AlertGate()).sent == 0
    stats = deliver_alerts(conn, alert_sinks(SinkSettings.read(env)), AlertGate(), sending_lease=0)
    assert stats.sent == 1
    assert (
        deliver_alerts(conn, alert_sinks(SinkSettings.read(env)), AlertGate(), sending_lease=0).sent
        == 0
    )
    [(_, _, status, attempts, _, _)] = deliveries(conn)
    assert (status, attempts) == ("SENT", 2)
    keys = [r.headers[IDEMPOTENCY_HEADER] for r, _ in httpserver.log]
    # At-least-once with a stable key: one re-send, with the SAME key, which a receiver that
    # honours Idempotency-Key drops (one distinct delivery end to end).
    assert keys == [idempotency_key(event_id, "webhook")] * 2
    assert len(set(keys)) == 1
