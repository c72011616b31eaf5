"""Operator feedback on queued detector events (Postgres `operator_feedback`), and the labels it
implies for the quality metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.timeutil import aware_utc, floor_minute

# An operator verdict is about one event minute. operator_true becomes [t, t + 5 min] (with the
# metrics' 5-minute lead tolerance: any alert within 5 minutes of t counts); operator_false
# covers [t - 5 min, t + 5 min], vetoing alerts about the same moment.
TRUE_AFTER = timedelta(minutes=5)
FALSE_AROUND = timedelta(minutes=5)


class UnknownEventError(LookupError):
    """No signal event has this id."""


@dataclass(frozen=True)
class Feedback:
    event_id: int
    verdict: bool
    note: str | None
    replaced: bool  # an earlier verdict existed and was overwritten


def record_label(pg_conn, event_id: int, is_true: bool, note: str | None = None) -> Feedback:
    """Store (or replace) the operator's verdict on signal event `event_id`; commits.

    Raises UnknownEventError when no signal event has that id (nothing is written)."""
    if not queue.event_exists(pg_conn, event_id):
        pg_conn.rollback()
        raise UnknownEventError(f"no signal event with id {event_id}")
    with pg_conn.cursor() as cur:
        cur.execute(
            """
            INSERT INTO operator_feedback (event_id, verdict, note)
            VALUES (%s, %s, %s)
            ON CONFLICT (event_id) DO UPDATE
                SET verdict = EXCLUDED.verdict, note = EXCLUDED.note, updated_at = now()
            RETURNING (xmax <> 0) AS replaced
            """,
            (event_id, bool(is_true), note),
        )
        replaced = bool(cur.fetchone()[0])
    pg_conn.commit()
    return Feedback(event_id, bool(is_true), note, replaced)


def _iso(ts: datetime) -> str:
    return floor_minute(ts).isoformat() + "Z"


def labels_from_feedback(
    pg_conn, start: datetime | None = None, end: datetime | None = None
) -> list[dict]:
    """Label dicts (contracts.md) from operator verdicts, optionally for events with
    start <= ts < end (naive UTC or aware)."""
    start = aware_utc(start) if start is not None else None
    end = aware_utc(end) if end is not None else None
    rows = queue.feedback_verdicts(pg_conn, start, end)
    labels = []
    for platform, category_id, ts, verdict in rows:
        if verdict:
            span, kind = (ts, ts + TRUE_AFTER), "operator_true"
        else:
            span, kind = (ts - FALSE_AROUND, ts + FALSE_AROUND), "operator_false"
        labels.append(
            {
                "platform": platform,
                "category_id": category_id,
                "start": _iso(span[0]),
                "end": _iso(span[1]),
                "kind": kind,
            }
        )
    return labels
