"""The Postgres analysis queue (`analysis_queue`, sql/postgres/001 + 050): the only module with
SQL on that table. Detection enqueues, alerts, quality, retention, the workers and the CLI call
the functions here (the DuckDB detection output `signal_events` is another table).

- `claim` takes up to `batch` PENDING rows (SPIKE before CANDIDATE, then oldest first) with
  `FOR UPDATE SKIP LOCKED` in one statement and marks them IN_PROGRESS with a lease (claimed_at,
  worker_id) and attempts + 1. Any number of workers on any number of machines share the queue.
- `release_expired` returns rows whose lease expired (a crashed worker) to PENDING, or FAILED when
  their attempts are used up; `claim` calls it first.
- `complete` writes the result only while the caller still holds the lease; `fail` records the
  error and retries later with exponential back-off, or marks FAILED after `max_attempts`.
Connections are psycopg2 connections in autocommit mode (every call is a single statement),
except where a function says it joins the caller's transaction or commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg2.extras import execute_values

from streampulse_assets.lib.analysis.models import AnalysisResult, QueueEvent

LEASE_S = 120.0
MAX_ATTEMPTS = 3
RETRY_BACKOFF_S = 5.0

_COLUMNS = (
    "id, detector, platform, category_id, category_name, ts, level, cause, evidence, "
    "created_at, attempts"
)


def _event(row: tuple) -> QueueEvent:
    evidence = row[8] if isinstance(row[8], dict) else json.loads(row[8] or "{}")
    return QueueEvent(*row[:8], evidence, row[9], row[10])


def release_expired(conn, *, lease_s: float = LEASE_S, max_attempts: int = MAX_ATTEMPTS) -> int:
    """Expired leases back to PENDING (or FAILED when out of attempts); returns rows touched."""
    with conn.cursor() as cur:
        cur.execute(
            """UPDATE analysis_queue SET
                 analysis_status = CASE WHEN attempts >= %(max)s THEN 'FAILED' ELSE 'PENDING' END,
                 last_error = 'lease expired: worker ' || coalesce(worker_id, '?')
                              || ' did not finish within ' || %(lease)s || ' s',
                 claimed_at = NULL, next_attempt_at = NULL
               WHERE analysis_status = 'IN_PROGRESS'
                 AND claimed_at < now() - make_interval(secs => %(lease)s)""",
            {"max": max_attempts, "lease": lease_s},
        )
        return cur.rowcount


def renew(conn, worker_id: str, ids: list[int]) -> int:
    """Extend the lease of events this worker still holds (before each slow model call)."""
    if not ids:
        return 0
    with conn.cursor() as cur:
        cur.execute(
            """UPDATE analysis_queue SET claimed_at = now()
               WHERE id = ANY(%s) AND worker_id = %s AND analysis_status = 'IN_PROGRESS'""",
            (list(ids), worker_id),
        )
        return cur.rowcount


def claim(
    conn,
    worker_id: str,
    *,
    batch: int = 10,
    lease_s: float = LEASE_S,
    max_attempts: int = MAX_ATTEMPTS,
) -> list[QueueEvent]:
    release_expired(conn, lease_s=lease_s, max_attempts=max_attempts)
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE analysis_queue s SET analysis_status = 'IN_PROGRESS', claimed_at = now(),
                   worker_id = %(worker)s, attempts = s.attempts + 1
               FROM (SELECT id FROM analysis_queue
                     WHERE analysis_status = 'PENDING'
                       AND (next_attempt_at IS NULL OR next_attempt_at <= now())
                     ORDER BY (level <> 'SPIKE'), id
                     LIMIT %(batch)s
                     FOR UPDATE SKIP LOCKED) picked
               WHERE s.id = picked.id
               RETURNING {", ".join("s." + c.strip() for c in _COLUMNS.split(","))}""",
            {"worker": worker_id, "batch": batch},
        )
        rows = cur.fetchall()
    return sorted((_event(r) for r in rows), key=lambda e: (e.level != "SPIKE", e.id))


