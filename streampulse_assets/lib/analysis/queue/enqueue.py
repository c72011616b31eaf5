"""Putting rows on the queue: detection's events (`insert_events`), PENDING rows from dicts
(`insert_pending`, samples and tests), and emptying or requeueing everything (benchmarks)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from psycopg2.extras import execute_values

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
