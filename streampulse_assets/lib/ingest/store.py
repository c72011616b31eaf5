"""Write snapshot rows into the warehouse: replace each (platform, minute) that has new rows."""

from __future__ import annotations

import pandas as pd

from streampulse_assets.lib.duck import registered, transaction
from streampulse_assets.lib.snapshots import SNAPSHOT_COLUMNS


def upsert_snapshots(con, frame: pd.DataFrame, source: str) -> int:
    """Idempotent minute upsert in one transaction.

    Only (platform, minute) pairs present in `frame` are replaced, so a platform that failed, or
    a minute nobody answered for, never deletes rows stored earlier. Duplicate keys inside `frame`
    keep the last row.
    """
    if frame.empty:
        return 0
    rows = frame[SNAPSHOT_COLUMNS].drop_duplicates(
        subset=["platform", "category_id", "ts"], keep="last"
    )
    rows = rows.assign(source=source)
    with registered(con, "incoming_snapshots", rows), transaction(con):
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
