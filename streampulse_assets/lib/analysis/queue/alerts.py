"""The alert side of the queue: the alert gate as a SQL condition, the rows still to deliver per
sink (against `alert_deliveries`), one row's evidence and result, and the analysed SPIKE rows the
showcase lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streampulse_assets.lib.analysis.queue._rows import _dicts

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
