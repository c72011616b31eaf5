"""Metrics mean what their names say: the analysis lag is measured from the event's minute."""

import pytest

from bench import samples
from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.analysis.models import AnalysisResult
from streampulse_assets.lib.analysis.worker import drain


def test_minute_to_result_lag_counts_from_the_event_minute_and_is_never_negative(pg_conn):
    # A live event: its minute is the current one (the snapshot is fetched during that minute).
    (event_id,) = samples.insert_rows(pg_conn, samples.sample_rows(1))
    with pg_conn.cursor() as cur:
        cur.execute("UPDATE analysis_queue SET ts = date_trunc('minute', now()) WHERE id = %s",
                    (event_id,))  # fmt: skip
    (event,) = queue.claim(pg_conn, "w", batch=1)
    result = AnalysisResult(verdict="NO_EVENT", event_kind="none", summary="s", reason="r")
    written = queue.complete(pg_conn, "w", [(event.id, result)])
    with pg_conn.cursor() as cur:
        cur.execute(
            "SELECT extract(epoch FROM analysed_at - ts) FROM analysis_queue WHERE id = %s",
            (event_id,),
        )
        seen = float(cur.fetchall()[0][0])
    lag = written[event_id][1]
    assert lag == pytest.approx(seen) and 0 <= lag < 3600  # was `seen - 60`: negative in-minute


def test_drain_summary_names_the_lag_after_what_it_measures(pg_url, pg_conn):
    samples.insert_rows(pg_conn, samples.sample_rows(2))
    summary = drain(pg_url, None, worker_id="w", llm=None).summary()
    assert "minute_lag_p95_s" not in summary
    assert summary["minute_to_result_p95_s"] > 0  # sample events are from the past
