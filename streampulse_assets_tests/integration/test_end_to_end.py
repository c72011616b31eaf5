"""From a viewer spike to a webhook: detection, queue, LangGraph analysis, warehouse copy, alert.

Everything runs through the Dagster assets on the real embedded Postgres and Redis and a real
loopback webhook; a second delivery pass in a fresh process state sends nothing again.
"""

import json
from datetime import timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import psycopg2
import pytest
from werkzeug import Request, Response

from streampulse_assets.defs.analysis.assets import analysed_events, analysis_queue_results
from streampulse_assets.defs.operations.assets import alert_deliveries
from streampulse_assets.defs.resources import RedisResource
from streampulse_assets.lib.alerts.sinks import verify_signature
from streampulse_assets_tests.integration.test_detection_assets import T0, queue, top
from streampulse_assets_tests.integration.test_faults import JUMP, _tick, backfilled_warehouse


def person_spike() -> pd.DataFrame:
    """'lol': streamer s1 starts a collab at JUMP and triples; the category follows."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(240):
        ts = T0 + timedelta(minutes=i)
        after = ts >= JUMP
        s1 = 21_000 if after else 5_000
        title = "[합방] 대회 하이라이트 with Faker" if after else "솔랭 방송"
        others = int(6_000 * (1 + rng.uniform(-0.01, 0.01)))
        tops = top(("s1", s1), ("s2", 3_000), ("s3", 2_000))
        tops = tops.replace("s1 live", title)
        rows.append(("chzzk", "lol", ts, "리그 오브 레전드", s1 + 5_000 + others, 40, tops))
        quiet = int(20_000 * (1 + rng.uniform(-0.01, 0.01)))
        rows.append(("chzzk", "talk", ts, "저스트 채팅", quiet, 300, top(("t1", 4_000))))
    columns = ["platform", "category_id", "ts", "category_name", "viewers", "open_lives",
               "top_streamers"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


@pytest.fixture
def warehouse(duckdb_path, pg_url):
    return backfilled_warehouse(duckdb_path, pg_url, person_spike())


def _confirmed_spikes(pg_url: str) -> int:
    conn = psycopg2.connect(pg_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM analysis_queue WHERE level = 'SPIKE' "
                "AND analysis_status = 'DONE' AND result->>'verdict' = 'CONFIRMED'"
            )
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_spike_reaches_the_webhook_exactly_once(
    warehouse,
    pg_url,
    redis_url,
    duckdb_path,
    httpserver,
    monkeypatch,
):
    received: list[dict] = []

    def hook(request: Request) -> Response:
        raw, headers = request.get_data(), dict(request.headers)
        received.append({"body": request.get_json(), "raw": raw, "headers": headers})
        return Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook)
    monkeypatch.setenv("STREAMPULSE_ALERT_WEBHOOK_URL", httpserver.url_for("/hook"))
    monkeypatch.setenv("STREAMPULSE_ALERT_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("STREAMPULSE_ALERT_GATE", "confirmed")
    monkeypatch.setenv("STREAMPULSE_ALERT_MAX_AGE_HOURS", str(24 * 3650))  # the scenario is old
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    assert _tick(warehouse, JUMP).success  # the surge minute: V3 events queued
    resources = {**warehouse, "redis": RedisResource(url=redis_url)}
    analysed = dg.materialize([analysis_queue_results, analysed_events], resources=resources)
    assert analysed.success
    stored = queue(pg_url)
    assert set(stored["analysis_status"]) <= {"DONE", "SKIPPED"}
    spikes = stored[(stored["level"] == "SPIKE") & (stored["analysis_status"] == "DONE")]
    assert len(spikes) >= 1
    with duckdb.connect(duckdb_path) as con:
        copied = con.execute("SELECT count(*) FROM analysed_events").fetchall()[0][0]
    assert copied == int((stored["analysis_status"] == "DONE").sum())

    first = dg.materialize([alert_deliveries], resources=warehouse)
    assert first.success
    confirmed = _confirmed_spikes(pg_url)
    assert confirmed >= 1  # the surge is explained as a real event by the offline analyst
    assert len(received) == confirmed  # one webhook call per confirmed spike
    body = received[0]["body"]
    text = json.dumps(body, ensure_ascii=False)
    assert "리그 오브 레전드" in text and "s1".upper() in text.upper()
    signature = received[0]["headers"].get("X-Streampulse-Signature")
    assert verify_signature("s3cret", signature, received[0]["raw"])  # t=...,v1=HMAC("t.body")
    sent = len(received)

    # A restart: new resources, new process state; nothing is sent twice.
    second = dg.materialize([alert_deliveries], resources=dict(warehouse))
    assert second.success
    assert len(received) == sent
