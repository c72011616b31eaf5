"""Queue workers: `drain` (until the queue is empty, a budget or a deadline) and `run_forever`.

Each thread has its own Postgres connection, lease identity (`{worker_id}-{n}`) and compiled
graph; threads share the Redis cache and the OpenAI client (both thread-safe). Nothing here
touches DuckDB.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg2

from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.analysis.cache import SpikeCache
from streampulse_assets.lib.analysis.graph import SpikeAnalyser
from streampulse_assets.lib.analysis.llm import LLMClient
from streampulse_assets.lib.settings.configs import llm_settings, search_provider

log = logging.getLogger(__name__)


@dataclass
class DrainStats:
    claimed: int = 0
    analysed: int = 0
    retried: int = 0
    failed: int = 0
    lost_leases: int = 0
    released: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    cache_errors: int = 0
    cache_bypassed: int = 0
    llm_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    elapsed_s: float = 0.0
    tiers: Counter = field(default_factory=Counter)
    verdicts: Counter = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)  # created_at -> analysed_at
    minute_to_result_s: list[float] = field(default_factory=list)  # event minute ts -> analysed_at
    analysis_ms: list[float] = field(default_factory=list)  # time inside the graph
    errors: list[str] = field(default_factory=list)

    @staticmethod
    def _q(values: list[float], q: float) -> float | None:
        return float(np.percentile(values, q)) if values else None

    @property
    def cache_hit_rate(self) -> float:
        looked = self.cache_hits + self.cache_misses
        return self.cache_hits / looked if looked else 0.0

    @property
    def events_per_s(self) -> float:
        return self.analysed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "events_analysed": self.analysed,
            "events_retried": self.retried,
            "events_failed": self.failed,
            "lost_leases": self.lost_leases,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "cache_errors": self.cache_errors,
            "cache_hit_rate": round(self.cache_hit_rate, 4),
            "llm_calls": self.llm_calls,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "estimated_cost_usd": round(self.cost_usd, 6),
            "latency_p50_s": self._q(self.latencies_s, 50),
            "latency_p95_s": self._q(self.latencies_s, 95),
            "minute_to_result_p95_s": self._q(self.minute_to_result_s, 95),
            "analysis_p50_ms": self._q(self.analysis_ms, 50),
            "analysis_p95_ms": self._q(self.analysis_ms, 95),
            "events_per_s": round(self.events_per_s, 2),
            "tiers": dict(self.tiers),
            "verdicts": dict(self.verdicts),
        }


def default_llm() -> LLMClient | None:
    settings = llm_settings()
    return LLMClient(settings) if settings.api_key else None


class _Budget:
    def __init__(self, max_events: int | None, deadline_s: float | None, stop: threading.Event):
        self.left = max_events
        self.deadline = None if deadline_s is None else time.monotonic() + deadline_s
        self.stop = stop
        self.abort = threading.Event()  # another thread of this drain failed
        self.lock = threading.Lock()

    def halted(self) -> bool:
        return self.stop.is_set() or self.abort.is_set()

    def take(self, want: int) -> int:
        if self.halted() or (self.deadline is not None and time.monotonic() > self.deadline):
            return 0
        with self.lock:
            if self.left is None:
                return want
            got = min(want, self.left)
            self.left -= got
            return got

    def give_back(self, n: int) -> None:
        with self.lock:
            if self.left is not None:
                self.left += n


class _Loop:
    """One worker thread: claim a batch, analyse each event and write each result back."""

    def __init__(self, pg_url, worker_id, cache, llm, budget, stats, lock, opts):
        self.pg_url, self.worker_id = pg_url, worker_id
        self.cache, self.llm, self.budget = cache, llm, budget
        self.stats, self.lock, self.opts = stats, lock, opts
        self.offline: SpikeAnalyser | None = None

    def run(self) -> None:
        conn = psycopg2.connect(self.pg_url, connect_timeout=5)
        conn.autocommit = True
        try:
            search = search_provider(conn)
            analyser = SpikeAnalyser(cache=self.cache, search=search, llm=self.llm)
            # On an event's last attempt a model server that keeps failing must not leave it
            # unexplained: the offline analyst answers instead (recorded in `fallbacks`).
            self.offline = SpikeAnalyser(cache=None, search=search, llm=None) if self.llm else None
            while True:
                want = self.budget.take(self.opts["batch"])
                if want == 0:
                    return
                events = queue.claim(
                    conn,
                    self.worker_id,
                    batch=want,
                    lease_s=self.opts["lease_s"],
                    max_attempts=self.opts["max_attempts"],
                )
                self.budget.give_back(want - len(events))
                if not events:
                    if self.opts["idle_wait_s"] is None:
                        return
                    self.budget.stop.wait(self.opts["idle_wait_s"])
                    if self.budget.abort.is_set():
                        return
                    continue
                self.process(conn, analyser, events)
        finally:
            conn.close()

    def process(self, conn, analyser: SpikeAnalyser, events) -> None:
        """Analyse a claimed batch; each result is committed as soon as it is known, so a killed
        worker loses at most the analyses in flight (paid model calls are never batched up)."""
        with self.lock:
            self.stats.claimed += len(events)
        for i, event in enumerate(events):
            if self.budget.halted():
                released = queue.release(conn, self.worker_id, [e.id for e in events[i:]])
                with self.lock:
                    self.stats.released += released
                break
            if self.llm is not None and i:  # model calls are slow: keep the rest of the batch
                queue.renew(conn, self.worker_id, [e.id for e in events[i:]])
            try:
                self.commit(conn, event.id, analyser.analyse(event))
            except Exception as exc:
                log.warning("analysis of event %s failed: %r", event.id, exc)
                if self.offline is not None and event.attempts >= self.opts["max_attempts"]:
                    result = self.offline.analyse(event)
                    reason = f"llm unavailable on the last attempt: {type(exc).__name__}: {exc}"
                    result.fallbacks = [*result.fallbacks, reason[:300]]
                    self.commit(conn, event.id, result)
                    continue
                status = queue.fail(
                    conn,
                    self.worker_id,
                    event.id,
                    f"{type(exc).__name__}: {exc}",
                    max_attempts=self.opts["max_attempts"],
                    backoff_s=self.opts["backoff_s"],
                )
                with self.lock:
                    self.stats.failed += status == "FAILED"
                    self.stats.retried += status == "PENDING"

    def commit(self, conn, event_id: int, result) -> None:
        """Write one result (autocommit: durable when this returns) and count it."""
        written = queue.complete(conn, self.worker_id, [(event_id, result)])
        with self.lock:
            s = self.stats
            if event_id not in written:
                s.lost_leases += 1
                return
            s.analysed += 1
            s.llm_calls += result.llm_calls
            s.tokens_in += result.tokens_in
            s.tokens_out += result.tokens_out
            s.cost_usd += result.cost_usd
            s.tiers[result.tier] += 1
            s.verdicts[result.verdict] += 1
            s.analysis_ms.append(result.latency_ms)
            s.latencies_s.append(written[event_id][0])
            s.minute_to_result_s.append(written[event_id][1])


def drain(
    pg_url: str,
    redis_url: str | None,
    *,
    worker_id: str,
    max_events: int | None = None,
    deadline_s: float | None = None,
    concurrency: int = 1,
    batch: int = 10,
    lease_s: float = queue.LEASE_S,
    max_attempts: int = queue.MAX_ATTEMPTS,
    backoff_s: float = queue.RETRY_BACKOFF_S,
    llm: LLMClient | str | None = "auto",
    stop: threading.Event | None = None,
    idle_wait_s: float | None = None,
) -> DrainStats:
    """Analyse queued events until the queue is empty (or `max_events`, `deadline_s`, `stop`).

    With `idle_wait_s` set, an empty queue is polled again after that many seconds instead of
    ending the drain (that is the long-running worker). Raises the first thread error.
    """
    stop = stop or threading.Event()
    llm_client = default_llm() if llm == "auto" else llm
    cache = SpikeCache(redis_url)
    before = cache.snapshot()
    stats, lock = DrainStats(), threading.Lock()
    budget = _Budget(max_events, deadline_s, stop)
    opts = {
        "batch": batch,
        "lease_s": lease_s,
        "max_attempts": max_attempts,
        "backoff_s": backoff_s,
        "idle_wait_s": idle_wait_s,
    }
    errors: list[BaseException] = []

    def target(n: int) -> None:
        wid = worker_id if concurrency == 1 else f"{worker_id}-{n}"
        try:
            _Loop(pg_url, wid, cache, llm_client, budget, stats, lock, opts).run()
        except BaseException as exc:
            errors.append(exc)
            budget.abort.set()

    started = time.monotonic()
    threads = [threading.Thread(target=target, args=(n,), daemon=True) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats.elapsed_s = time.monotonic() - started
    after = cache.snapshot()
    stats.cache_hits = after.hits - before.hits
    stats.cache_misses = after.misses - before.misses
    stats.cache_errors = after.errors - before.errors
    stats.cache_bypassed = after.bypassed - before.bypassed
    cache.close()
    if errors:
        stats.errors = [repr(e) for e in errors]
        raise errors[0]
    return stats


def run_forever(
    pg_url: str,
    redis_url: str | None,
    *,
    worker_id: str,
    concurrency: int = 1,
    batch: int = 10,
    idle_wait_s: float = 1.0,
    stop: threading.Event | None = None,
) -> DrainStats:
    """The long-running worker: SIGTERM/SIGINT finish the current event, release the rest of the
    batch and return; nothing is lost or analysed twice."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    stats = DrainStats()
    while not stop.is_set():
        try:
            stats = drain(
                pg_url,
                redis_url,
                worker_id=worker_id,
                concurrency=concurrency,
                batch=batch,
                stop=stop,
                idle_wait_s=idle_wait_s,
            )
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            log.error("worker %s lost Postgres (%s); reconnecting in 5 s", worker_id, exc)
            stop.wait(5.0)
    return stats