def complete(
    conn, worker_id: str, done: list[tuple[int, AnalysisResult]]
) -> dict[int, tuple[float, float]]:
    """Write results for events this worker still holds.

    Returns {id: (seconds from created_at to analysed_at, seconds from the event's minute `ts`
    to analysed_at)} for the rows written; a missing id means the lease was lost. A minute's
    snapshot is fetched during that minute (a live API answers for "now"), so `ts` is when the
    viewers were seen, and an explanation within the same minute is a small positive lag.
    """
    if not done:
        return {}
    values = [(eid, r.model_dump_json(), r.lead_channel_id) for eid, r in done]
    with conn.cursor() as cur:
        cur.execute(
            """UPDATE analysis_queue s SET analysis_status = 'DONE', result = v.result::jsonb,
                   lead_channel_id = v.lead, analysed_at = now(), last_error = NULL,
                   next_attempt_at = NULL
               FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, result, lead)
               WHERE s.id = v.id AND s.worker_id = %s AND s.analysis_status = 'IN_PROGRESS'
               RETURNING s.id, extract(epoch FROM s.analysed_at - s.created_at),
                         extract(epoch FROM s.analysed_at - s.ts)""",
            ([v[0] for v in values], [v[1] for v in values], [v[2] for v in values], worker_id),
        )
        rows = cur.fetchall()
    return {r[0]: (float(r[1]), float(r[2])) for r in rows}


def fail(
    conn,
    worker_id: str,
    event_id: int,
    error: str,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    backoff_s: float = RETRY_BACKOFF_S,
) -> str | None:
    """Record an error; PENDING with back-off, or FAILED when out of attempts. New status."""
    with conn.cursor() as cur:
        cur.execute(
            """UPDATE analysis_queue SET
                 analysis_status = CASE WHEN attempts >= %(max)s THEN 'FAILED' ELSE 'PENDING' END,
                 last_error = %(error)s, claimed_at = NULL,
                 next_attempt_at = now() + make_interval(secs => %(backoff)s * 2 ^ (attempts - 1))
               WHERE id = %(id)s AND worker_id = %(worker)s AND analysis_status = 'IN_PROGRESS'
               RETURNING analysis_status""",
            {
                "max": max_attempts,
                "error": error[:2000],
                "backoff": backoff_s,
                "id": event_id,
                "worker": worker_id,
            },
        )
        row = cur.fetchone()
    return row[0] if row else None


def release(conn, worker_id: str, event_ids: list[int]) -> int:
    """Give back claimed, unprocessed events (graceful shutdown); the attempt is not counted."""
    if not event_ids:
        return 0
    with conn.cursor() as cur:
        cur.execute(
            """UPDATE analysis_queue SET analysis_status = 'PENDING', claimed_at = NULL,
                 attempts = greatest(attempts - 1, 0)
               WHERE id = ANY(%s) AND worker_id = %s AND analysis_status = 'IN_PROGRESS'""",
            (list(event_ids), worker_id),
        )
        return cur.rowcount


@dataclass
class QueueStats:
    counts: dict[str, int]
    due: int  # PENDING rows whose retry back-off (if any) has passed
    oldest_pending_age_s: float | None
    max_due_id: int | None
    min_due_id: int | None

    @property
    def pending(self) -> int:
        return self.counts.get("PENDING", 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            **{f"queue_{k.lower()}": v for k, v in self.counts.items()},
            "queue_due": self.due,
            "oldest_pending_age_s": self.oldest_pending_age_s,
        }


