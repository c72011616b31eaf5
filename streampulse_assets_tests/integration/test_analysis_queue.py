"""The Postgres queue on the real embedded server: SKIP LOCKED, leases, retries, shutdown."""

import os
import threading

import psycopg2

from bench import samples
from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.analysis.llm import LLMClient, LLMSettings
from streampulse_assets.lib.analysis.worker import drain
from streampulse_assets.lib.services.paths import free_port


def rows(pg_conn, sql: str, *args):
    with pg_conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else cur.rowcount


def test_two_workers_drain_50_events_without_double_work(pg_url, redis_url, pg_conn):
    samples.insert_rows(pg_conn, samples.sample_rows(50))
    results, barrier = {}, threading.Barrier(2)

    def work(name: str) -> None:
        barrier.wait()
        results[name] = drain(pg_url, redis_url, worker_id=name, concurrency=2, batch=3)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a, b = results["a"], results["b"]
    assert a.claimed + b.claimed == 50  # a second claim of any event would make this > 50
    assert a.analysed + b.analysed == 50 and a.lost_leases == b.lost_leases == 0
    assert rows(pg_conn, "SELECT analysis_status, min(attempts), max(attempts), count(*) "
                "FROM analysis_queue GROUP BY 1") == [("DONE", 1, 1, 50)]  # fmt: skip
    owners = {w.split("-")[0] for (w,) in rows(pg_conn, "SELECT worker_id FROM analysis_queue")}
    assert owners <= {"a", "b"}
    assert rows(pg_conn, "SELECT count(*) FROM analysis_queue WHERE result IS NULL "
                "OR analysed_at IS NULL OR lead_channel_id IS NULL")[0][0] == 0  # fmt: skip


def test_spikes_are_claimed_before_candidates(pg_conn):
    samples.insert_rows(pg_conn, samples.sample_rows(12))
    claimed = queue.claim(pg_conn, "w", batch=10)
    assert [e.level for e in claimed] == ["SPIKE"] * 10
    assert all(e.attempts == 1 and isinstance(e.evidence, dict) for e in claimed)


def test_a_crashed_workers_lease_expires_and_the_event_is_retried(pg_url, pg_conn):
    samples.insert_rows(pg_conn, samples.sample_rows(3))
    crashed = queue.claim(pg_conn, "crashed", batch=1)
    assert len(crashed) == 1
    # While the lease is valid nobody else takes the event.
    assert drain(pg_url, None, worker_id="healthy").analysed == 2
    rows(pg_conn, "UPDATE analysis_queue SET claimed_at = now() - interval '10 minutes' "
         "WHERE worker_id = 'crashed' RETURNING id")  # fmt: skip
    stats = drain(pg_url, None, worker_id="healthy", lease_s=60)
    assert stats.analysed == 1
    ((status, attempts, worker, error),) = rows(
        pg_conn,
        "SELECT analysis_status, attempts, worker_id, last_error FROM analysis_queue WHERE id = %s",
        crashed[0].id,
    )
    assert (status, attempts, worker) == ("DONE", 2, "healthy")
    assert error is None  # cleared on success
    # The crashed worker waking up late cannot overwrite the result.
    from streampulse_assets.lib.analysis.graph import SpikeAnalyser

    late = SpikeAnalyser().analyse(crashed[0])
    assert queue.complete(pg_conn, "crashed", [(crashed[0].id, late)]) == {}


def test_expired_lease_on_the_last_attempt_fails_the_event(pg_conn):
    samples.insert_rows(pg_conn, samples.sample_rows(1))
    rows(pg_conn, "UPDATE analysis_queue SET analysis_status = 'IN_PROGRESS', attempts = 3, "
         "worker_id = 'ghost', claimed_at = now() - interval '1 hour'")  # fmt: skip
    assert queue.release_expired(pg_conn, lease_s=60, max_attempts=3) == 1
    ((status, error),) = rows(pg_conn, "SELECT analysis_status, last_error FROM analysis_queue")
    assert status == "FAILED" and "lease expired: worker ghost" in error


def test_bounded_retries_then_offline_on_the_last_attempt(pg_url, pg_conn):
    (event_id,) = samples.insert_rows(pg_conn, samples.sample_rows(1))
    dead = LLMClient(
        LLMSettings(api_key="k", base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=0)
    )
    # No back-off: the drain takes the event again at once; the last attempt is explained offline.
    stats = drain(pg_url, None, worker_id="w", llm=dead, backoff_s=0, max_attempts=3)
    assert (stats.claimed, stats.retried, stats.failed, stats.analysed) == (3, 2, 0, 1)
    ((status, attempts, error, result),) = rows(
        pg_conn,
        "SELECT analysis_status, attempts, last_error, result FROM analysis_queue WHERE id = %s",
        event_id,
    )  # fmt: skip
    assert (status, attempts, error) == ("DONE", 3, None)
    assert result["tier"] == "offline"
    assert any("APIConnectionError" in f for f in result["fallbacks"])
    assert drain(pg_url, None, worker_id="w", llm=dead).claimed == 0  # DONE stays put


def test_failed_after_max_attempts_with_the_last_error(pg_url, pg_conn):
    (event_id,) = samples.insert_rows(pg_conn, samples.sample_rows(1))
    for attempt in (1, 2, 3):
        (event,) = queue.claim(pg_conn, "w", max_attempts=3)
        status = queue.fail(pg_conn, "w", event.id, f"boom {attempt}", max_attempts=3, backoff_s=0)
    assert status == "FAILED"
    ((status, attempts, error),) = rows(
        pg_conn, "SELECT analysis_status, attempts, last_error FROM analysis_queue WHERE id = %s",
        event_id,
    )  # fmt: skip
    assert (status, attempts, error) == ("FAILED", 3, "boom 3")
    assert queue.claim(pg_conn, "w") == []  # FAILED stays put


