"""The learned detector on the warehouse: read a window, score it, store scores and state.

`refresh_learned(con, start, end, cfg)` scores every raw row of [start, end) (at most one day:
the seasonal forecasts read the stored rises 1, 2 and 7 days earlier) and returns its SPIKEs; it
is `score_learned` (nothing written) then `store_learned` (one transaction). It reads (reads.py)
raw_snapshots with rolling_baselines.median_60 as the level, the error model's state at the
start of the window's first hour (advanced over any complete hours since it was stored, from the
errors stored for them), and the scores of the quiet period before the window. A live minute and
a backfill of the same minutes see the same rows and the same state, so they store the same
scores and return the same SPIKEs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from streampulse_assets.lib.detection.learned.config import DEFAULT, LearnedConfig
from streampulse_assets.lib.detection.learned.features import (
    CLOCK_GAPS,
    Panel,
    coarse_levels,
    model_inputs,
    rises,
    series_steps,
    time_scale,
    window_minutes,
    window_rows,
)
from streampulse_assets.lib.detection.learned.model import (
    FIELDS,
    PROFILE,
    ModelState,
    profile_columns,
)
from streampulse_assets.lib.detection.learned.reads import (
    HOUR,
    Series,
    advance,
    column,
    fill_lags,
    lags_before,
    load_state,
    quiet_seeds,
    read_raw,
    with_history,
)
from streampulse_assets.lib.detection.learned.run import alerts, score_panel, spike_rows
from streampulse_assets.lib.duck import registered, transaction
from streampulse_assets.lib.timeutil import (
    minute_to_dt,
    minutes_to_datetime64,
    to_minute,
)


def rise_columns(cfg: LearnedConfig) -> list[str]:
    if len(cfg.windows_minutes) != 4:
        raise ValueError("learned_scores stores the rises of 4 windows")
    return [f"r_{i}" for i in range(4)]


def _write_state(con, state: ModelState, series: Series, loaded: np.ndarray, h0: int) -> None:
    """Store the state of every series that learned since it was loaded (each at its own hour),
    replacing the states stored for hours after h0 up to the newest written."""
    sids = np.flatnonzero(state.hour != loaded)
    if not len(sids):
        return
    k, c = state.arrays["weight"].shape[1:]
    n = len(sids)
    frame = pd.DataFrame(
        {
            "platform": np.repeat(series.platform[sids], k * c),
            "category_id": np.repeat(series.category[sids], k * c),
            "hour": np.repeat(minutes_to_datetime64(state.hour[sids] * HOUR), k * c),
            "window": np.tile(np.repeat(np.arange(k), c), n).astype(np.int16),
            "cand": np.tile(np.arange(c), n * k).astype(np.int16),
            **{f: state.arrays[f][sids].reshape(-1) for f in FIELDS},
            **_profile_cells(state, sids, k * c),
        }
    )
    cols = ", ".join(f'"{x}"' for x in frame.columns)
    top = int(state.hour[sids].max())
    with registered(con, "_learned_state", frame):
        con.execute(
            "DELETE FROM learned_state s USING (SELECT DISTINCT platform, category_id "
            "FROM _learned_state) f WHERE s.platform = f.platform "
            "AND s.category_id = f.category_id AND s.hour > ? AND s.hour <= ?",
            [minute_to_dt(h0 * HOUR), minute_to_dt(top * HOUR)],
        )
        con.execute(f"INSERT INTO learned_state ({cols}) SELECT {cols} FROM _learned_state")


def _profile_cells(state: ModelState, sids: np.ndarray, cells: int) -> dict[str, np.ndarray]:
    """The profile columns of the state rows of `sids` (`cells` rows per series): each series'
    profile on its window 0 / candidate 0 row, NaN (stored as NULL) on the others."""
    out = {}
    for name in PROFILE:
        for h, col in enumerate(profile_columns(name)):
            values = np.full((len(sids), cells), np.nan)
            values[:, 0] = state.profile[name][sids, h]
            out[col] = values.reshape(-1)
    return out


def _write_scores(con, series: Series, sid: np.ndarray, columns: dict) -> None:
    """Insert rows into learned_scores from numpy `columns` (NaN stored as NULL) of series
    `sid`, through Arrow with the names as dictionaries over the series (no join). `columns`
    is consumed: each column is dropped from it once converted, so a day's rows are not held
    twice.

    The rows are stored hour by hour (series order within an hour), as live ticks store them: a
    later read of a few minutes (the rises one seasonal lag back) then skips the row groups of
    other hours by their time range. Stored in series order, each row group of a backfilled day
    spanned the whole day, and each of a tick's three lag reads scanned the day (22-43 ms
    instead of 3 ms after a 30-day backfill). The hours are ordered by a stable radix sort of
    their 16-bit offsets, cheaper than DuckDB sorting the rows by time."""
    hours = columns["ts"].astype("datetime64[h]").astype(np.int64)
    order = None
    if len(hours) and hours.min() != hours.max():  # a live tick's rows are one hour already
        offset = hours - hours.min()
        small = offset.max() < 2**15  # a day slice's: numpy radix-sorts 16-bit keys
        order = np.argsort(offset.astype(np.int16) if small else offset, kind="stable")
        sid = sid[order]
    del hours
    data = {}
    for name, values in (("platform", series.platform), ("category_id", series.category)):
        data[name] = pa.DictionaryArray.from_arrays(sid.astype(np.int32), pa.array(list(values)))
    for name in list(columns):
        values = columns.pop(name)
        if order is not None:
            values = values[order]
        nulls = np.isnan(values) if values.dtype.kind == "f" else None
        data[name] = pa.array(values, mask=nulls)
    table = pa.table(data)
    names = ", ".join(f'"{c}"' for c in table.column_names)
    with registered(con, "_learned_scores", table):
        con.execute(f"INSERT INTO learned_scores ({names}) SELECT {names} FROM _learned_scores")


# The SPIKE rows: stored columns of learned_scores, then the span of the row's window for its
# series (features.window_minutes).
SPIKE_COLUMNS = ["platform", "category_id", "ts", "current", "level", "score", "z", "window",
                 "window_minutes"]  # fmt: skip
ALERT_COLUMNS = ["platform", "category_id", "ts"]


def stored_alerts(con) -> pd.DataFrame:
    """The stored rows that are alerts on either side (ALERT_COLUMNS, sorted): what NAB scores
    for the learned detector; its SPIKE events are the alerts on rises."""
    cols = ", ".join(ALERT_COLUMNS)
    return con.execute(f"SELECT {cols} FROM learned_scores WHERE alert ORDER BY ALL").df()


@dataclass
class ScoredWindow:
    """[start, end) scored, not yet stored: the rows (`sid`, numpy `columns` of
    learned_scores), the state to store (`loaded`: each series' hour when loaded; `h0`: the
    window's first hour), the SPIKE rows (SPIKE_COLUMNS) and the memory its inputs took
    (`spare`, for the next window's: features.model_inputs)."""

    start: datetime
    end: datetime
    spikes: pd.DataFrame
    series: Series | None = None
    sid: np.ndarray | None = None
    columns: dict | None = None
    state: ModelState | None = None
    loaded: np.ndarray | None = None
    h0: int = 0
    spare: np.ndarray | None = None  # the inputs' memory, for the next window's (model_inputs)


@dataclass
class PreparedWindow:
    """What scoring [start, end) needs before any stored state or rises: the raw rows with
    their series, level and the model's inputs (`rows`: the window's rows in the panel; `inputs`
    [K, 1 + lags, rows] holds their rises and the seasonal rises of the lags in `filled`, read
    ahead). `series` is None when the window has no rows. Made by prepare_learned, so a caller
    can read it ahead on another connection while the previous window is being stored."""

    start: datetime
    end: datetime
    series: Series | None = None
    panel: Panel | None = None
    viewers: np.ndarray | None = None
    rows: np.ndarray | None = None
    inputs: np.ndarray | None = None
    filled: frozenset = frozenset()


# How far back the rows of a series with few rows in the window's read are read to tell its step.
STEP_HISTORY = timedelta(days=1)


def prepare_learned(
    con,
    start: datetime,
    end: datetime,
    cfg: LearnedConfig = DEFAULT,
    stored_until: datetime | None = None,
    spare: np.ndarray | None = None,
) -> PreparedWindow:
    """Read the raw rows of [start, end) (at most one day) with their history and measure their
    rises; with `stored_until`, also the seasonal rises stored before it (rows from it on may be
    being replaced meanwhile). Nothing else here reads the learned tables. `spare`: memory for
    the inputs (a scored window's `spare`)."""
    if end - start > timedelta(days=1):
        raise ValueError("refresh_learned takes at most one day; slice longer ranges")
    history = timedelta(minutes=cfg.history_minutes)
    raw, names = read_raw(con, start - history, end)
    if not len(raw["h"]):
        return PreparedWindow(start, end)
    series = Series(raw["h"], names)
    n_series = len(series.keys)
    few = np.bincount(series.codes, minlength=n_series) <= CLOCK_GAPS
    if few.any():  # too few rows to tell their step: read the day before for those series
        raw = with_history(con, raw, series.keys[few], start - STEP_HISTORY, start - history)
        series = Series(raw["h"], names)
    step = series_steps(series.codes, raw["minute"].astype(np.int64), n_series)
    scale = time_scale(cfg, step)
    for group, reach in ((few, start - STEP_HISTORY), (~few, start - history)):
        coarse = group & (scale > 1.0)  # a coarse series' spans reach further back
        wanted = start - history * float(scale[coarse].max()) if coarse.any() else reach
        if wanted < reach:
            raw = with_history(con, raw, series.keys[coarse], wanted, reach)
            series = Series(raw["h"], names)
    sid, minute = series.codes, raw["minute"].astype(np.int64)
    viewers = column(raw, "viewers")
    level = column(raw, "median_60").astype(np.float64)
    del raw  # memory: its columns are copied out
    panel = Panel(sid, minute, viewers.astype(np.float64), level, step)
    coarse_levels(panel, cfg)
    rows = np.flatnonzero(minute >= to_minute(start, ceil=False))
    inputs = model_inputs(cfg, len(rows), spare)
    rises(panel, cfg, rows, out=inputs[:, 0])
    ahead = frozenset()
    if stored_until is not None:
        ahead = frozenset(lags_before(start, end, cfg, stored_until))
        cols = rise_columns(cfg)
        fill_lags(con, series, sid[rows], minute[rows], start, end, cols, cfg, inputs, ahead)
    return PreparedWindow(start, end, series, panel, viewers, rows, inputs, ahead)


def score_learned(
    con, start: datetime, end: datetime, cfg: LearnedConfig = DEFAULT
) -> ScoredWindow:
    """Score the raw rows of [start, end) (at most one day) from the stored rows and state;
    nothing is written (store_learned does)."""
    return score_prepared(con, prepare_learned(con, start, end, cfg), cfg)


def score_prepared(con, prepared: PreparedWindow, cfg: LearnedConfig = DEFAULT) -> ScoredWindow:
    """score_learned of a window read by prepare_learned: the stored rises one seasonal lag
    earlier, the state, the scores and the SPIKEs; nothing is written."""
    start, end = prepared.start, prepared.end
    if prepared.series is None:
        return ScoredWindow(start, end, pd.DataFrame(columns=SPIKE_COLUMNS))
    cols = rise_columns(cfg)
    series, panel, viewers, rows = prepared.series, prepared.panel, prepared.viewers, prepared.rows
    sid, minute, level = panel.sid, panel.minute, panel.level
    n_series = len(series.keys)
    spans = window_rows(cfg, panel.step)
    inputs, prepared.inputs = prepared.inputs, None  # inputs[k, 0] is window k's rise
    rest = set(cfg.seasonal_lags_minutes) - prepared.filled
    fill_lags(con, series, sid[rows], minute[rows], start, end, cols, cfg, inputs, rest)
    h0 = int(minute[rows].min() // HOUR) if len(rows) else to_minute(start, ceil=False) // HOUR
    state = load_state(con, series, minute_to_dt(h0 * HOUR), (n_series, 4, inputs.shape[1]))
    loaded = state.hour.copy()
    advance(con, state, series, spans, h0, cols, cfg)
    start_m, end_m = to_minute(start, ceil=False), to_minute(end, ceil=False)
    hours = np.arange(-(-start_m // HOUR), end_m // HOUR)  # hours wholly inside the window
    complete = hours[(hours * HOUR >= start_m) & ((hours + 1) * HOUR <= end_m)]
    scored = score_panel(panel, rows, inputs, state, cfg, complete_hours=complete)
    above, marked = quiet_seeds(con, series, start, cfg)
    alert = alerts(sid[rows], minute[rows], scored.score, cfg, above)
    spike = spike_rows(  # an alert on a rise to the size of a spike
        sid[rows], minute[rows], scored.score, scored.z, viewers[rows], level[rows], cfg, marked
    )
    out = {
        "ts": minutes_to_datetime64(minute[rows]),
        "viewers": viewers[rows],
        "level": level[rows],
        "score": scored.score,
        "z": scored.z,
        "window": scored.window.astype(np.int16),
        "alert": alert,
        "spike": spike,
        **{c: inputs[i, 0].copy() for i, c in enumerate(cols)},
    }
    spare, inputs = inputs.base, None  # the stored rises are copied out; its memory is kept
    at = np.flatnonzero(spike)
    found = {
        "platform": series.platform[sid[rows][at]],
        "category_id": series.category[sid[rows][at]],
    }
    found |= {c: out["viewers" if c == "current" else c][at] for c in SPIKE_COLUMNS[2:-1]}
    span = window_minutes(cfg, panel.step)[sid[rows][at], np.maximum(found["window"], 0)]
    found["window_minutes"] = span
    spikes = pd.DataFrame(found)
    return ScoredWindow(start, end, spikes, series, sid[rows], out, state, loaded, h0, spare)


def store_learned(con, window: ScoredWindow) -> None:
    """Replace [start, end) of learned_scores with the window's rows and store the state of the
    series that learned, in one transaction."""
    with transaction(con):
        con.execute(
            "DELETE FROM learned_scores WHERE ts >= ? AND ts < ?", [window.start, window.end]
        )
        if window.series is not None:
            columns, window.columns = window.columns, None  # consumed by the write
            _write_scores(con, window.series, window.sid, columns)
            _write_state(con, window.state, window.series, window.loaded, window.h0)


def refresh_learned(
    con, start: datetime, end: datetime, cfg: LearnedConfig = DEFAULT
) -> pd.DataFrame:
    """Score raw rows of [start, end) (at most one day), store them, return the SPIKE rows."""
    window = score_learned(con, start, end, cfg)
    store_learned(con, window)
    return window.spikes
