"""Reads of analysed (DONE) rows for the analysis: a streamer's recent analyses (the search
context) and the rows analysed since a time (the warehouse copy)."""

from __future__ import annotations

from datetime import datetime


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
