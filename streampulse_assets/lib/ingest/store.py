"""Write snapshot rows into the warehouse: replace each (platform, minute) that has new rows."""

from __future__ import annotations

import logging

import pandas as pd

from streampulse_assets.lib.duck import registered, transaction
from streampulse_assets.lib.ingest.validate import describe, is_validated, validate_snapshots
from streampulse_assets.lib.snapshots import SNAPSHOT_COLUMNS
from streampulse_assets.lib.sources.base import SourceOverlapError

log = logging.getLogger(__name__)


def upsert_snapshots(con, frame: pd.DataFrame, source: str, *, replace_other: bool = False) -> int:
    """Idempotent minute upsert in one transaction; returns the rows written.

    Only (platform, minute) pairs present in `frame` are replaced, so a platform that failed, or
    a minute nobody answered for, never deletes rows stored earlier. Duplicate keys inside `frame`
    keep the last row. Rows not yet validated (`lib/ingest/validate`) are validated here, the last
    line of defence: bad ones are logged with their value and never stored. A (platform, minute)
    stored from another source is not erased: SourceOverlapError names both sources and nothing
    is written, unless `replace_other` (a deliberate switch of source for those minutes).
    """
    if not is_validated(frame):
        frame, rejected = validate_snapshots(frame, f"{source} rows to store")
        for line in describe(rejected):
            log.warning("%s", line)
    if frame.empty:
        return 0
    rows = frame[SNAPSHOT_COLUMNS].drop_duplicates(
        subset=["platform", "category_id", "ts"], keep="last"
    )
    rows = rows.assign(source=source)
    with registered(con, "incoming_snapshots", rows), transaction(con):
        if not replace_other:
            _refuse_other_sources(con, source)
        con.execute(
            """
            DELETE FROM raw_snapshots r
            USING (SELECT DISTINCT platform, ts FROM incoming_snapshots) k
            WHERE r.platform = k.platform AND r.ts = k.ts
            """
        )
        con.execute(
            """
            INSERT INTO raw_snapshots
                (platform, category_id, ts, category_name, viewers, open_lives, top_streamers,
                 source)
            SELECT platform, category_id, ts, category_name, viewers, open_lives, top_streamers,
                   source
            FROM incoming_snapshots
            """
        )
    return len(rows)


def _refuse_other_sources(con, source: str) -> None:
    clash = con.execute(
        """
        SELECT r.source, r.platform, min(r.ts), count(DISTINCT r.ts)
        FROM raw_snapshots r
        JOIN (SELECT DISTINCT platform, ts FROM incoming_snapshots) k
          ON r.platform = k.platform AND r.ts = k.ts
        WHERE r.source <> ?
        GROUP BY ALL
        ORDER BY 3
        LIMIT 1
        """,
        [source],
    ).fetchall()
    if clash:
        other, platform, first, minutes = clash[0]
        raise SourceOverlapError(
            f"platform {platform!r} has {minutes} minute(s) from {first:%Y-%m-%d %H:%M} UTC "
            f"stored from source {other!r}; source {source!r} would erase them. Rows of one "
            "platform and minute come from one source: nothing was written. To switch those "
            f"minutes to {source!r}, delete the {other!r} rows first (or use another warehouse)."
        )
