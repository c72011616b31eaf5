"""SQL behind the raw_snapshots data checks and metadata (DuckDB, window-bounded)."""

from __future__ import annotations

from datetime import datetime, timedelta

COLLAPSE_RATIO = 0.5  # the newest minute below half of the previous hour's median is a collapse


def window_summary(con, start: datetime, end: datetime) -> dict:
    rows = con.execute(
        """
        SELECT platform, count(DISTINCT category_id), count(DISTINCT ts),
               sum(viewers) FILTER (WHERE ts = (SELECT max(ts) FROM raw_snapshots
                                                WHERE ts >= $1 AND ts < $2))
        FROM raw_snapshots WHERE ts >= $1 AND ts < $2
        GROUP BY platform ORDER BY platform
        """,
        [start, end],
    ).fetchall()
    summary: dict = {}
    for platform, categories, minutes, viewers in rows:
        summary[f"{platform}_categories"] = int(categories)
        summary[f"{platform}_minutes"] = int(minutes)
        summary[f"{platform}_viewers_latest"] = int(viewers or 0)
    return summary


def duplicate_keys(con, start: datetime, end: datetime) -> int:
    return con.execute(
        """
        SELECT count(*) FROM (
            SELECT 1 FROM raw_snapshots WHERE ts >= $1 AND ts < $2
            GROUP BY platform, category_id, ts HAVING count(*) > 1)
        """,
        [start, end],
    ).fetchone()[0]


def hour_completeness(con, hour_start: datetime) -> dict[str, int]:
    """Minutes missing per platform in the hour starting at `hour_start` (platforms seen then)."""
    rows = con.execute(
        """
        SELECT platform, 60 - count(DISTINCT ts) FROM raw_snapshots
        WHERE ts >= $1 AND ts < $2 GROUP BY platform
        """,
        [hour_start, hour_start + timedelta(hours=1)],
    ).fetchall()
    return {platform: int(missing) for platform, missing in rows if missing > 0}


def category_collapse(con, end: datetime) -> list[str]:
    """Platforms whose newest minute before `end` lost half its categories or viewers."""
    rows = con.execute(
        """
        WITH per_minute AS (
            SELECT platform, ts, count(*) AS categories, sum(viewers) AS viewers
            FROM raw_snapshots WHERE ts >= $1 - INTERVAL 61 MINUTE AND ts < $1
            GROUP BY platform, ts),
        latest AS (SELECT platform, max(ts) AS ts FROM per_minute GROUP BY platform)
        SELECT p.platform, p.categories, p.viewers,
               (SELECT median(q.categories) FROM per_minute q
                WHERE q.platform = p.platform AND q.ts < p.ts),
               (SELECT median(q.viewers) FROM per_minute q
                WHERE q.platform = p.platform AND q.ts < p.ts)
        FROM per_minute p JOIN latest l USING (platform, ts)
        """,
        [end],
    ).fetchall()
    found = []
    for platform, categories, viewers, med_categories, med_viewers in rows:
        if med_categories and categories < COLLAPSE_RATIO * med_categories:
            found.append(f"{platform}: {categories} categories vs median {med_categories:.0f}")
        if med_viewers and viewers < COLLAPSE_RATIO * med_viewers:
            found.append(f"{platform}: {viewers} viewers vs median {med_viewers:.0f}")
    return found
