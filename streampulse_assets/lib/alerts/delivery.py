"""Deliver alerts exactly once per (event, sink), recorded in Postgres `alert_deliveries`.

One pass: (1) eligible events (per the gate) get a PENDING row per configured sink, inserted
ON CONFLICT DO NOTHING, with the rendered message frozen in `payload`; (2) due PENDING rows are
claimed one at a time with FOR UPDATE SKIP LOCKED (concurrent passes never share a row), sent, and
marked SENT, or rescheduled with exponential backoff (honouring a server's retry-after), or marked
FAILED after `max_attempts` or a permanent (4xx) error.

Recorded before sent: the claim commits the row as SENDING (attempts + 1, `sending_at`, and the
`idempotency_key` the sink will get) before the request leaves; the outcome is committed after it
(SENT, or PENDING with backoff, or FAILED). If the process dies in between, the row stays SENDING:
no pass touches it while its lease (STREAMPULSE_ALERT_SENDING_LEASE_SECONDS, default 120 s, at least
30 s: above the sinks' timeouts) runs, so a slow sender is never doubled; after it, a pass sends it
again with the SAME stored key, and a message whose sender keeps dying ends FAILED after
`max_attempts`. The guarantee is therefore at-least-once with a stable key: a crash can cause one
re-send of the message in flight (never a loss), which a receiver honouring `Idempotency-Key`
(`streampulse-<event_id>-<sink>`, the webhook sink) drops; Telegram and Slack offer no such key. An
HTTP timeout after the server accepted the message has the same effect.

Sinks that attach the spike chart (`wants_chart`: Telegram) get it rendered at send time from the
event's evidence (lib/analysis/chart.py), the same picture the UI shows; an event without a
captured series, or a chart that fails to render, is sent as text alone.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from psycopg2.extras import Json

from streampulse_assets.lib.alerts.gate import AlertGate
from streampulse_assets.lib.alerts.message import build_message
from streampulse_assets.lib.alerts.sinks import AlertMessage, Sink, SinkError
from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.analysis.chart import chart_for

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 3600.0
SENDING_LEASE_SECONDS = 120.0  # a SENDING row older than this lost its sender (crash, kill -9)


@dataclass
class DeliveryStats:
    enqueued: int = 0  # new delivery rows
    sent: int = 0
    sent_after_retry: int = 0  # of `sent`, those that had failed before
    retried: int = 0  # failed attempts rescheduled for a later pass
    failed: int = 0  # given up on in this pass (permanent error or attempts exhausted)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "enqueued": self.enqueued,
            "sent": self.sent,
            "sent_after_retry": self.sent_after_retry,
            "retried": self.retried,
            "failed": self.failed,
        }


def idempotency_key(event_id: int, sink: str) -> str:
    return f"streampulse-{event_id}-{sink}"


def enqueue_deliveries(
    pg_conn, sinks: Sequence[Sink], gate: AlertGate, *, limit: int = 1000
) -> int:
    """Insert a PENDING row per (eligible event, sink) not yet recorded; returns rows inserted."""
    where, params = gate.where_sql()
    inserted = 0
    with pg_conn.cursor() as cur:
        for sink in sinks:
            for event in queue.undelivered(pg_conn, where, params, sink.name, limit):
                message = build_message(event)
                cur.execute(
                    "INSERT INTO alert_deliveries (event_id, sink, payload) VALUES (%s, %s, %s) "
                    "ON CONFLICT (event_id, sink) DO NOTHING",
                    (
                        event["id"],
                        sink.name,
                        Json({"text": message.text, "fields": message.fields}),
                    ),
                )
                inserted += cur.rowcount
    pg_conn.commit()
    return inserted


def count_deliverable(
    pg_conn,
    sink_names: Sequence[str],
    gate: AlertGate,
    sending_lease: float = SENDING_LEASE_SECONDS,
) -> int:
    """Events waiting for a delivery row plus rows due now, for the configured sinks (read only)."""
    if not sink_names:
        return 0
    where, params = gate.where_sql()
    missing = queue.count_undelivered(pg_conn, where, params, sink_names)
    params = {**params, "sinks": list(sink_names)}
    with pg_conn.cursor() as cur:
        cur.execute(
            f"SELECT count(*) FROM alert_deliveries WHERE sink = ANY(%(sinks)s) AND {_DUE}",
            {**params, "lease": sending_lease},
        )
        due = cur.fetchone()[0]
    pg_conn.rollback()
    return int(missing + due)


_DUE = (  # PENDING and due, or SENDING whose sender died (its lease ran out)
    "((status = 'PENDING' AND next_attempt_at <= now()) OR (status = 'SENDING' "
    "AND sending_at < now() - make_interval(secs => %(lease)s)))"
)


def _backoff(attempts: int, base: float, retry_after: float | None) -> float:
    delay = min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return max(delay, retry_after or 0.0)


def _chart(pg_conn, event_id: int) -> bytes | None:
    row = queue.evidence_and_result(pg_conn, event_id)
    if row is None:
        return None
    try:
        return chart_for(row[0], row[1])
    except Exception:  # a chart must never stop the alert itself
        log.exception("spike chart of event %s could not be rendered; sending text only", event_id)
        return None


def _deliver_one(
    pg_conn,
    sinks: dict[str, Sink],
    stats: DeliveryStats,
    seen: set[int],
    *,
    max_attempts: int,
    backoff_seconds: float,
    sending_lease: float,
) -> bool:
    """Claim one due row and record it SENDING (committed), send it, then commit the outcome;
    False when none is due."""
    with pg_conn.cursor() as cur:
        cur.execute(
            "SELECT id, event_id, sink, payload, attempts, idempotency_key FROM alert_deliveries "
            f"WHERE sink = ANY(%(sinks)s) AND {_DUE} AND NOT (id = ANY(%(seen)s)) "
            "ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
            {"sinks": list(sinks), "seen": list(seen), "lease": sending_lease},
        )
        row = cur.fetchone()
        if row is None:
            pg_conn.rollback()
            return False
        row_id, event_id, sink_name, payload, attempts, key = row
        seen.add(row_id)  # a failed row is retried in a later pass, never in this one
        key = key or idempotency_key(event_id, sink_name)  # a re-send reuses the stored key
        attempts += 1
        if attempts > max_attempts:  # its senders kept dying mid-send
            cur.execute(
                "UPDATE alert_deliveries SET status = 'FAILED', updated_at = now(), last_error = "
                "'sender died mid-send on every attempt' WHERE id = %s",
                (row_id,),
            )
            pg_conn.commit()
            stats.failed += 1
            stats.errors.append(f"event {event_id} -> {sink_name}: sender died on every attempt")
            return True
        cur.execute(
            "UPDATE alert_deliveries SET status = 'SENDING', attempts = %s, sending_at = now(), "
            "idempotency_key = %s, updated_at = now() WHERE id = %s",
            (attempts, key, row_id),
        )
        pg_conn.commit()  # recorded before sent
        message = AlertMessage(text=payload["text"], fields=payload.get("fields") or {})
        if getattr(sinks[sink_name], "wants_chart", False):
            message = AlertMessage(message.text, message.fields, _chart(pg_conn, event_id))
        try:
            sinks[sink_name].send(message, key)
        except Exception as exc:  # a sink bug must not stop the other deliveries
            error = exc if isinstance(exc, SinkError) else SinkError(f"{type(exc).__name__}: {exc}")
            give_up = error.permanent or attempts >= max_attempts
            delay = _backoff(attempts, backoff_seconds, error.retry_after)
            cur.execute(
                "UPDATE alert_deliveries SET attempts = %s, last_error = %s, updated_at = now(), "
                "status = %s, next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                (attempts, str(error)[:2000], "FAILED" if give_up else "PENDING", delay, row_id),
            )
            stats.errors.append(f"event {event_id} -> {sink_name}: {error}")
            if give_up:
                stats.failed += 1
            else:
                stats.retried += 1
        else:
            cur.execute(
                "UPDATE alert_deliveries SET attempts = %s, status = 'SENT', sent_at = now(), "
                "updated_at = now() WHERE id = %s",
                (attempts, row_id),
            )
            stats.sent += 1
            stats.sent_after_retry += attempts > 1
    pg_conn.commit()
    return True


def deliver_alerts(
    pg_conn,
    sinks: Sequence[Sink],
    gate: AlertGate,
    *,
    limit: int = 100,
    max_attempts: int = 5,
    backoff_seconds: float = 30.0,
    sending_lease: float = SENDING_LEASE_SECONDS,
) -> DeliveryStats:
    """One delivery pass (enqueue, then send up to `limit` due rows). Commits on `pg_conn`."""
    stats = DeliveryStats()
    if not sinks:
        return stats
    by_name = {s.name: s for s in sinks}
    if len(by_name) != len(sinks):
        raise ValueError(f"sink names must be unique: {[s.name for s in sinks]}")
    autocommit = pg_conn.autocommit
    if autocommit:
        pg_conn.autocommit = False  # claim + SENDING mark commit together, before the send
    try:
        stats.enqueued = enqueue_deliveries(pg_conn, sinks, gate)
        seen: set[int] = set()
        for _ in range(limit):
            if not _deliver_one(
                pg_conn,
                by_name,
                stats,
                seen,
                max_attempts=max_attempts,
                backoff_seconds=backoff_seconds,
                sending_lease=sending_lease,
            ):
                break
    except BaseException:
        with contextlib.suppress(Exception):
            pg_conn.rollback()
        raise
    finally:
        if autocommit:
            pg_conn.autocommit = True
    return stats
