"""The numbers behind the detection assets' inline checks (defs/detection/checks.py)."""

from __future__ import annotations

from datetime import datetime

TABLES = ("rolling_baselines", "seasonal_baselines")


def window_coverage(con, table: str, start: datetime, end: datetime) -> tuple[int, int]:
    """(raw snapshot rows, rows of the baseline `table`) in [start, end)."""
    if table not in TABLES:
        raise ValueError(f"{table} is not a baseline table ({', '.join(TABLES)})")
    raw, stored = con.execute(
        f"""
        SELECT (SELECT count(*) FROM raw_snapshots WHERE ts >= $start AND ts < $end),
               (SELECT count(*) FROM {table} WHERE ts >= $start AND ts < $end)
        """,
        {"start": start, "end": end},
    ).fetchall()[0]
    return int(raw), int(stored)


def duplicate_event_keys(con, start: datetime, end: datetime) -> int:
    """(detector, platform, category_id, ts) keys of signal_events in [start, end) stored twice."""
    return int(
        con.execute(
            """
            SELECT count(*) FROM (
                SELECT detector, platform, category_id, ts FROM signal_events
                WHERE ts >= $start AND ts < $end GROUP BY ALL HAVING count(*) > 1)
            """,
            {"start": start, "end": end},
        ).fetchall()[0][0]
    )
