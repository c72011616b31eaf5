"""The Redis cache on the real embedded Redis: hit after miss, TTL, and Redis outages."""

import psycopg2
import redis

from bench import samples
from streampulse_assets.lib.analysis.cache import CACHE_TTL_S, SpikeCache
from streampulse_assets.lib.analysis.graph import SpikeAnalyser
from streampulse_assets.lib.analysis.models import QueueEvent
from streampulse_assets.lib.analysis.worker import drain
from streampulse_assets.lib.services.paths import free_port


def event(event_id: int, minute: int = 0) -> QueueEvent:
    r = samples.sample_rows(1, seed=11)[0]
    ts = r["ts"].replace(minute=minute)
    return QueueEvent(event_id, "V3", r["platform"], r["category_id"], r["category_name"], ts,
                      r["level"], r["cause"], r["evidence"], ts)  # fmt: skip


def test_second_identical_event_is_a_cache_hit_with_ttl(redis_url):
    cache = SpikeCache(redis_url)
    analyser = SpikeAnalyser(cache=cache)
    first = analyser.analyse(event(1))
    second = analyser.analyse(event(2, minute=25))  # same streamer, title and hour
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert second.cache_key == first.cache_key
    assert (second.summary, second.verdict, second.reason) == (
        first.summary,
        first.verdict,
        first.reason,
    )
    counters = cache.snapshot()
    assert (counters.hits, counters.misses, counters.errors, counters.writes) == (1, 1, 0, 1)
    ttl = redis.Redis.from_url(redis_url).ttl(first.cache_key)
    assert CACHE_TTL_S - 60 < ttl <= CACHE_TTL_S


def test_redis_on_a_closed_port_degrades_to_no_cache():
    cache = SpikeCache(f"redis://127.0.0.1:{free_port()}/0", cooldown_s=0)
    analyser = SpikeAnalyser(cache=cache)
    results = [analyser.analyse(event(i)) for i in range(3)]
    assert all(r.verdict == "CONFIRMED" and not r.cache_hit for r in results)
    counters = cache.snapshot()
    assert counters.errors == 6  # a failed get and a failed set per event, all counted
    assert counters.hits == counters.misses == 0


def test_redis_stopped_mid_run_never_fails_an_analysis(pg_url, embedded_redis):
    url = embedded_redis.url(0)
    redis.Redis.from_url(url).flushall()
    conn = psycopg2.connect(pg_url)
    rows = samples.sample_rows(12)
    samples.insert_rows(conn, rows[:6])
    first = drain(pg_url, url, worker_id="w1")
    assert first.analysed == 6 and first.cache_errors == 0 and first.cache_misses == 6
    embedded_redis.stop()
    try:
        samples.insert_rows(conn, rows[6:])
        second = drain(pg_url, url, worker_id="w2")
    finally:
        embedded_redis.start()
    assert second.analysed == 6 and second.failed == 0 and second.retried == 0
    assert second.cache_errors >= 1 and second.cache_hits == 0
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM analysis_queue WHERE analysis_status = 'DONE'")
        assert cur.fetchone()[0] == 12
    conn.close()


def test_replaying_events_hits_the_cache(pg_url, redis_url):
    """A second pass over the same events (e.g. a replayed day) costs no analyst work."""
    conn = psycopg2.connect(pg_url)
    rows = samples.sample_rows(30)
    samples.insert_rows(conn, rows)
    first = drain(pg_url, redis_url, worker_id="w")
    with conn.cursor() as cur:
        cur.execute("UPDATE analysis_queue SET analysis_status = 'PENDING', result = NULL")
    conn.commit()
    second = drain(pg_url, redis_url, worker_id="w")
    assert first.analysed == second.analysed == 30
    assert first.cache_hits == 0 and second.cache_hit_rate == 1.0
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM analysis_queue WHERE (result->>'cache_hit')::boolean")
        assert cur.fetchone()[0] == 30
    conn.close()
