"""The learned detector on the warehouse: read a window, score it, store scores and state.

`refresh_learned(con, start, end, cfg)` scores every raw row of [start, end) (at most one day:
the seasonal forecasts read the stored rises 1, 2 and 7 days earlier) and returns its SPIKEs. It
reads raw_snapshots with rolling_baselines.median_60 as the level, the error model's state at the
start of the window's first hour (advanced over any complete hours since it was stored, from the
errors stored for them), and the scores of the quiet period before the window. A live minute and
a backfill of the same minutes see the same rows and the same state, so they store the same
scores and return the same SPIKEs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from streampulse_assets.lib.detection.learned.config import DEFAULT, LearnedConfig
from streampulse_assets.lib.detection.learned.features import (
    Panel,
    candidates,
    keys,
    lagged,
    rises,
    series_steps,
    window_rows,
)
from streampulse_assets.lib.detection.learned.model import FIELDS, ModelState
from streampulse_assets.lib.detection.learned.run import alerts, learn_hour, score_panel
from streampulse_assets.lib.duck import registered, transaction

HOUR = 60


def rise_columns(cfg: LearnedConfig) -> list[str]:
    if len(cfg.windows_minutes) != 4:
        raise ValueError("learned_scores stores the rises of 4 windows")
    return [f"r_{i}" for i in range(4)]


def _minutes(ts) -> np.ndarray:
    return np.asarray(ts, dtype="datetime64[us]").astype("datetime64[m]").astype(np.int64)


def _ts(minutes: np.ndarray) -> np.ndarray:
    return minutes.astype("datetime64[m]").astype("datetime64[us]")


class _Series:
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
        """Series ids of keys (-1 = not in this window)."""
        pos = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        return np.where(self.keys[pos] == key, pos, -1).astype(np.int64)

    def names(self) -> pd.DataFrame:
        frame = {"h": self.keys, "platform": self.platform, "category_id": self.category}
        return pd.DataFrame(frame)


_KEY = "hash(platform, category_id) AS h"
_MINUTE = "epoch_us(ts) // 60000000 AS minute"


def _read_raw(con, lo: datetime, hi: datetime) -> tuple[dict, pd.DataFrame]:
    """Raw viewers with their level (rolling_baselines holds both for every raw row), as numpy
    arrays sorted by series key and time, and the names of the series."""
    rows = con.execute(
        f"SELECT {_KEY}, {_MINUTE}, viewers, median_60 FROM rolling_baselines "
        "WHERE ts >= ? AND ts < ? ORDER BY h, ts",
        [lo, hi],
    ).fetchnumpy()
    names = con.execute(
        f"SELECT DISTINCT {_KEY}, platform, category_id FROM rolling_baselines "
        "WHERE ts >= ? AND ts < ?",
        [lo, hi],
    ).df()
    return rows, names


def _stored_rises(con, lo: datetime, hi: datetime, cols: list[str]) -> dict:
    sel = ", ".join(cols)
    return con.execute(
        f"SELECT {_KEY}, {_MINUTE}, {sel} FROM learned_scores "
        "WHERE ts >= ? AND ts < ? ORDER BY h, ts",
        [lo, hi],
    ).fetchnumpy()


def _column(rows: dict, name: str) -> np.ndarray:
    values = rows[name]
    return values.filled(np.nan) if np.ma.isMaskedArray(values) else np.asarray(values)


def _rises_of(rows: dict, cols: list[str]) -> np.ndarray:
    return np.stack([_column(rows, c).astype(np.float64) for c in cols], axis=1)


def _load_state(con, series: _Series, hour: datetime, shape) -> ModelState:
    """The newest stored state at or before `hour` of every series (empty where none)."""
    n_series, k, c = shape
    state = ModelState.empty(n_series, k, c, np.full(n_series, _minutes([hour])[0] // HOUR))
    rows = con.execute(
        f"SELECT {_KEY}, s.* FROM learned_state s JOIN (SELECT platform, category_id, "
        "max(hour) AS hour FROM learned_state WHERE hour <= ? GROUP BY ALL) m "
        "USING (platform, category_id, hour)",
        [hour],
    ).df()
    if rows.empty:
        return state
    sid = series.of(rows["h"].to_numpy(np.uint64))
    keep = (sid >= 0) & (rows["cand"].to_numpy(int) < c)  # a lag no longer configured is dropped
    rows, sid = rows[keep], sid[keep]
    w, cand = rows["window"].to_numpy(int), rows["cand"].to_numpy(int)
    for f in FIELDS:
        state.arrays[f][sid, w, cand] = rows[f].to_numpy(float)
    state.hour[sid] = _minutes(rows["hour"]) // HOUR
    return state


def _seasonal(con, series: _Series, sid, minute, lo: datetime, hi: datetime, cols, cfg):
    """The stored rises one seasonal lag before each row (rows' minutes in [lo, hi))."""
    out = []
    for lag in cfg.seasonal_lags_minutes:
        lagd = timedelta(minutes=lag)
        past = _stored_rises(con, lo - lagd, hi - lagd, cols)
        psid = series.of(past["h"])
        ok = psid >= 0
        known_key = keys(psid[ok], past["minute"][ok])
        order = np.argsort(known_key, kind="stable")
        known = _rises_of(past, cols)[ok][order]
        out.append(lagged(known_key[order], known, keys(sid, minute - lag)))
    return out


def _advance(con, state: ModelState, series: _Series, spans, h0: int, cols, cfg) -> None:
    """Learn from the complete hours between each series' stored state and hour `h0`, from the
    errors stored for them (the same update the scoring pass makes for a complete hour)."""
    behind = state.hour < h0
    if not behind.any():
        return
    past = _stored_rises(con, _hour_dt(int(state.hour[behind].min())), _hour_dt(h0), cols)
    if not len(past["h"]):
        return
    sid = series.of(past["h"])
    minute = past["minute"].astype(np.int64)
    hour = minute // HOUR
    ok = (sid >= 0) & (hour >= state.hour[np.maximum(sid, 0)])
    sid, minute, hour = sid[ok], minute[ok], hour[ok]
    if not len(sid):
        return
    rise = _rises_of(past, cols)[ok]
    lo, hi = _hour_dt(int(hour.min())), _hour_dt(h0)
    inputs = candidates(rise, _seasonal(con, series, sid, minute, lo, hi, cols, cfg))
    for h in np.unique(hour):
        sel = hour == h
        s = sid[sel]
        learn_hour(state, s, inputs[sel], spans[s], np.ones(len(s)), int(h), cfg)


def _hour_dt(hour: int) -> datetime:
    return pd.Timestamp(_ts(np.array([hour * HOUR]))[0]).to_pydatetime()


def _write_state(con, state: ModelState, series: _Series, loaded: np.ndarray, h0: int) -> None:
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
            "hour": np.repeat(_ts(state.hour[sids] * HOUR), k * c),
            "window": np.tile(np.repeat(np.arange(k), c), n).astype(np.int16),
            "cand": np.tile(np.arange(c), n * k).astype(np.int16),
            **{f: state.arrays[f][sids].reshape(-1) for f in FIELDS},
        }
    )
    cols = ", ".join(f'"{x}"' for x in frame.columns)
    top = int(state.hour[sids].max())
    with registered(con, "_learned_state", frame):
        con.execute(
            "DELETE FROM learned_state s USING (SELECT DISTINCT platform, category_id "
            "FROM _learned_state) f WHERE s.platform = f.platform "
            "AND s.category_id = f.category_id AND s.hour > ? AND s.hour <= ?",
            [_hour_dt(h0), _hour_dt(top)],
        )
        con.execute(f"INSERT INTO learned_state ({cols}) SELECT {cols} FROM _learned_state")


