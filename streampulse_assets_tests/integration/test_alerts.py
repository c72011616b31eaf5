"""Alerts: sinks on real loopback HTTP servers, the gate, once-only delivery in Postgres."""

import json
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from psycopg2.extras import Json
from werkzeug import Response

from streampulse_assets.lib.alerts.delivery import (
    count_deliverable,
    deliver_alerts,
    enqueue_deliveries,
    idempotency_key,
)
from streampulse_assets.lib.alerts.gate import AlertGate
from streampulse_assets.lib.alerts.message import build_message
from streampulse_assets.lib.alerts.sinks import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    SlackSink,
    TelegramSink,
    WebhookSink,
    sign,
    verify_signature,
)
from streampulse_assets.lib.settings import GateSettings, SinkSettings
from streampulse_assets.lib.settings.configs import alert_gate, alert_sinks

CATEGORY = "리그 오브 레전드"
STREAMER = "페이커"


def insert_event(
    conn,
    *,
    category_id="c1",
    minutes_ago=5,
    detector="V3",
    level="SPIKE",
    cause="PERSON_ISSUE",
    status="DONE",
    verdict="CONFIRMED",
    delta=5000.0,
    created_minutes_ago=0,
    series=None,
):
    ts = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    evidence = {
        "category_name": CATEGORY,
        "current": 15000,
        "baseline_short": 9800.0,
        "baseline_season": 10000.0,
        "delta": delta,
        "top_streamers": [
            {
                "channel_id": "ch1",
                "channel_name": STREAMER,
                "title": "솔랭 <1위>",
                "viewers": 8000,
                "viewers_before": 1000,
            }
        ],
    }
    if series is not None:
        evidence["series"] = series
    result = None
    if status == "DONE":
        result = {
            "verdict": verdict,
            "summary": "페이커 복귀 방송으로 시청자 급증",
            "confidence": 0.9,
        }
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO analysis_queue (detector, platform, category_id, category_name, ts, "
            "level, cause, evidence, analysis_status, result, created_at) VALUES (%s, 'chzzk', "
            "%s, %s, %s, %s, %s, %s, %s, %s, now() - make_interval(mins => %s)) RETURNING id",
            (
                detector,
                category_id,
                CATEGORY,
                ts,
                level,
                cause,
                Json(evidence),
                status,
                Json(result) if result else None,
                created_minutes_ago,
            ),
        )
        event_id = cur.fetchone()[0]
    conn.commit()
    return event_id


@pytest.fixture
def conn(pg_url):
    connection = psycopg2.connect(pg_url)
    yield connection
    connection.close()


def deliveries(conn):
    with conn.cursor() as cur:
        cur.execute(
            "SELECT event_id, sink, status, attempts, last_error, sent_at IS NOT NULL "
            "FROM alert_deliveries ORDER BY id"
        )
        rows = cur.fetchall()
    conn.rollback()
    return rows


def test_telegram_send_message_shape(conn, httpserver):
    httpserver.expect_request("/botT0KEN/sendMessage", method="POST").respond_with_json(
        {"ok": True, "result": {"message_id": 1}}
    )
    event_id = insert_event(conn)
    sink = TelegramSink("T0KEN", "-100123", base_url=httpserver.url_for("/"))
    stats = deliver_alerts(conn, [sink], AlertGate())
    assert (stats.enqueued, stats.sent, stats.failed) == (1, 1, 0)
    [(request, _)] = httpserver.log
    body = json.loads(request.data.decode("utf-8"))
    assert body["chat_id"] == "-100123"
    text = body["text"]
    for expected in (
        CATEGORY,
        STREAMER,
        "CHZZK",
        "15,000",
        "10,000",
        "+5,000",
        "CONFIRMED",
        "페이커 복귀 방송으로 시청자 급증",
        f"#{event_id}",
    ):
        assert expected in text
    assert deliveries(conn) == [(event_id, "telegram", "SENT", 1, None, True)]


def test_telegram_not_ok_and_token_redacted(conn, httpserver):
    httpserver.expect_request("/botSECRET/sendMessage").respond_with_json(
        {"ok": False, "description": "chat not found"}, status=400
    )
    insert_event(conn)
    sink = TelegramSink("SECRET", "1", base_url=httpserver.url_for("/"))
    stats = deliver_alerts(conn, [sink], AlertGate())
    assert (stats.sent, stats.failed, stats.retried) == (0, 1, 0)  # 400 is permanent
    [(_, _, status, attempts, error, _)] = deliveries(conn)
    assert (status, attempts) == ("FAILED", 1) and "chat not found" in error