def stats(conn) -> QueueStats:
    with conn.cursor() as cur:
        cur.execute("SELECT analysis_status, count(*) FROM analysis_queue GROUP BY 1")
        counts = {s: 0 for s in ("PENDING", "IN_PROGRESS", "DONE", "FAILED", "SKIPPED")}
        counts.update(dict(cur.fetchall()))
        cur.execute(
            """SELECT extract(epoch FROM now() - min(created_at)),
                      count(*) FILTER (WHERE due), max(id) FILTER (WHERE due),
                      min(id) FILTER (WHERE due)
               FROM (SELECT created_at, id,
                            next_attempt_at IS NULL OR next_attempt_at <= now() AS due
                     FROM analysis_queue WHERE analysis_status = 'PENDING') p"""
        )
        age, due, max_id, min_id = cur.fetchone()
    return QueueStats(counts, due, None if age is None else float(age), max_id, min_id)


# --- detection: enqueue ----------------------------------------------------------------------

_INSERT = """
INSERT INTO analysis_queue
    (detector, platform, category_id, category_name, ts, level, cause, evidence, analysis_status)
VALUES %s
ON CONFLICT ON CONSTRAINT analysis_queue_once DO NOTHING
RETURNING analysis_status
"""


def insert_events(conn, values: Sequence[tuple]) -> list[str]:
    """Insert queue rows (detector, platform, category_id, category_name, ts (aware UTC), level,
    cause, evidence JSON text, analysis_status); a row whose (detector, platform, category_id,
    ts) is queued already is left alone. Commits; returns the statuses of the rows inserted."""
    if not values:
        return []
    with conn, conn.cursor() as cur:
        returned = execute_values(cur, _INSERT, list(values), fetch=True)
    return [s for (s,) in returned]


def insert_pending(conn, rows: Iterable[dict[str, Any]]) -> list[int]:
    """Insert PENDING rows from dicts (detector, platform, category_id, category_name, ts naive
    UTC, level, cause, evidence dict); existing keys are left alone. Commits; returns new ids."""
    ids = []
    with conn.cursor() as cur:
        for r in rows:
            cur.execute(
                """INSERT INTO analysis_queue
                     (detector, platform, category_id, category_name, ts, level, cause, evidence)
                   VALUES (%s, %s, %s, %s, %s AT TIME ZONE 'UTC', %s, %s, %s::jsonb)
                   ON CONFLICT DO NOTHING RETURNING id""",
                (
                    r["detector"],
                    r["platform"],
                    r["category_id"],
                    r["category_name"],
                    r["ts"],
                    r["level"],
                    r["cause"],
                    json.dumps(r["evidence"], ensure_ascii=False),
                ),
            )
            got = cur.fetchone()
            if got:
                ids.append(got[0])
    conn.commit()
    return ids


def clear(conn) -> None:
    """Empty the queue and restart its ids (benchmarks); joins the caller's transaction."""
    with conn.cursor() as cur:
        cur.execute("TRUNCATE analysis_queue RESTART IDENTITY CASCADE")


