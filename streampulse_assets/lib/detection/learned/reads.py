"""Reading a learned window's inputs from the warehouse: the raw rows with their level, the
stored rises one seasonal lag earlier, the error model's state (advanced over the complete hours
since it was stored) and the last alert-level rows before the window. Series travel as numbers
(DuckDB `hash(platform, category_id)`); rows come back sorted by series key and time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from streampulse_assets.lib.detection.learned.features import keys, lagged, model_inputs
from streampulse_assets.lib.detection.learned.model import (
    FIELDS,
    PROFILE,
    ModelState,
    profile_columns,
)
from streampulse_assets.lib.detection.learned.run import learn_hour
from streampulse_assets.lib.duck import registered
from streampulse_assets.lib.timeutil import (
    datetime64_to_minutes,
    minute_to_dt,
    minutes_to_datetime64,
    to_minute,
)

HOUR = 60


class Series:
    """The series of a window by key (DuckDB `hash(platform, category_id)`), so the millions of
    rows travel as numbers; names are looked up once per series."""

    def __init__(self, key: np.ndarray, names: pd.DataFrame):
        new = np.ones(len(key), dtype=bool)
        new[1:] = key[1:] != key[:-1]  # rows come sorted by key
        self.keys = key[new]
        self.codes = np.cumsum(new) - 1
        names = names.drop_duplicates("h").set_index("h").reindex(self.keys)
        self.platform = names["platform"].to_numpy(dtype=object)
        self.category = names["category_id"].to_numpy(dtype=object)

    def of(self, key: np.ndarray) -> np.ndarray:
        """Series ids of keys (-1 = not in this window). Stored rows come in runs of one series,
        so each run's key is looked up once."""
        key = np.asarray(key)
        if not len(key):
            return np.zeros(0, dtype=np.int64)
        new = np.empty(len(key), dtype=bool)
        new[0], new[1:] = True, key[1:] != key[:-1]
        heads = np.flatnonzero(new)
        run = key[heads]
        pos = np.minimum(np.searchsorted(self.keys, run), len(self.keys) - 1)
        ids = np.where(self.keys[pos] == run, pos, -1).astype(np.int64)
        return np.repeat(ids, np.diff(heads, append=len(key)))


_KEY = "hash(platform, category_id) AS h"
_MINUTE = "epoch_us(ts) // 60000000 AS minute"


def _nan_for_null(col: str) -> str:
    """`col` with NULL read as NaN: a column holding NULLs is fetched as a masked array, whose
    mask and filled copy (column) cost more than DuckDB writing NaN."""
    return f"coalesce({col}, 'NaN'::DOUBLE) AS {col}"


def in_series_order(rows: dict) -> dict:
    """`rows` (numpy columns with `h` and `minute`) sorted by series key and time, as ORDER BY
    h, ts would give them: sorting in numpy is cheaper than DuckDB sorting the whole payload."""
    codes, uniq = pd.factorize(rows["h"])
    small = np.int16 if len(uniq) < 2**15 else np.int64  # numpy radix-sorts 16-bit keys
    rank = np.empty(len(uniq), dtype=small)
    rank[np.argsort(uniq)] = np.arange(len(uniq))
    order = np.lexsort((rows["minute"], rank[codes]))
    return {name: values[order] for name, values in rows.items()}


def read_raw(con, lo: datetime, hi: datetime) -> tuple[dict, pd.DataFrame]:
    """Raw viewers with their level (rolling_baselines holds both for every raw row), as numpy
    arrays sorted by series key and time, and the names of the series."""
    rows = con.execute(
        f"SELECT {_KEY}, {_MINUTE}, viewers, {_nan_for_null('median_60')} FROM rolling_baselines "
        "WHERE ts >= ? AND ts < ?",
        [lo, hi],
    ).fetchnumpy()
    names = con.execute(
        f"SELECT DISTINCT {_KEY}, platform, category_id FROM rolling_baselines "
        "WHERE ts >= ? AND ts < ?",
        [lo, hi],
    ).df()
    return in_series_order(rows), names


