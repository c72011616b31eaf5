"""The claim/lease protocol of `analysis_queue`: workers claim PENDING rows with `FOR UPDATE SKIP
LOCKED`, hold them under a lease they renew, and complete, fail (retry with back-off) or release
them; expired leases go back to PENDING (or FAILED when out of attempts)."""

from __future__ import annotations

from streampulse_assets.lib.analysis.models import AnalysisResult, QueueEvent
from streampulse_assets.lib.analysis.queue._rows import _COLUMNS, _event

LEASE_S = 120.0
MAX_ATTEMPTS = 3
RETRY_BACKOFF_S = 5.0


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