def test_backoff_delays_the_retry(pg_url, pg_conn):
    samples.insert_rows(pg_conn, samples.sample_rows(1))
    (event,) = queue.claim(pg_conn, "w")
    assert queue.fail(pg_conn, "w", event.id, "boom", backoff_s=3600) == "PENDING"
    assert queue.claim(pg_conn, "w") == []
    stats = queue.stats(pg_conn)
    assert (stats.pending, stats.due, stats.max_due_id) == (1, 0, None)


def test_stop_releases_claimed_events_without_counting_an_attempt(pg_url, pg_conn):
    samples.insert_rows(pg_conn, samples.sample_rows(5))
    stop = threading.Event()
    stop.set()
    events = queue.claim(pg_conn, "w", batch=5)
    assert queue.release(pg_conn, "w", [e.id for e in events]) == 5
    assert rows(pg_conn, "SELECT DISTINCT analysis_status, attempts FROM analysis_queue") == [
        ("PENDING", 0)
    ]
    assert drain(pg_url, None, worker_id="w", stop=stop).claimed == 0
    stats = queue.stats(pg_conn)
    assert stats.pending == 5 and stats.oldest_pending_age_s >= 0
    assert stats.max_due_id == max(e.id for e in events) and stats.due == 5


def test_deadline_and_budget_bound_a_drain(pg_url, pg_conn):
    samples.insert_rows(pg_conn, samples.sample_rows(25))
    assert drain(pg_url, None, worker_id="w", max_events=7, batch=5).analysed == 7
    assert drain(pg_url, None, worker_id="w", deadline_s=0).claimed == 0
    assert queue.stats(pg_conn).pending == 18


def test_renew_extends_only_this_workers_leases(pg_url):
    import time

    import psycopg2

    from bench import samples as s
    from streampulse_assets.lib.analysis import queue as q

    pg_conn = psycopg2.connect(pg_url)
    pg_conn.autocommit = True
    s.insert_rows(pg_conn, s.sample_rows(4, seed=11))
    mine = q.claim(pg_conn, "w1", batch=2, lease_s=1)
    theirs = q.claim(pg_conn, "w2", batch=2, lease_s=1)
    time.sleep(1.2)
    assert q.renew(pg_conn, "w1", [e.id for e in mine] + [e.id for e in theirs]) == 2
    # Only w2's leases have expired; w1's renewed ones stay IN_PROGRESS.
    assert q.release_expired(pg_conn, lease_s=1) == 2
    with pg_conn.cursor() as cur:
        cur.execute("SELECT worker_id FROM analysis_queue WHERE analysis_status = 'IN_PROGRESS'")
        assert {r[0] for r in cur.fetchall()} == {"w1"}
    pg_conn.close()


def test_migration_050_renames_a_filled_queue_and_keeps_its_rows(embedded_postgres):
    """A store migrated before 050 keeps its rows, ids and foreign keys under `analysis_queue`."""
    from datetime import UTC, datetime

    from streampulse_assets.lib.schema import load_migrations, migrate_postgres

    name = f"rename_{os.getpid()}_{threading.get_ident()}"
    admin = psycopg2.connect(embedded_postgres.url("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    pg_conn = psycopg2.connect(embedded_postgres.url(name))
    try:
        with pg_conn, pg_conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "checksum TEXT NOT NULL, applied_at TIMESTAMPTZ DEFAULT now())"
            )
            for m in load_migrations("postgres"):
                if m.version < 50:
                    cur.execute(m.sql)
                    cur.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (m.version, m.name, m.checksum),
                    )
            cur.execute(
                "INSERT INTO signal_events (detector, platform, category_id, ts, level) "
                "VALUES ('V3', 'chzzk', 'c', now(), 'SPIKE') RETURNING id"
            )
            (old_id,) = cur.fetchone()
            cur.execute(
                "INSERT INTO operator_feedback (event_id, verdict) VALUES (%s, true)", (old_id,)
            )
        assert migrate_postgres(pg_conn) == ["050_analysis_queue.sql"]
        pg_conn.autocommit = True
        assert rows(pg_conn, "SELECT to_regclass('signal_events') IS NULL") == [(True,)]
        assert rows(pg_conn, "SELECT id FROM analysis_queue") == [(old_id,)]
        assert rows(
            pg_conn,
            "SELECT conrelid::regclass::text FROM pg_constraint "
            "WHERE confrelid = 'analysis_queue'::regclass ORDER BY 1",
        ) == [("alert_deliveries",), ("operator_feedback",)]
        assert (
            rows(
                pg_conn,
                "SELECT relname FROM pg_class WHERE relname LIKE 'signal_events%%' "
                "UNION ALL SELECT conname FROM pg_constraint WHERE conname LIKE 'signal_events%%'",
            )
            == []
        )
        indexes = rows(
            pg_conn, "SELECT indexname FROM pg_indexes WHERE tablename = 'analysis_queue'"
        )
        assert {i for (i,) in indexes} == {
            f"analysis_queue_{n}"
            for n in ("pkey", "once", "open_idx", "streamer_idx", "analysed_at_idx", "ts_idx")
        }
        ts = datetime(2025, 3, 1, 10, tzinfo=UTC)
        row = ("V3", "chzzk", "c", None, ts, "SPIKE", None, "{}", "PENDING")
        assert queue.insert_events(pg_conn, [row]) == ["PENDING"]
        assert queue.insert_events(pg_conn, [row]) == []  # analysis_queue_once still holds
        assert rows(pg_conn, "SELECT max(id) FROM analysis_queue") == [(old_id + 1,)]
    finally:
        pg_conn.close()
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE "{name}"')
        admin.close()
