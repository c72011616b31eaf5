"""Retention on the queue: old alert deliveries and old finished rows are deleted (an operator's
labelled rows are kept)."""

from __future__ import annotations

from datetime import datetime


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
