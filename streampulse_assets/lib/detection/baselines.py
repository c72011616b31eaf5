"""Rolling (previous 60 minutes) and seasonal (same time of day 24 h / 7 d earlier) baselines.

Both are computed set-wise for a window [start, end) from the raw rows that exist: a missing
minute is absent from the windows, never a zero. Series are processed a chunk at a time (see
band.py) and written as they are done, inside one transaction per refresh.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from streampulse_assets.lib.detection.band import Band, bands, read_rows
from streampulse_assets.lib.detection.config import DetectionConfig, get_config
from streampulse_assets.lib.detection.windows import (
    sorted_medians,
    step_sizes,
    window_mean,
    window_median,
)
from streampulse_assets.lib.duck import transaction
from streampulse_assets.lib.timeutil import minutes_to_datetime64

DAY = 1440
WEEK = 7 * DAY
MAD_TO_SD = 1.4826 / math.sqrt(2)  # median |x_t - x_t-1| -> standard deviation of the noise

Compute = Callable[[Band, DetectionConfig], dict]


def noise_hours(cfg: DetectionConfig) -> int:
    return max(1, cfg.noise_window_minutes // 60)


def rolling_ranges(start: datetime, end: datetime, cfg: DetectionConfig):
    hour = start.replace(minute=0, second=0, microsecond=0)
    back = noise_hours(cfg) * 60 + cfg.short_window_minutes
    return [(min(hour - timedelta(minutes=back), start - timedelta(minutes=back)), end)]


def seasonal_ranges(start: datetime, end: datetime, cfg: DetectionConfig):
    half = cfg.season_half_window_minutes
    out = []
    for lag in (DAY, WEEK):
        out.append((start - timedelta(minutes=lag + half), end - timedelta(minutes=lag - half)))
    return [*out, (start, end)]


def hourly_noise(band: Band, cfg: DetectionConfig) -> np.ndarray:
    """Robust noise deviation per target row.

    Median over the previous N whole clock hours of each hour's median |step| (a step is the
    change from the series' previous row, if that is within the short window), times
    1.4826 / sqrt(2). Constant within an hour: cheap, exact, independent of the window read.
    """
    n_hours = noise_hours(cfg)
    if not len(band.target):
        return np.zeros(0)
    steps = step_sizes(band.viewers, band.sid, band.minute, cfg.short_window_minutes)
    hour = band.minute // 60
    target_hour = hour[band.target]
    h0, h1 = int(target_hour.min()) - n_hours, int(target_hour.max())
    ok = ~np.isnan(steps) & (hour >= h0) & (hour < h1)
    # per (series, hour) median of the steps: rows are sorted by series then minute
    key = band.sid[ok] * (h1 - h0 + 1) + (hour[ok] - h0)  # sorted
    starts = np.flatnonzero(np.diff(key, prepend=-1))
    uniq, n = key[starts], np.diff(starts, append=len(key))
    per_hour = np.full((len(band.keys), h1 - h0 + 1), np.nan)
    if len(uniq):
        per_hour.ravel()[uniq] = sorted_medians(key, steps[ok], starts, n)
    # per (series, target hour) median of the previous N hours' medians (NaN ignored)
    grid = np.stack(
        [per_hour[:, n_hours - j : per_hour.shape[1] - j] for j in range(1, n_hours + 1)], axis=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows -> NaN
        med = np.nanmedian(grid, axis=2)
    return med[band.tser, target_hour - h0 - n_hours] * MAD_TO_SD


def compute_rolling(band: Band, cfg: DetectionConfig) -> dict[str, np.ndarray]:
    """rolling_baselines columns, aligned with band.target."""
    t = band.target
    lo = band.at(band.cols_from(-cfg.short_window_minutes))
    n = t - lo
    has = n > 0
    prev_i = np.where(has, t - 1, 0)
    ago_i = np.where(has, lo, 0)
    return {
        "ts": minutes_to_datetime64(band.minute[t]),
        "viewers": band.viewers[t],
        "median_60": window_median(band.viewers, lo, t),
        "n_60": n.astype(np.int32),
        "prev_ts": (minutes_to_datetime64(band.minute[prev_i]), ~has),
        "prev_viewers": (band.viewers[prev_i], ~has),
        "ago_ts": (minutes_to_datetime64(band.minute[ago_i]), ~has),
        "viewers_60_ago": (band.viewers[ago_i], ~has),
        "noise_sd": hourly_noise(band, cfg),
    }


def compute_seasonal(band: Band, cfg: DetectionConfig) -> dict[str, np.ndarray]:
    """seasonal_baselines columns, aligned with band.target."""
    half = cfg.season_half_window_minutes
    expected = 2 * half // cfg.step + 1
    prefix = np.concatenate([[0], np.cumsum(band.viewers)])
    cols: dict[str, np.ndarray] = {"ts": minutes_to_datetime64(band.minute[band.target])}
    for name, lag in (("24h", DAY), ("7d", WEEK)):
        lo = band.at(band.cols_from(-lag - half, "left"))
        hi = band.at(band.cols_from(-lag + half, "right"))
        mean, count = window_mean(prefix, lo, hi)
        cols[f"mean_{name}"] = mean
        cols[f"n_{name}"] = count.astype(np.int32)
        cols[f"coverage_{name}"] = np.minimum(1.0, count / expected)
    return cols


def _arrow(band: Band, columns: dict) -> pa.Table:
    """One row per target of `band`, in time order; (values, missing) pairs and NaN -> NULL."""
    sids = band.sid[band.target].astype(np.int32)
    data = {}
    for key in ("platform", "category_id"):
        names = pa.array(band.keys[key].astype(str).to_list())
        data[key] = pa.DictionaryArray.from_arrays(pa.array(sids), names)
    for name, value in columns.items():
        if isinstance(value, tuple):
            data[name] = pa.array(value[0], mask=value[1])
        elif value.dtype.kind == "f":
            data[name] = pa.array(value, mask=np.isnan(value))
        else:
            data[name] = pa.array(value)
    return pa.table(data)


def _insert(con, table: str, chunk: pa.Table) -> None:
    names = ", ".join(chunk.column_names)
    # A replacement scan of the local `chunk`, not con.register(): inside a transaction a
    # registered (even unregistered) view keeps its data alive until COMMIT, so every chunk
    # would stay in memory.
    con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM chunk")


def refresh(
    con, start: datetime, end: datetime, cfg: DetectionConfig, ranges, tables: dict[str, Compute]
) -> int:
    """Replace [start, end) of each table with its computed rows (one transaction); rows per table.

    Rows are read once for all tables. Series are computed a chunk at a time while the previous
    chunk is inserted by a writer thread (DuckDB releases the GIL), so the two overlap; the
    connection is only ever used by one thread at a time.
    """
    rows = read_rows(con, ranges, start, end)
    written, pending = 0, None
    # exits in reverse order: the writer has finished before COMMIT or ROLLBACK
    with transaction(con), ThreadPoolExecutor(1, thread_name_prefix="baselines") as writer:
        for table in tables:
            con.execute(f"DELETE FROM {table} WHERE ts >= ? AND ts < ?", [start, end])
        for band in bands(rows):
            chunks = {table: _arrow(band, fn(band, cfg)) for table, fn in tables.items()}
            if pending is not None:
                pending.result()  # at most one chunk in flight (bounded memory)
            pending = writer.submit(lambda c=chunks: [_insert(con, t, x) for t, x in c.items()])
            written += len(band.target)
        if pending is not None:
            pending.result()
    return written


TABLES: dict[str, tuple[Compute, Callable]] = {
    "rolling_baselines": (compute_rolling, rolling_ranges),
    "seasonal_baselines": (compute_seasonal, seasonal_ranges),
}


def refresh_baselines(
    con,
    start: datetime,
    end: datetime,
    config: DetectionConfig | str | None = None,
    tables: Iterable[str] = tuple(TABLES),
) -> int:
    """Baseline `tables` (default both) for [start, end) from one read of the raw rows; rows
    written per table (delete-window-then-insert).

    Every window is exact, so reading the union of the tables' ranges gives the same rows as
    refreshing each table alone; it only saves scans.
    """
    cfg = get_config(config)
    chosen = {t: TABLES[t][0] for t in tables}
    ranges = [r for t in chosen for r in TABLES[t][1](start, end, cfg)]
    return refresh(con, start, end, cfg, ranges, chosen) if chosen else 0


def refresh_rolling_baselines(con, start: datetime, end: datetime, config=None) -> int:
    """Recompute rolling_baselines for [start, end); rows written."""
    return refresh_baselines(con, start, end, config, tables=["rolling_baselines"])


def refresh_seasonal_baselines(con, start: datetime, end: datetime, config=None) -> int:
    """Recompute seasonal_baselines for [start, end); rows written."""
    return refresh_baselines(con, start, end, config, tables=["seasonal_baselines"])