def test_slack_webhook(conn, httpserver):
    httpserver.expect_request("/services/T/B/X", method="POST").respond_with_data("ok")
    insert_event(conn)
    stats = deliver_alerts(conn, [SlackSink(httpserver.url_for("/services/T/B/X"))], AlertGate())
    assert stats.sent == 1
    [(request, _)] = httpserver.log
    text = request.get_json()["text"]
    assert CATEGORY in text and "솔랭 &lt;1위&gt;" in text  # Slack control characters escaped


def test_generic_webhook_with_signature(conn, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=204)
    event_id = insert_event(conn)
    sink = WebhookSink(httpserver.url_for("/hook"), secret="s3cret")
    assert deliver_alerts(conn, [sink], AlertGate()).sent == 1
    [(request, _)] = httpserver.log
    header = request.headers[SIGNATURE_HEADER]
    t = int(header.split(",")[0].removeprefix("t="))
    assert header == sign("s3cret", request.data, timestamp=t)
    assert verify_signature("s3cret", header, request.data)
    assert not verify_signature("other", header, request.data)
    assert not verify_signature("s3cret", header, request.data + b" ")  # body tampered
    assert request.headers[IDEMPOTENCY_HEADER] == idempotency_key(event_id, "webhook")
    body = json.loads(request.data)
    assert body["event_id"] == event_id and body["category_name"] == CATEGORY
    assert body["top_streamer"] == STREAMER and body["verdict"] == "CONFIRMED"
    assert (body["current"], body["baseline"], body["delta"]) == (15000, 10000, 5000)


def test_500_then_success_across_two_passes(conn, httpserver):
    httpserver.expect_ordered_request("/hook").respond_with_data("boom", status=500)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    event_id = insert_event(conn)
    sink = WebhookSink(httpserver.url_for("/hook"))
    first = deliver_alerts(conn, [sink], AlertGate(), backoff_seconds=0)
    assert (first.sent, first.retried, first.failed) == (0, 1, 0)  # not retried within a pass
    assert "HTTP 500" in first.errors[0]
    second = deliver_alerts(conn, [sink], AlertGate(), backoff_seconds=0)
    assert (second.enqueued, second.sent, second.sent_after_retry) == (0, 1, 1)
    third = deliver_alerts(conn, [sink], AlertGate(), backoff_seconds=0)
    assert (third.enqueued, third.sent, third.retried) == (0, 0, 0)
    assert len(httpserver.log) == 2
    [(eid, _, status, attempts, error, sent)] = deliveries(conn)
    assert (eid, status, attempts, sent) == (event_id, "SENT", 2, True) and "500" in error


def test_backoff_defers_the_retry(conn, httpserver):
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    insert_event(conn)
    sink = WebhookSink(httpserver.url_for("/hook"))
    assert deliver_alerts(conn, [sink], AlertGate(), backoff_seconds=3600).retried == 1
    again = deliver_alerts(conn, [sink], AlertGate(), backoff_seconds=3600)
    assert (again.sent, again.retried) == (0, 0)
    assert len(httpserver.log) == 1
    assert count_deliverable(conn, ["webhook"], AlertGate()) == 0  # nothing due: sensor skips
    with conn.cursor() as cur:
        cur.execute("SELECT next_attempt_at - now() > interval '50 minutes' FROM alert_deliveries")
        assert cur.fetchone()[0] is True


def test_retry_after_from_telegram_429_is_honoured(conn, httpserver):
    httpserver.expect_request("/botT/sendMessage").respond_with_json(
        {"ok": False, "error_code": 429, "parameters": {"retry_after": 7200}}, status=429
    )
    insert_event(conn)
    sink = TelegramSink("T", "1", base_url=httpserver.url_for("/"))
    assert deliver_alerts(conn, [sink], AlertGate(), backoff_seconds=0).retried == 1
    with conn.cursor() as cur:
        cur.execute("SELECT next_attempt_at - now() > interval '110 minutes' FROM alert_deliveries")
        assert cur.fetchone()[0] is True