def with_history(con, rows: dict, series_keys: np.ndarray, lo: datetime, hi: datetime) -> dict:
    """`rows` (read_raw's) with the raw rows of the series `series_keys` in [lo, hi) added, in
    series order: the longer history of the series whose spans are stretched (a coarse step)."""
    more = con.execute(
        f"SELECT {_KEY}, {_MINUTE}, viewers, {_nan_for_null('median_60')} FROM rolling_baselines "
        "WHERE ts >= ? AND ts < ? AND list_contains(?::UBIGINT[], hash(platform, category_id))",
        [lo, hi, [int(k) for k in series_keys]],
    ).fetchnumpy()
    merged = {c: np.concatenate([np.asarray(more[c]), np.asarray(rows[c])]) for c in rows}
    return in_series_order(merged)


def stored_rises(con, lo: datetime, hi: datetime, cols: list[str]) -> dict:
    """The rises stored for [lo, hi), in no particular order."""
    sel = ", ".join(_nan_for_null(c) for c in cols)
    return con.execute(
        f"SELECT {_KEY}, {_MINUTE}, {sel} FROM learned_scores WHERE ts >= ? AND ts < ?",
        [lo, hi],
    ).fetchnumpy()


def column(rows: dict, name: str) -> np.ndarray:
    values = rows[name]
    return values.filled(np.nan) if np.ma.isMaskedArray(values) else np.asarray(values)


def rises_of(rows: dict, cols: list[str]) -> np.ndarray:
    """The stored rises [K, n] (rows last)."""
    return np.stack([column(rows, c).astype(np.float64) for c in cols], axis=0)


# A series that had rows in the last hours has its newest state among the states of those hours
# (one is stored per series and hour it learned), so the newest state is first looked for there:
# the table holds every hour of the retention period (~16 rows per series and hour), and finding
# the newest state per series over all of it cost a live tick more the longer the history.
RECENT_STATE_HOURS = 6
_STATE_KEYS = "_learned_state_keys"


