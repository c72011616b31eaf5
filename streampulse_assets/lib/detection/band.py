"""Read exactly the raw rows a window computation needs and lay them out a few series at a time.

To compute minutes [start, end) a baseline needs a few bands of history (the previous hours, the
same time of day 24 h and 7 d earlier), never the whole history: a live tick reads a few hundred
minutes per category whatever the table holds, a backfill reads its range plus those margins.

The rows are read once. The distinct minutes read form a column axis shared by every series, so a
time window is one column range for all of them. A chunk of series (bounded in cells, so a long
backfill never holds more than a slice in memory) becomes a `Band`: its rows packed in (series,
minute) order and, per series and column, the packed index of the first row at or after that
column. A window's rows are then a packed range found by two lookups, not by a search.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from streampulse_assets.lib.timeutil import to_minute

KEYS_TABLE = "_detection_keys"
# Series x columns laid out at once (bounds the memory of a long backfill). Smaller chunks start
# the writer thread sooner and leave a shorter last insert after the last chunk, and their arrays
# are reused by the allocator instead of faulted in afresh (8-day backfill: 12 chunks, not 6).
CHUNK_CELLS = 1_000_000


@dataclass
class Rows:
    """Every raw row read for a computation, unordered."""

    keys: pd.DataFrame  # sid, platform, category_id (sid = row position)
    sid: np.ndarray  # int32
    col: np.ndarray  # int32 column of the row's minute in `minutes`
    viewers: np.ndarray  # int64
    minutes: np.ndarray  # int64 distinct minutes read, sorted: the column axis
    t0: int  # target columns [t0, t1): minutes in [start, end)
    t1: int


@dataclass
class Band:
    """One chunk of series: rows packed by (series, minute), targets in (minute, series) order."""

    keys: pd.DataFrame  # the chunk's series (sid, platform, category_id)
    sid: np.ndarray  # int64 local series of each packed row
    minute: np.ndarray  # int64 minutes since epoch
    viewers: np.ndarray  # int64
    minutes: np.ndarray  # the shared column axis
    first: np.ndarray  # (series, columns + 1): packed index of the first row at or after a column
    target: np.ndarray  # packed indices of the rows in [start, end), by (minute, series)
    tcol: np.ndarray  # their columns
    tser: np.ndarray  # their local series

    def at(self, cols: np.ndarray) -> np.ndarray:
        """Packed index of each target's series' first row at or after `cols` (per target)."""
        return self.first.ravel()[self.tser * self.first.shape[1] + cols]

    def cols_from(self, offset: int, side: str = "left") -> np.ndarray:
        """Per target, the column of minute `target minute + offset` (searchsorted `side`)."""
        t0 = int(self.tcol.min()) if len(self.tcol) else 0
        cols = np.arange(t0, int(self.tcol.max()) + 1 if len(self.tcol) else 0)
        found = np.searchsorted(self.minutes, self.minutes[cols] + offset, side=side)
        return found[self.tcol - t0]


def read_rows(con, ranges: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> Rows:
    """Rows of raw_snapshots with ts in any of `ranges` ([lo, hi) each) of the series that have a
    row in [start, end)."""
    where = " OR ".join("(ts >= ? AND ts < ?)" for _ in ranges)
    params = [v for r in ranges for v in r]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {KEYS_TABLE} AS
        SELECT (row_number() OVER (ORDER BY platform, category_id) - 1)::INTEGER AS sid,
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
    sid = np.asarray(data["sid"], dtype=np.int32)
    minute = np.asarray(data["minute"], dtype=np.int64)
    if len(minute):
        base = int(minute.min())
        seen = np.zeros(int(minute.max()) - base + 1, dtype=bool)
        seen[minute - base] = True
        minutes = base + np.flatnonzero(seen)
        col = (np.cumsum(seen, dtype=np.int32) - 1)[minute - base]
    else:
        minutes, col = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    t0, t1 = np.searchsorted(minutes, [to_minute(start, ceil=False), to_minute(end, ceil=False)])
    viewers = np.asarray(data["viewers"], dtype=np.int64)
    return Rows(keys, sid, col, viewers, minutes, int(t0), int(t1))


def bands(rows: Rows, cells: int | None = None) -> Iterator[Band]:
    """The rows as Bands of consecutive series, each at most ~`cells` (default CHUNK_CELLS, read
    at call time) series x columns."""
    cells = CHUNK_CELLS if cells is None else cells
    n_series, width = len(rows.keys), len(rows.minutes) + 1
    per = max(1, cells // width)
    for a in range(0, n_series, per):
        b = min(n_series, a + per)
        pick = slice(None) if per >= n_series else np.flatnonzero((rows.sid >= a) & (rows.sid < b))
        yield _band(rows, a, b, rows.sid[pick], rows.col[pick], rows.viewers[pick])


def _band(rows: Rows, a: int, b: int, sid, col, viewers) -> Band:
    n, width = b - a, len(rows.minutes) + 1
    flat = (sid.astype(np.int64) - a) * width + col
    present = np.zeros(n * width, dtype=bool)  # the last column of each series stays empty
    present[flat] = True
    if int(np.count_nonzero(present)) != len(flat):
        raise ValueError("raw_snapshots holds duplicate rows for one platform/category/minute")
    first = np.cumsum(present, dtype=np.int64) - present  # packed rows before each cell
    # Packed rows are the present cells in (series, column) order, which is nonzero's order:
    # only the viewers need scattering.
    packed_sid, packed_col = np.nonzero(present.reshape(n, width))
    packed_viewers = np.empty(len(flat), dtype=np.int64)
    packed_viewers[first[flat]] = viewers
    # The targets in time order (by column, then series), from contiguous (column, series)
    # copies: scanning the transposed views directly strides across every series' row.
    grid = np.ascontiguousarray(present.reshape(n, width)[:, rows.t0 : rows.t1].T)
    tcol, tser = np.nonzero(grid)
    tcol = tcol + rows.t0
    first = first.reshape(n, width)
    target = np.ascontiguousarray(first[:, rows.t0 : rows.t1].T)[grid]
    return Band(
        keys=rows.keys.iloc[a:b].reset_index(drop=True),
        sid=packed_sid,
        minute=rows.minutes[packed_col],
        viewers=packed_viewers,
        minutes=rows.minutes,
        first=first,
        target=target,
        tcol=tcol.astype(np.int64, copy=False),
        tser=tser.astype(np.int64, copy=False),
    )