def test_attempts_are_bounded(conn, httpserver):
    httpserver.expect_request("/hook").respond_with_data("boom", status=500)
    insert_event(conn)
    sink = WebhookSink(httpserver.url_for("/hook"))
    kwargs = {"max_attempts": 2, "backoff_seconds": 0}
    assert deliver_alerts(conn, [sink], AlertGate(), **kwargs).retried == 1
    assert deliver_alerts(conn, [sink], AlertGate(), **kwargs).failed == 1
    assert deliver_alerts(conn, [sink], AlertGate(), **kwargs).failed == 0
    assert len(httpserver.log) == 2
    assert deliveries(conn)[0][2:4] == ("FAILED", 2)


def test_unreachable_sink_is_retried_and_other_sinks_still_deliver(conn, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    insert_event(conn)
    dead = SlackSink("http://127.0.0.1:9/nothing-listens-here")
    stats = deliver_alerts(conn, [dead, WebhookSink(httpserver.url_for("/hook"))], AlertGate())
    assert (stats.enqueued, stats.sent, stats.retried) == (2, 1, 1)
    assert {(r[1], r[2]) for r in deliveries(conn)} == {("slack", "PENDING"), ("webhook", "SENT")}


def test_a_sender_that_dies_on_every_attempt_ends_failed(conn, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    insert_event(conn)
    sink = WebhookSink(httpserver.url_for("/hook"))
    assert enqueue_deliveries(conn, [sink], AlertGate()) == 1
    with conn.cursor() as cur:  # as left by senders killed mid-send on all 5 attempts
        cur.execute("UPDATE alert_deliveries SET status = 'SENDING', attempts = 5, "
                    "sending_at = now() - interval '1 hour'")  # fmt: skip
    conn.commit()
    stats = deliver_alerts(conn, [sink], AlertGate(), max_attempts=5)
    assert (stats.sent, stats.failed) == (0, 1) and not httpserver.log
    [(_, _, status, _, error, _)] = deliveries(conn)
    assert status == "FAILED" and "mid-send" in error


def test_concurrent_passes_never_share_a_row(conn, pg_url, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    insert_event(conn, category_id="a")
    insert_event(conn, category_id="b")
    sink = WebhookSink(httpserver.url_for("/hook"))
    assert enqueue_deliveries(conn, [sink], AlertGate()) == 2
    holder = psycopg2.connect(pg_url)  # another worker mid-send on the first row
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT id FROM alert_deliveries ORDER BY id LIMIT 1 FOR UPDATE")
        assert deliver_alerts(conn, [sink], AlertGate()).sent == 1
    finally:
        holder.rollback()
        holder.close()
    assert deliver_alerts(conn, [sink], AlertGate()).sent == 1
    assert deliver_alerts(conn, [sink], AlertGate()).sent == 0
    assert len(httpserver.log) == 2


def test_gate_modes(conn):
    confirmed = insert_event(conn, category_id="confirmed")
    no_event = insert_event(conn, category_id="no_event", verdict="NO_EVENT")
    adoption = insert_event(conn, category_id="adopt", cause="CATEGORY_ADOPTION", status="SKIPPED")
    small = insert_event(conn, category_id="small", delta=200.0, status="FAILED")
    insert_event(conn, category_id="candidate", level="CANDIDATE")
    insert_event(conn, category_id="v1", detector="V1")
    insert_event(conn, category_id="old", minutes_ago=60 * 30)
    insert_event(conn, category_id="waiting", status="PENDING")
    stuck = insert_event(conn, category_id="stuck", status="IN_PROGRESS", created_minutes_ago=30)
    sink = WebhookSink("http://127.0.0.1:9/never-called")

    def eligible(gate):
        with conn.cursor() as cur:
            cur.execute("DELETE FROM alert_deliveries")
        conn.commit()
        enqueue_deliveries(conn, [sink], gate)
        return {row[0] for row in deliveries(conn)}

    assert eligible(AlertGate()) == {confirmed}
    assert eligible(AlertGate("delta", min_delta=1000)) == {confirmed, no_event, adoption, stuck}
    assert eligible(AlertGate("delta")) == {confirmed, no_event, adoption, small, stuck}
    assert eligible(AlertGate(max_age_hours=48)) == {confirmed, *[r[0] for r in _ids(conn, "old")]}
    assert count_deliverable(conn, ["webhook"], AlertGate()) == 2  # two rows due
    with conn.cursor() as cur:
        cur.execute("UPDATE alert_deliveries SET status = 'SENT'")
    conn.commit()
    assert count_deliverable(conn, ["webhook"], AlertGate()) == 0  # recorded and sent
    assert count_deliverable(conn, ["webhook", "slack"], AlertGate()) == 1  # slack never had it
    assert count_deliverable(conn, [], AlertGate()) == 0


def _ids(conn, category_id):
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM analysis_queue WHERE category_id = %s", (category_id,))
        return cur.fetchall()


def test_gate_and_sinks_from_settings():
    assert alert_gate(GateSettings.read({})) == AlertGate()
    gate = alert_gate(
        GateSettings.read({"STREAMPULSE_ALERT_GATE": "Delta", "STREAMPULSE_ALERT_MIN_DELTA": "500"})
    )
    assert (gate.mode, gate.min_delta) == ("delta", 500.0)
    with pytest.raises(ValueError, match="gate mode"):
        alert_gate(GateSettings.read({"STREAMPULSE_ALERT_GATE": "everything"}))
    with pytest.raises(ValueError, match="MIN_DELTA"):
        alert_gate(GateSettings.read({"STREAMPULSE_ALERT_MIN_DELTA": "lots"}))
    assert alert_sinks(SinkSettings.read({})) == []
    assert alert_sinks(SinkSettings.read({"STREAMPULSE_TELEGRAM_BOT_TOKEN": "t"})) == []  # no chat
    sinks = alert_sinks(
        SinkSettings.read(
            {
                "STREAMPULSE_TELEGRAM_BOT_TOKEN": "t",
                "STREAMPULSE_TELEGRAM_CHAT_ID": "9",
                "STREAMPULSE_SLACK_WEBHOOK_URL": "http://s",
                "STREAMPULSE_ALERT_WEBHOOK_URL": "http://w",
                "STREAMPULSE_ALERT_WEBHOOK_SECRET": "k",
            }
        )
    )
    assert [s.name for s in sinks] == ["telegram", "slack", "webhook"]
    assert sinks[0].base_url == "https://api.telegram.org" and sinks[2].secret == "k"


def test_no_sinks_means_nothing_recorded(conn):
    insert_event(conn)
    assert deliver_alerts(conn, [], AlertGate()).as_dict()["sent"] == 0
    assert deliveries(conn) == []


def test_message_tolerates_sparse_events():
    message = build_message(
        {
            "id": 3,
            "platform": "soop",
            "category_id": "x",
            "ts": "2025-01-01",
            "evidence": {},
            "result": None,
            "analysis_status": "SKIPPED",
        }
    )
    assert "SOOP · x" in message.text and "not analysed (SKIPPED)" in message.text
    long = build_message(
        {
            "id": 1,
            "platform": "chzzk",
            "category_id": "x",
            "ts": "t",
            "evidence": {"current": 10, "baseline_season": 5, "delta": 0},
            "result": {"verdict": "CONFIRMED", "summary": "가" * 10_000},
        }
    )
    assert len(long.text) <= 1024 and "+0" in long.text  # fits a Telegram photo caption
    assert long.text.endswith("event #1") and "…" in long.text  # the explanation is cut


SINK_ENV = [
    "STREAMPULSE_TELEGRAM_BOT_TOKEN",
    "STREAMPULSE_TELEGRAM_CHAT_ID",
    "STREAMPULSE_TELEGRAM_BASE_URL",
    "STREAMPULSE_SLACK_WEBHOOK_URL",
    "STREAMPULSE_ALERT_WEBHOOK_URL",
    "STREAMPULSE_ALERT_WEBHOOK_SECRET",
    "STREAMPULSE_ALERT_GATE",
]


@pytest.fixture
def sink_env(monkeypatch):
    for name in SINK_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_sensor_launches_only_when_alerts_wait(
    conn, pg_url, httpserver, sink_env, dagster_instance
):
    import dagster as dg

    from streampulse_assets.defs.operations.sensors import alert_delivery_sensor
    from streampulse_assets.defs.resources import PostgresResource

    instance = dagster_instance

    def tick():
        context = dg.build_sensor_context(
            instance=instance, resources={"postgres": PostgresResource(url=pg_url)}
        )
        return alert_delivery_sensor.evaluate_tick(context)

    insert_event(conn)
    assert "no alert sink configured" in tick().skip_message
    sink_env.setenv("STREAMPULSE_ALERT_WEBHOOK_URL", httpserver.url_for("/hook"))
    assert len(tick().run_requests) == 1
    httpserver.expect_request("/hook").respond_with_data("ok")
    deliver_alerts(conn, alert_sinks(), AlertGate())
    assert tick().skip_message == "no alert to deliver"


def test_alert_deliveries_asset_reports_and_fails_on_given_up(
    conn, pg_url, httpserver, sink_env, dagster_instance
):
    import dagster as dg

    from streampulse_assets.defs.operations.assets import alert_deliveries
    from streampulse_assets.defs.resources import PostgresResource

    resources = {"postgres": PostgresResource(url=pg_url)}
    httpserver.expect_request("/ok").respond_with_data("ok")
    httpserver.expect_request("/gone").respond_with_data("gone", status=410)
    insert_event(conn)
    instance = dagster_instance
    sink_env.setenv("STREAMPULSE_ALERT_WEBHOOK_URL", httpserver.url_for("/ok"))
    result = dg.materialize([alert_deliveries], resources=resources, instance=instance)
    [mat] = result.asset_materializations_for_node("alert_deliveries")
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert (meta["sent"], meta["failed"], meta["retried"]) == (1, 0, 0)
    assert meta["sinks"] == "webhook" and meta["gate"] == "confirmed"
    sink_env.setenv("STREAMPULSE_SLACK_WEBHOOK_URL", httpserver.url_for("/gone"))
    failed = dg.materialize(
        [alert_deliveries], resources=resources, instance=instance, raise_on_error=False
    )
    assert not failed.success
    [failure] = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "given up on" in failure.event_specific_data.error.message
    assert {(r[1], r[2]) for r in deliveries(conn)} == {("webhook", "SENT"), ("slack", "FAILED")}


def test_cli_alerts_test_and_send(conn, pg_url, httpserver, sink_env):
    import typer
    from typer.testing import CliRunner

    from streampulse_assets.cli.alerts import register
    from streampulse_assets.lib.settings import get_settings

    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)
    runner = CliRunner()
    none = runner.invoke(app, ["alerts", "test"])
    assert none.exit_code == 1 and "no alert sink configured" in none.output

    httpserver.expect_request("/hook").respond_with_data("ok")
    httpserver.expect_request("/botT/sendMessage").respond_with_data("bad gateway", status=502)
    sink_env.setenv("STREAMPULSE_ALERT_WEBHOOK_URL", httpserver.url_for("/hook"))
    sink_env.setenv("STREAMPULSE_TELEGRAM_BOT_TOKEN", "T")
    sink_env.setenv("STREAMPULSE_TELEGRAM_CHAT_ID", "1")
    sink_env.setenv("STREAMPULSE_TELEGRAM_BASE_URL", httpserver.url_for("/"))
    tested = runner.invoke(app, ["alerts", "test"])
    assert tested.exit_code == 1
    assert "webhook   OK" in tested.output and "telegram  FAILED (retriable)" in tested.output
    assert "테스트" in json.loads(_last(httpserver, "/hook"))["text"]

    sink_env.delenv("STREAMPULSE_TELEGRAM_BOT_TOKEN")
    sink_env.setenv("STREAMPULSE_POSTGRES_URL", pg_url)
    get_settings.cache_clear()
    try:
        insert_event(conn)
        sent = runner.invoke(app, ["alerts", "send"])
        assert sent.exit_code == 0, sent.output
        assert "enqueued=1 sent=1" in sent.output
        again = runner.invoke(app, ["alerts", "send"])
        assert "enqueued=0 sent=0" in again.output
    finally:
        get_settings.cache_clear()


def _last(httpserver, path):
    return [r.data for r, _ in httpserver.log if r.path == path][-1]


def test_signature_carries_a_timestamp_and_refuses_replays():
    body = b'{"event_id": 1}'
    header = sign("k", body, timestamp=1_800_000_000)
    assert header.startswith("t=1800000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify_signature("k", header, body, now=1_800_000_000 + 299)
    assert not verify_signature("k", header, body, now=1_800_000_000 + 301)  # replayed later
    assert not verify_signature("k", header, body, now=1_800_000_000 - 301)  # from the future
    assert verify_signature("k", header, body, tolerance_s=3600, now=1_800_000_000 + 3000)
    moved = header.replace("t=1800000000", "t=1800000290")  # a fresher t does not fit the mac
    assert not verify_signature("k", moved, body, now=1_800_000_000 + 290)
    rotated = f"{header},v1={'0' * 64}"  # several v1 values: any may match
    assert verify_signature("k", rotated, body, now=1_800_000_000)
    for bad in (None, "", "sha256=abc", "v1=abc", "t=x,v1=abc", f"t=1,t=2,v1={'0' * 64}"):
        assert not verify_signature("k", bad, body, now=1_800_000_000)


def _series(ts: datetime) -> dict:
    minutes = [ts - timedelta(minutes=179 - i) for i in range(180)]
    viewers = [10_000 + (i % 9) * 20 for i in range(179)] + [15_000]
    return {
        "event_ts": f"{ts:%Y-%m-%dT%H:%M}",
        "ts": [f"{m:%Y-%m-%dT%H:%M}" for m in minutes],
        "viewers": viewers,
        "rolling": [10_080] * 180,
        "seasonal": [None] * 60 + [10_000] * 120,
    }


def test_telegram_sends_the_chart_with_the_alert_text_as_caption(conn, httpserver):
    seen = {}

    def handler(request):
        seen["form"] = dict(request.form)
        seen["photo"] = request.files["photo"].read()
        seen["type"] = request.files["photo"].mimetype
        seen["content_type"] = request.headers["Content-Type"]
        return Response(json.dumps({"ok": True, "result": {"message_id": 2}}), 200)

    httpserver.expect_request("/botT0KEN/sendPhoto", method="POST").respond_with_handler(handler)
    ts = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None) - timedelta(minutes=5)
    event_id = insert_event(conn, series=_series(ts))
    sink = TelegramSink("T0KEN", "-100123", base_url=httpserver.url_for("/"))
    assert deliver_alerts(conn, [sink], AlertGate()).sent == 1
    assert seen["content_type"].startswith("multipart/form-data")
    assert seen["photo"].startswith(b"\x89PNG\r\n\x1a\n") and len(seen["photo"]) > 10_000
    assert seen["type"] == "image/png" and seen["form"]["chat_id"] == "-100123"
    with conn.cursor() as cur:
        cur.execute(
            "SELECT payload->>'text' FROM alert_deliveries WHERE event_id = %s", (event_id,)
        )
        (frozen,) = cur.fetchone()
    conn.rollback()
    assert seen["form"]["caption"] == frozen  # the same text as the UI and the other sinks
    assert STREAMER in frozen and "+7,000 = 140% of the rise" in frozen


def test_slack_links_the_chart_only_when_it_has_a_url(conn, httpserver):
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    event_id = insert_event(conn, series=_series(datetime(2026, 1, 1)))
    url = httpserver.url_for("/slack")
    assert deliver_alerts(conn, [SlackSink(url, "https://charts.example/c/")], AlertGate()).sent
    body = httpserver.log[-1][0].get_json()
    section, image = body["blocks"]
    assert image == {
        "type": "image",
        "image_url": f"https://charts.example/c/{event_id}.png",
        "alt_text": "spike chart",
    }
    assert section["text"]["text"].startswith("[StreamPulse] SPIKE CHZZK")
    insert_event(conn, category_id="c2")
    assert deliver_alerts(conn, [SlackSink(url, name="slack2")], AlertGate()).sent == 2
    plain = httpserver.log[-1][0].get_json()
    assert "blocks" not in plain and plain["text"].endswith(
        "(chart: Dagster UI, asset analysed_events)"
    )


def test_the_sending_lease_is_configurable_but_never_below_the_sink_timeouts():
    from streampulse_assets.lib.alerts.delivery import SENDING_LEASE_SECONDS
    from streampulse_assets.lib.settings import GateSettings
    from streampulse_assets.lib.settings.configs import sending_lease

    key = "STREAMPULSE_ALERT_SENDING_LEASE_SECONDS"
    assert sending_lease(GateSettings.read({})) == SENDING_LEASE_SECONDS == 120
    assert sending_lease(GateSettings.read({key: "45"})) == 45
    for bad in ("10", "nan", "soon"):
        with pytest.raises(ValueError, match=key):
            GateSettings.read({key: bad})