def load_state(con, series: Series, hour: datetime, shape) -> ModelState:
    """The newest stored state at or before `hour` of every series (empty where none).

    Two narrow reads, fetched as numpy (a pandas frame of the ~60 columns cost a live tick more
    than the query): the model's fields of every (window, candidate) row of each series' newest
    state, then the time-of-day profile from the one row of that state that carries it (the
    others hold NULLs), looked up by the series and hour the first read found."""
    n_series, k, c = shape
    state = ModelState.empty(n_series, k, c, np.full(n_series, to_minute(hour, ceil=False) // HOUR))
    fields = ", ".join(f"s.{f}" for f in FIELDS)
    rows = _newest_states(con, series, hour, f's.hour, s."window", s.cand, {fields}')
    if not len(rows["h"]):
        return state
    sid = series.of(rows["h"])
    cand = rows["cand"].astype(np.int64)
    keep = (sid >= 0) & (cand < c)  # a lag no longer configured is dropped
    sid, w, cand = sid[keep], rows["window"].astype(np.int64)[keep], cand[keep]
    for f in FIELDS:
        state.arrays[f][sid, w, cand] = rows[f][keep]
    state.hour[sid] = datetime64_to_minutes(rows["hour"][keep]) // HOUR
    found = np.unique(sid)
    newest = pd.DataFrame(
        {
            "platform": series.platform[found],
            "category_id": series.category[found],
            "hour": minutes_to_datetime64(state.hour[found] * HOUR),
        }
    )
    cols = [col for name in PROFILE for col in profile_columns(name)]
    with registered(con, _STATE_KEYS, newest):
        profile = con.execute(
            f"SELECT {_KEY}, {', '.join(_nan_for_null(col) for col in cols)} FROM learned_state "
            f"JOIN {_STATE_KEYS} USING (platform, category_id, hour) "
            'WHERE "window" = 0 AND cand = 0'
        ).fetchnumpy()
    psid = series.of(profile["h"])
    for name in PROFILE:
        for h, col in enumerate(profile_columns(name)):
            state.profile[name][psid, h] = np.nan_to_num(profile[col], nan=0.0)
    return state


def _newest_states(con, series: Series, hour: datetime, select: str) -> dict:
    """`select` (columns of learned_state s) of each series' newest state at or before `hour`,
    with its key `h`: first among the states of the last RECENT_STATE_HOURS, then, for the
    series of `series` that have none there (new or intermittent series), among all of theirs."""
    newest = (
        f"SELECT {_KEY}, {select} FROM learned_state s JOIN (SELECT platform, category_id, "
        "max(hour) AS hour FROM learned_state {keys} WHERE hour <= ? {since} GROUP BY ALL) m "
        "USING (platform, category_id, hour)"
    )
    since = hour - timedelta(hours=RECENT_STATE_HOURS)
    recent = con.execute(newest.format(keys="", since="AND hour > ?"), [hour, since]).fetchnumpy()
    sid = series.of(recent["h"])
    missing = np.ones(len(series.keys), dtype=bool)
    missing[sid[sid >= 0]] = False
    if not missing.any():
        return recent
    older = pd.DataFrame(
        {"platform": series.platform[missing], "category_id": series.category[missing]}
    )
    with registered(con, _STATE_KEYS, older):
        keys = f"JOIN {_STATE_KEYS} USING (platform, category_id)"
        rest = con.execute(newest.format(keys=keys, since=""), [hour]).fetchnumpy()
    return {col: np.concatenate([np.asarray(recent[col]), np.asarray(rest[col])]) for col in rest}


def fill_lags(con, series: Series, sid, minute, lo, hi, cols, cfg, inputs, lags) -> None:
    """Write the stored rises one seasonal lag before each row (rows' minutes in [lo, hi)) of
    each lag in `lags` into its place in `inputs` (inputs[:, 1 + j] for lag j), a lag at a time;
    only rows before `lo` count (the window itself is being replaced)."""
    for j, lag in enumerate(cfg.seasonal_lags_minutes):
        if lag in lags:
            _one_lag(con, series, sid, minute, lo, hi, cols, lag, inputs[:, 1 + j])


def lags_before(lo: datetime, hi: datetime, cfg, until: datetime) -> set[int]:
    """The lags whose stored rows for rows in [lo, hi) all lie before `until`: they can be read
    ahead while the rows from `until` on may still be replaced."""
    return {lag for lag in cfg.seasonal_lags_minutes if _lag_range(lo, hi, lag)[1] <= until}


def _lag_range(lo: datetime, hi: datetime, lag: int) -> tuple[datetime, datetime]:
    """The stored rows one lag before rows in [lo, hi) that count: those before `lo`."""
    lagd = timedelta(minutes=lag)
    return lo - lagd, min(hi - lagd, lo)


def _one_lag(con, series: Series, sid, minute, lo, hi, cols, lag: int, out: np.ndarray) -> None:
    """The stored rises [K, n] one lag before each row (rows' minutes in [lo, hi)) into `out`."""
    past = stored_rises(con, *_lag_range(lo, hi, lag), cols)
    rises_at(series, past, cols, sid, minute - lag, out)


# Series x minutes of the lookup grid of rises_at; a larger span takes the sorted search.
GRID_CELLS = 8_000_000


def rises_at(series: Series, past: dict, cols, sid, minute, out: np.ndarray) -> None:
    """The stored rises [K, n] of `past` (stored_rises rows) at each (sid, minute) into `out`;
    NaN where none is stored (features.lagged's answer). The positions come from a dense
    (series, minute) grid of the stored rows, filled in reverse so the first stored row of a key
    wins as in lagged's stable sort, instead of sorting the keys and searching them."""
    psid = series.of(past["h"])
    pmin = np.asarray(past["minute"], dtype=np.int64)
    if not len(sid) or not len(psid):
        out.fill(np.nan)
        return
    m0 = int(minute.min())
    span = int(minute.max()) - m0 + 1
    if len(series.keys) * span > GRID_CELLS:
        ok = psid >= 0
        known_key = keys(psid[ok], pmin[ok])
        order = np.argsort(known_key, kind="stable")
        at = np.flatnonzero(ok)[order]
        known = np.stack([column(past, c).astype(np.float64)[at] for c in cols], axis=0)
        out[:] = lagged(known_key[order], known, keys(sid, minute))
        return
    small = np.int32 if len(psid) < 2**31 else np.int64  # half the grid's memory
    grid = np.full(len(series.keys) * span, -1, dtype=small)
    rel = pmin - m0
    ok = np.flatnonzero((psid >= 0) & (rel >= 0) & (rel < span))[::-1]
    grid[psid[ok] * span + rel[ok]] = ok
    pos = grid[sid.astype(np.int64) * span + (minute - m0)]
    miss = pos < 0
    pos[miss] = 0
    for i, c in enumerate(cols):
        values = column(past, c).astype(np.float64, copy=False)
        if len(values):
            np.take(values, pos, out=out[i], mode="clip")  # in range; "raise" buffers `out`
        out[i, miss] = np.nan


def advance(con, state: ModelState, series: Series, spans, h0: int, cols, cfg) -> None:
    """Learn from the complete hours between each series' stored state and hour `h0`, from the
    errors stored for them (the same update the scoring pass makes for a complete hour)."""
    behind = state.hour < h0
    if not behind.any():
        return
    past = stored_rises(
        con, minute_to_dt(int(state.hour[behind].min()) * HOUR), minute_to_dt(h0 * HOUR), cols
    )
    if not len(past["h"]):
        return
    past = in_series_order(past)  # an hour's rows in series then time order
    sid = series.of(past["h"])
    minute = past["minute"].astype(np.int64)
    hour = minute // HOUR
    ok = (sid >= 0) & (hour >= state.hour[np.maximum(sid, 0)])
    sid, minute, hour = sid[ok], minute[ok], hour[ok]
    if not len(sid):
        return
    inputs = model_inputs(cfg, len(sid))
    inputs[:, 0] = rises_of(past, cols)[:, ok]
    lo, hi = minute_to_dt(int(hour.min()) * HOUR), minute_to_dt(h0 * HOUR)
    fill_lags(con, series, sid, minute, lo, hi, cols, cfg, inputs, cfg.seasonal_lags_minutes)
    for h in np.unique(hour):
        sel = hour == h
        hour_inputs = np.take(inputs, np.flatnonzero(sel), axis=2)
        learn_hour(state, sid[sel], hour_inputs, spans, np.ones(len(spans)), int(h), cfg)


def quiet_seeds(con, series: Series, start: datetime, cfg) -> tuple[dict, dict]:
    """Per series, the minute of its latest stored row in the quiet period before `start` that
    is at or above the threshold (run.alerts' seed), and of its latest that run.spike_marks
    marks (run.spike_rows' seed): one scan of those rows for both."""
    lo = start - timedelta(minutes=cfg.quiet_minutes)
    rows = con.execute(
        f"SELECT {_KEY}, max(epoch_us(ts) // 60000000) AS above, "
        "max(epoch_us(ts) // 60000000) FILTER (WHERE z < 0 OR viewers >= ?::DOUBLE * level) "
        "AS marked FROM learned_scores WHERE ts >= ? AND ts < ? AND score >= ? GROUP BY ALL",
        [cfg.spike_growth, lo, start, cfg.threshold],
    ).fetchnumpy()
    sid = series.of(rows["h"])
    marked = np.ma.asarray(rows["marked"])  # masked (NULL) where a series marked no row
    known = sid >= 0
    with_mark = known & ~np.ma.getmaskarray(marked)
    return (
        dict(zip(sid[known].tolist(), np.asarray(rows["above"])[known].tolist(), strict=True)),
        dict(zip(sid[with_mark].tolist(), marked.data[with_mark].tolist(), strict=True)),
    )