def requeue_all(conn) -> None:
    """Every row back to PENDING as if just queued (benchmarks); joins the caller's transaction."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE analysis_queue SET analysis_status = 'PENDING', result = NULL, attempts = 0,"
            " analysed_at = NULL, worker_id = NULL, claimed_at = NULL, created_at = now()"
        )


# --- analysis: offline context and the warehouse copy ----------------------------------------


def streamer_history(
    conn, platform: str, channel_id: str, *, exclude_id: int, before: datetime, limit: int
) -> list[tuple]:
    """(ts, category_name, summary) of the streamer's analyses in the 7 days before `before`,
    newest first, without event `exclude_id`."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT ts, category_name, result->>'summary'
               FROM analysis_queue
               WHERE analysis_status = 'DONE' AND platform = %s AND lead_channel_id = %s
                 AND id <> %s AND ts < %s AND ts >= %s - interval '7 days'
               ORDER BY analysed_at DESC LIMIT %s""",
            (platform, channel_id, exclude_id, before, before, limit),
        )
        return cur.fetchall()


DONE_COLUMNS = (
    "id", "detector", "platform", "category_id", "category_name", "ts", "level", "cause",
    "analysis_status", "attempts", "last_error", "created_at", "analysed_at", "lead_channel_id",
    "result",
)  # fmt: skip


def done_since(conn, since: datetime | None) -> list[tuple]:
    """DONE rows (DONE_COLUMNS) analysed at or after `since` (naive UTC; None = all), by id."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT {", ".join(DONE_COLUMNS)}
               FROM analysis_queue
               WHERE analysis_status = 'DONE' AND analysed_at IS NOT NULL
                 AND (%s::timestamp IS NULL OR analysed_at >= %s::timestamp AT TIME ZONE 'UTC')
               ORDER BY id""",
            (since, since),
        )
        return cur.fetchall()


# --- alerts ----------------------------------------------------------------------------------

ALERT_COLUMNS = (
    "id, platform, category_id, category_name, ts, cause, evidence, result, analysis_status"
)
_E_COLUMNS = ", ".join("e." + c.strip() for c in ALERT_COLUMNS.split(","))
_SPIKES = "detector = %s AND level = 'SPIKE' AND analysis_status = 'DONE'"


def alert_condition(
    *,
    mode: str,
    detector: str,
    max_age_hours: float,
    min_delta: float,
    analysis_wait_minutes: float,
) -> tuple[str, dict[str, float]]:
    """The alert gate as a WHERE condition on alias `e` and its named psycopg2 parameters:
    "confirmed" = primary SPIKEs analysed CONFIRMED; "delta" = primary SPIKEs with evidence
    delta >= min_delta once finished or once they waited `analysis_wait_minutes`; both only
    younger than `max_age_hours`."""
    params = {"gate_max_age_h": float(max_age_hours), "gate_detector": detector}
    base = (
        "e.detector = %(gate_detector)s AND e.level = 'SPIKE' "
        "AND e.ts >= now() - make_interval(secs => %(gate_max_age_h)s * 3600)"
    )
    if mode == "confirmed":
        return (
            base + " AND e.analysis_status = 'DONE' AND e.result->>'verdict' = 'CONFIRMED'",
            params,
        )
    params |= {"gate_min_delta": float(min_delta), "gate_wait_m": float(analysis_wait_minutes)}
    return (
        base + " AND COALESCE((e.evidence->>'delta')::double precision, 0) >= %(gate_min_delta)s"
        " AND (e.analysis_status IN ('DONE', 'FAILED', 'SKIPPED')"
        " OR e.created_at <= now() - make_interval(secs => %(gate_wait_m)s * 60))",
        params,
    )


def _dicts(cur) -> list[dict[str, Any]]:
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def undelivered(conn, where: str, params: dict, sink: str, limit: int) -> list[dict[str, Any]]:
    """Rows (ALERT_COLUMNS) matching `where` (on alias `e`) without a delivery row for `sink`,
    by id; joins the caller's transaction."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {_E_COLUMNS} FROM analysis_queue e WHERE {where} AND NOT EXISTS "
            "(SELECT 1 FROM alert_deliveries d WHERE d.event_id = e.id AND d.sink = %(sink)s)"
            " ORDER BY e.id LIMIT %(limit)s",
            {**params, "sink": sink, "limit": limit},
        )
        return _dicts(cur)


def count_undelivered(conn, where: str, params: dict, sinks: Sequence[str]) -> int:
    """Rows matching `where` that miss a delivery row for at least one of `sinks`."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT count(*) FROM analysis_queue e WHERE {where} AND EXISTS (SELECT 1 FROM "
            "unnest(%(sinks)s::text[]) s(name) WHERE NOT EXISTS (SELECT 1 FROM alert_deliveries d"
            " WHERE d.event_id = e.id AND d.sink = s.name))",
            {**params, "sinks": list(sinks)},
        )
        return int(cur.fetchone()[0])


def evidence_and_result(conn, event_id: int) -> tuple[Any, Any] | None:
    """(evidence, result) of one row, or None; joins the caller's transaction."""
    with conn.cursor() as cur:
        cur.execute("SELECT evidence, result FROM analysis_queue WHERE id = %s", (event_id,))
        row = cur.fetchone()
    return None if row is None else (row[0], row[1])


