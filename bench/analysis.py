"""Benchmark the analysis queue with the offline tier (prints numbers; no assertions).

    uv run python bench/analysis.py [--events 2000] [--workers 1,2,4]

Starts throwaway embedded Postgres and Redis servers (or uses --pg-url / --redis-url), then:
1. drains N distinct events with 1, 2, 4 worker processes (and threads in one process): events/s,
   latency from event creation to analysis p50/p95, time inside the graph p50/p95;
2. drains the same events again (a replay): cache hit rate and the cache-hit path's latency;
3. a sustained-spike stream (each spike seen for 5 consecutive minutes): first-pass hit rate.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import psycopg2
import redis
import samples  # bench/samples.py, beside this script

from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.analysis.worker import DrainStats, drain
from streampulse_assets.lib.schema import migrate_postgres
from streampulse_assets.lib.services.paths import free_port


def reset(pg_url: str, *, truncate: bool = False) -> None:
    conn = psycopg2.connect(pg_url)
    with conn:
        if truncate:
            queue.clear(conn)
        else:
            queue.requeue_all(conn)
    conn.close()


_BARRIER = None


def _init(barrier) -> None:
    global _BARRIER
    _BARRIER = barrier


def _proc(args) -> dict:
    pg_url, redis_url, wid = args
    _BARRIER.wait()  # every process has imported everything: time the drain only
    started = time.time()
    s = drain(pg_url, redis_url, worker_id=wid, batch=20)
    return {"analysed": s.analysed, "lat": s.latencies_s, "ms": s.analysis_ms,
            "hits": s.cache_hits, "misses": s.cache_misses, "t0": started,
            "t1": time.time()}  # fmt: skip


def run_processes(pg_url: str, redis_url: str, n: int) -> tuple[DrainStats, float]:
    ctx = mp.get_context("spawn")
    with ctx.Pool(n, initializer=_init, initargs=(ctx.Barrier(n),)) as pool:
        parts = pool.map(_proc, [(pg_url, redis_url, f"bench-{i}") for i in range(n)], 1)
    elapsed = max(p["t1"] for p in parts) - min(p["t0"] for p in parts)
    total = DrainStats(elapsed_s=elapsed)
    for p in parts:
        total.analysed += p["analysed"]
        total.latencies_s += p["lat"]
        total.analysis_ms += p["ms"]
        total.cache_hits += p["hits"]
        total.cache_misses += p["misses"]
    return total, elapsed


def pct(values, q) -> str:
    return f"{np.percentile(values, q):8.2f}" if values else "     n/a"


def line(label: str, s: DrainStats, elapsed: float) -> None:
    print(
        f"{label:<28} {s.analysed:6d} ev {s.analysed / elapsed:8.1f} ev/s   "
        f"latency p50/p95 {pct(s.latencies_s, 50)}/{pct(s.latencies_s, 95)} s   "
        f"graph p50/p95 {pct(s.analysis_ms, 50)}/{pct(s.analysis_ms, 95)} ms   "
        f"hit rate {s.cache_hit_rate:5.1%}"
    )


def sustained_rows(n_spikes: int, minutes: int = 5) -> list[dict]:
    """Each spike seen on `minutes` consecutive minutes (same streamer and title)."""
    rows = []
    for i, r in enumerate(samples.sample_rows(n_spikes, seed=99)):
        for m in range(minutes):
            ts = r["ts"] + timedelta(minutes=m)
            rows.append({**r, "category_id": f"{r['category_id']}-s{i}", "ts": ts})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--pg-url")
    ap.add_argument("--redis-url")
    args = ap.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    servers = []
    tmp = Path(tempfile.mkdtemp(prefix="sp_bench_"))
    pg_url, redis_url = args.pg_url, args.redis_url
    if not pg_url:
        from streampulse_assets.lib.services.postgres import EmbeddedPostgres

        pg = EmbeddedPostgres(tmp / "pg", port=free_port(), databases=("bench",))
        pg.start()
        servers.append(pg)
        pg_url = pg.url("bench")
    if not redis_url:
        from streampulse_assets.lib.services.redis import EmbeddedRedis

        rd = EmbeddedRedis(tmp / "redis", port=free_port())
        rd.start()
        servers.append(rd)
        redis_url = rd.url(0)
    try:
        conn = psycopg2.connect(pg_url)
        migrate_postgres(conn)
        reset(pg_url, truncate=True)
        samples.insert_rows(conn, samples.sample_rows(args.events))
        conn.close()
        r = redis.Redis.from_url(redis_url)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"offline tier, {args.events} distinct events, {os.cpu_count()} CPUs, load {load}")
        for n in workers:
            r.flushall()
            reset(pg_url)
            stats, elapsed = run_processes(pg_url, redis_url, n)
            line(f"{n} worker process(es)", stats, elapsed)
        for n in workers:
            r.flushall()
            reset(pg_url)
            stats = drain(pg_url, redis_url, worker_id="bench", concurrency=n, batch=20)
            line(f"{n} thread(s), one process", stats, stats.elapsed_s)
        reset(pg_url)  # replay: every key is now in Redis
        stats, elapsed = run_processes(pg_url, redis_url, max(workers))
        line(f"replay, {max(workers)} processes", stats, elapsed)
        reset(pg_url)
        stats = drain(pg_url, redis_url, worker_id="bench", batch=20)
        line("replay, 1 worker", stats, stats.elapsed_s)
        print(f"  cache-hit path, 1 worker (graph incl. Redis GET) p50/p95: "
              f"{pct(stats.analysis_ms, 50)}/{pct(stats.analysis_ms, 95)} ms; "
              f"analyst calls avoided: {stats.cache_hit_rate:.1%}")  # fmt: skip
        r.flushall()
        reset(pg_url, truncate=True)
        conn = psycopg2.connect(pg_url)
        rows = sustained_rows(max(1, args.events // 5))
        samples.insert_rows(conn, rows)
        conn.close()
        stats = drain(pg_url, redis_url, worker_id="bench", concurrency=2, batch=20)
        line("sustained spikes (5 min)", stats, stats.elapsed_s)
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
