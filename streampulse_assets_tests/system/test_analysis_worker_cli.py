"""`streampulse worker`: one-shot drain, unreachable Postgres, SIGTERM of the long-running loop.
(The one-shot drain and the unreachable Postgres run in process, in
integration/test_analysis_worker_once.py.)"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import psycopg2

from bench import samples
from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.services.paths import REPO_ROOT
from streampulse_assets_tests.integration.test_analysis_worker_once import done_count


def test_long_running_worker_stops_cleanly_on_sigterm(stores):
    conn = psycopg2.connect(stores["postgres"])
    samples.insert_rows(conn, samples.sample_rows(6))
    conn.close()
    env = {
        **os.environ,
        "STREAMPULSE_POSTGRES_URL": stores["postgres"],
        "STREAMPULSE_REDIS_URL": stores["redis"],
    }
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streampulse_assets.cli.main", "worker", "--concurrency", "2"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        give_up = time.monotonic() + 60
        while done_count(stores["postgres"]) < 6 and time.monotonic() < give_up:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        assert done_count(stores["postgres"]) == 6  # still running: it polls for more work
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["events_analysed"] == 6


class GatedModel:
    """An OpenAI-compatible stub that answers `limit` completions, then holds every further
    request (an analysis in flight) until `release`; counts what it answered and what waits."""

    def __init__(self, httpserver, limit: int):
        from streampulse_assets_tests.integration.test_analysis_llm import (
            ANALYST,
            EDITOR,
            completion,
        )

        self.limit, self.answered, self.waiting = limit, 0, 0
        self.lock = threading.Lock()
        self.released = threading.Event()

        def handle(request):
            from werkzeug import Response

            body = json.loads(request.get_data())
            with self.lock:
                hold = self.answered >= self.limit
                self.waiting += hold
            if hold:
                self.released.wait(120)
                return Response("{}", status=503, mimetype="application/json")
            with self.lock:
                self.answered += 1
            name = body["response_format"]["json_schema"]["name"]
            content = json.dumps(ANALYST if name == "AnalystOutput" else EDITOR)
            data = completion(content, model=body["model"])
            return Response(json.dumps(data), status=200, mimetype="application/json")

        httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(
            handle
        )


def paid_calls_kept(pg_url: str) -> tuple[int, int]:
    """(DONE rows, model calls recorded in their results)."""
    conn = psycopg2.connect(pg_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*), coalesce(sum((result->>'llm_calls')::int), 0) "
                "FROM analysis_queue WHERE analysis_status = 'DONE'"
            )
            done, calls = cur.fetchone()
            return int(done), int(calls)
    finally:
        conn.close()


def test_a_killed_worker_loses_only_the_analyses_in_flight(stores, httpserver):
    # Results are committed one by one: after kill -9 mid-drain (mid-batch) every answered model
    # call is in a stored result except those of the events in flight (one per thread). With
    # per-batch commits the same kill threw away every analysis of the unfinished batches.
    from streampulse_assets.lib.analysis.worker import drain
    from streampulse_assets_tests.integration.test_analysis_llm import client

    calls_per_event, events, concurrency, batch = 2, 40, 2, 10  # analyst + editor per event
    model = GatedModel(httpserver, limit=calls_per_event * 7)  # mid first batches
    conn = psycopg2.connect(stores["postgres"])
    samples.insert_rows(conn, samples.sample_rows(events))
    conn.close()
    env = {
        **os.environ,
        "STREAMPULSE_POSTGRES_URL": stores["postgres"],
        "STREAMPULSE_REDIS_URL": stores["redis"],
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": httpserver.url_for("/v1"),
        "STREAMPULSE_LLM_MODEL_CHEAP": "stub-cheap",
        "STREAMPULSE_LLM_MODEL_STRONG": "stub-strong",
        "STREAMPULSE_LLM_MAX_RETRIES": "0",
        "STREAMPULSE_LLM_TIMEOUT_S": "300",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "streampulse_assets.cli.main", "worker", "--concurrency",
         str(concurrency), "--batch", str(batch)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        give_up = time.monotonic() + 120
        while not model.waiting:  # a thread is stuck in a model call (the stub serves one at a
            # time, so the other thread's next call cannot be answered either)
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < give_up, f"answered {model.answered}, {model.waiting} wait"
            time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        model.released.set()
    done, kept = paid_calls_kept(stores["postgres"])
    assert 0 < done < batch  # mid-batch: only committed one by one can they be there
    assert kept == done * calls_per_event
    assert model.limit - kept <= concurrency * calls_per_event  # answered, not yet stored

    # The dead worker's leases expire (as after LEASE_S), a new worker finishes the queue.
    model.limit = 10_000
    conn = psycopg2.connect(stores["postgres"])
    conn.autocommit = True
    assert queue.release_expired(conn, lease_s=0) > 0  # its batch in flight and unstarted
    conn.close()
    stats = drain(stores["postgres"], stores["redis"], worker_id="after", llm=client(httpserver))
    assert done_count(stores["postgres"]) == events
    assert stats.analysed == events - done
    # Paid for twice: only the calls of the events in flight at the kill (at most one each;
    # a call the dead worker had already sent may still be answered after the kill).
    assert model.answered - calls_per_event * events <= concurrency * calls_per_event