def analysed_spikes_by_id(conn, detector: str, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The analysed SPIKE rows (ALERT_COLUMNS) of `detector` among `ids`, by id."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {ALERT_COLUMNS} FROM analysis_queue WHERE {_SPIKES} AND id = ANY(%s) "
            "ORDER BY id",
            (detector, list(ids)),
        )
        return _dicts(cur)


def latest_analysed_spikes(conn, detector: str, limit: int) -> list[dict[str, Any]]:
    """The `limit` most recently analysed SPIKE rows (ALERT_COLUMNS) of `detector`."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {ALERT_COLUMNS} FROM analysis_queue WHERE {_SPIKES} "
            "ORDER BY analysed_at DESC NULLS LAST, id DESC LIMIT %s",
            (detector, limit),
        )
        return _dicts(cur)


# --- quality: operator feedback and the backlog check ----------------------------------------


def event_exists(conn, event_id: int) -> bool:
    """Whether a queue row has this id; joins the caller's transaction."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM analysis_queue WHERE id = %s", (event_id,))
        return cur.fetchone() is not None


def feedback_verdicts(
    conn, start: datetime | None = None, end: datetime | None = None
) -> list[tuple]:
    """(platform, category_id, ts, verdict) of operator-labelled rows with start <= ts < end
    (aware; None = unbounded), by ts then event id."""
    where, params = [], []
    if start is not None:
        where.append("e.ts >= %s")
        params.append(start)
    if end is not None:
        where.append("e.ts < %s")
        params.append(end)
    sql = (
        "SELECT e.platform, e.category_id, e.ts, f.verdict FROM operator_feedback f "
        "JOIN analysis_queue e ON e.id = f.event_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY e.ts, f.event_id"
    )
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def stale_pending(conn, max_age: timedelta) -> tuple[int, float | None]:
    """(PENDING rows queued longer than `max_age` ago, age in seconds of the oldest of them)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*), extract(epoch FROM now() - min(created_at)) FROM analysis_queue "
            "WHERE analysis_status = 'PENDING' AND created_at < now() - %s",
            (max_age,),
        )
        stale, oldest = cur.fetchone()
    return int(stale), None if oldest is None else float(oldest)


# --- operations: retention -------------------------------------------------------------------


def prune_deliveries(conn, days: int, now: datetime | None = None) -> int:
    """Delete alert deliveries older than `days` whose event is too (now: aware, None = the
    server's clock); joins the caller's transaction. Returns rows deleted."""
    with conn.cursor() as cur:
        cur.execute(
            "DELETE FROM alert_deliveries d USING analysis_queue e WHERE d.event_id = e.id "
            "AND d.created_at < COALESCE(%(now)s, now()) - make_interval(days => %(days)s) "
            "AND e.ts < COALESCE(%(now)s, now()) - make_interval(days => %(days)s)",
            {"now": now, "days": days},
        )
        return cur.rowcount


def prune_finished(conn, days: int, now: datetime | None = None) -> int:
    """Delete DONE/FAILED/SKIPPED rows older than `days`, never one an operator labelled (their
    deliveries go by FK cascade); joins the caller's transaction. Returns rows deleted."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('operator_feedback') IS NOT NULL")
        keep_labelled = (
            " AND NOT EXISTS (SELECT 1 FROM operator_feedback f WHERE f.event_id = e.id)"
            if cur.fetchone()[0]
            else ""
        )
        cur.execute(
            "DELETE FROM analysis_queue e WHERE analysis_status IN ('DONE', 'FAILED', 'SKIPPED')"
            " AND ts < COALESCE(%(now)s, now()) - make_interval(days => %(days)s)" + keep_labelled,
            {"now": now, "days": days},
        )
        return cur.rowcount
