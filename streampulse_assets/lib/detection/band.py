"""Read exactly the raw rows a window computation needs, as sorted numpy arrays.

To compute minutes [start, end) a baseline needs a few bands of history (the previous hours, the
same time of day 24 h and 7 d earlier), never the whole history: a live tick reads a few hundred
minutes per category whatever the table holds, a backfill reads its range plus those margins.
Rows are sorted by (series, minute) and each series is shifted by a large gap (`off`), so one
`searchsorted` finds any time window of any series at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from streampulse_assets.lib.duck import registered, transaction

EPOCH = datetime(1970, 1, 1)
KEYS_TABLE = "_detection_keys"


def to_minute(ts: datetime) -> int:
    return int((ts - EPOCH) // timedelta(minutes=1))


def from_minutes(minutes: np.ndarray) -> np.ndarray:
    return (np.asarray(minutes, dtype=np.int64) * 60_000_000).astype("datetime64[us]")


@dataclass
class Band:
    keys: pd.DataFrame  # sid, platform, category_id (also in the temp table KEYS_TABLE)
    sid: np.ndarray  # int64, sorted
    minute: np.ndarray  # int64 minutes since epoch, sorted within sid
    viewers: np.ndarray  # int64
    off: np.ndarray  # sid * gap + minute: strictly increasing
    target: np.ndarray  # indices of rows with start <= ts < end, by (minute, sid)

    def __len__(self) -> int:
        return len(self.sid)


def read_band(con, ranges: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> Band:
    """Rows of raw_snapshots with ts in any of `ranges` ([lo, hi) each); targets in [start, end)."""
    where = " OR ".join("(ts >= ? AND ts < ?)" for _ in ranges)
    params = [v for r in ranges for v in r]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {KEYS_TABLE} AS
        SELECT (row_number() OVER (ORDER BY platform, category_id) - 1)::BIGINT AS sid,
               platform, category_id
        FROM (SELECT DISTINCT platform, category_id FROM raw_snapshots
              WHERE ts >= ? AND ts < ?)
        """,
        [start, end],
    )
    keys = con.execute(f"SELECT sid, platform, category_id FROM {KEYS_TABLE} ORDER BY sid").df()
    data = con.execute(
        f"""
        SELECT k.sid, (epoch_us(r.ts) // 60000000)::BIGINT AS minute, r.viewers::BIGINT AS viewers
        FROM raw_snapshots r JOIN {KEYS_TABLE} k USING (platform, category_id)
        WHERE {where}
        """,
        params,
    ).fetchnumpy()
    sid = np.asarray(data["sid"], dtype=np.int64)
    minute = np.asarray(data["minute"], dtype=np.int64)
    viewers = np.asarray(data["viewers"], dtype=np.int64)
    if len(sid):
        base = int(minute.min())
        gap = int(minute.max()) - base + 100_000  # > any window length: windows never cross series
        off = sid * gap + (minute - base)
        order = np.argsort(off, kind="stable")
        sid, minute, viewers, off = sid[order], minute[order], viewers[order], off[order]
        if np.any(np.diff(off) == 0):
            raise ValueError("raw_snapshots holds duplicate rows for one platform/category/minute")
    else:
        off = minute.copy()
    lo, hi = to_minute(start), to_minute(end)
    target = np.flatnonzero((minute >= lo) & (minute < hi))
    target = target[np.lexsort((sid[target], minute[target]))]  # time order, for storage
    return Band(keys, sid, minute, viewers, off, target)


def write_frame(
    con, table: str, band: Band, columns: dict[str, np.ndarray], start: datetime, end: datetime
) -> int:
    """Replace [start, end) of `table` with one row per target of `band` (in time order).

    `columns` are arrays aligned with `band.target`, or (values, missing-mask) pairs. Built as an
    Arrow table (no copies, no join) so the insert keeps the time order: later reads of a window
    skip the other row groups.
    """
    sids = band.sid[band.target]
    keys = band.keys.sort_values("sid")
    data = {
        "platform": pa.DictionaryArray.from_arrays(
            pa.array(sids, pa.int32()), pa.array(keys["platform"].astype(str).to_list())
        ),
        "category_id": pa.DictionaryArray.from_arrays(
            pa.array(sids, pa.int32()), pa.array(keys["category_id"].astype(str).to_list())
        ),
    }
    for name, value in columns.items():
        if isinstance(value, tuple):
            data[name] = pa.array(value[0], mask=value[1])
        elif value.dtype.kind == "f":
            data[name] = pa.array(value, mask=np.isnan(value))  # NaN -> NULL
        else:
            data[name] = pa.array(value)
    rows = pa.table(data)
    cols = ", ".join(data)
    with registered(con, "_detection_rows", rows), transaction(con):
        con.execute(f"DELETE FROM {table} WHERE ts >= ? AND ts < ?", [start, end])
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _detection_rows")
    return rows.num_rows