def _last_above(con, series: _Series, start: datetime, cfg) -> dict[int, int]:
    lo = start - timedelta(minutes=cfg.quiet_minutes)
    rows = con.execute(
        f"SELECT {_KEY}, max(epoch_us(ts) // 60000000) AS minute FROM learned_scores "
        "WHERE ts >= ? AND ts < ? AND score >= ? GROUP BY ALL",
        [lo, start, cfg.threshold],
    ).fetchnumpy()
    sid = series.of(rows["h"])
    return {int(s): int(m) for s, m in zip(sid, rows["minute"], strict=True) if s >= 0}


SPIKE_COLUMNS = ["platform", "category_id", "ts", "current", "level", "score", "z", "window"]
ALERT_COLUMNS = ["platform", "category_id", "ts"]


def stored_alerts(con) -> pd.DataFrame:
    """The stored rows that are alerts on either side (ALERT_COLUMNS, sorted): what NAB scores
    for the learned detector; its SPIKE events are the alerts on rises."""
    cols = ", ".join(ALERT_COLUMNS)
    return con.execute(f"SELECT {cols} FROM learned_scores WHERE alert ORDER BY ALL").df()


def refresh_learned(
    con, start: datetime, end: datetime, cfg: LearnedConfig = DEFAULT
) -> pd.DataFrame:
    """Score raw rows of [start, end) (at most one day), store them, return the SPIKE rows."""
    if end - start > timedelta(days=1):
        raise ValueError("refresh_learned takes at most one day; slice longer ranges")
    cols = rise_columns(cfg)
    raw, names = _read_raw(con, start - timedelta(minutes=cfg.history_minutes), end)
    with transaction(con):
        con.execute("DELETE FROM learned_scores WHERE ts >= ? AND ts < ?", [start, end])
        if not len(raw["h"]):
            return pd.DataFrame(columns=SPIKE_COLUMNS)
        series = _Series(raw["h"], names)
        sid, minute = series.codes, raw["minute"].astype(np.int64)
        n_series = len(series.keys)
        viewers = _column(raw, "viewers")
        x = viewers.astype(np.float64)
        level = _column(raw, "median_60").astype(np.float64)
        panel = Panel(sid, minute, x, level, series_steps(sid, minute, n_series))
        spans = window_rows(cfg, panel.step)
        rows = np.flatnonzero(minute >= _minutes([start])[0])
        rise = rises(panel, cfg, rows)
        seasonal = _seasonal(con, series, sid[rows], minute[rows], start, end, cols, cfg)
        inputs = candidates(rise, seasonal)
        h0 = int(minute[rows].min() // HOUR) if len(rows) else _minutes([start])[0] // HOUR
        state = _load_state(con, series, _hour_dt(h0), (n_series, 4, inputs.shape[2]))
        loaded = state.hour.copy()
        _advance(con, state, series, spans, h0, cols, cfg)
        start_m, end_m = _minutes([start])[0], _minutes([end])[0]
        hours = np.arange(-(-start_m // HOUR), end_m // HOUR)  # hours wholly inside the window
        complete = hours[(hours * HOUR >= start_m) & ((hours + 1) * HOUR <= end_m)]
        scored = score_panel(panel, rows, inputs, state, cfg, complete_hours=complete)
        seed = _last_above(con, series, start, cfg)
        alert = alerts(sid[rows], minute[rows], scored.score, cfg, seed)
        spike = alert & (scored.z > 0)  # a SPIKE is an alert on a rise
        out = pd.DataFrame(
            {
                "h": raw["h"][rows],
                "ts": _ts(minute[rows]),
                "viewers": viewers[rows],
                "level": level[rows],
                "score": scored.score,
                "z": scored.z,
                "window": scored.window.astype(np.int16),
                "alert": alert,
                "spike": spike,
            }
        )
        for i, c in enumerate(cols):
            out[c] = rise[:, i]
        names_sql = ", ".join(f'"{c}"' for c in out.columns if c != "h")
        with (
            registered(con, "_learned_scores", out),
            registered(con, "_learned_series", series.names()),
        ):
            con.execute(
                f"INSERT INTO learned_scores (platform, category_id, {names_sql}) "
                f"SELECT m.platform, m.category_id, {names_sql} FROM _learned_scores "
                "JOIN _learned_series m USING (h)"
            )
        _write_state(con, state, series, loaded, h0)
    found = out[out["spike"]].rename(columns={"viewers": "current"})
    sids = series.of(found["h"].to_numpy(np.uint64))
    found = found.assign(platform=series.platform[sids], category_id=series.category[sids])
    return found[SPIKE_COLUMNS].reset_index(drop=True)
