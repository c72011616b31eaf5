"""How much is queued: counts per status, what is due, the oldest PENDING row (`stats`), and the
backlog check's stale PENDING rows (`stale_pending`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any


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
