"""Operator feedback reads: whether an event id exists, and the labelled rows' verdicts (joined
with `operator_feedback`)."""

from __future__ import annotations

from datetime import datetime


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
