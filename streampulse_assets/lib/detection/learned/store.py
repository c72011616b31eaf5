"""The learned detector on the warehouse: read a window, score it, store scores and state.

`refresh_learned(con, start, end, cfg)` scores every raw row of [start, end) (at most one day:
the seasonal forecasts read the stored errors 24 h and 7 d earlier) and returns its SPIKEs. It
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
from streampulse_assets.lib.detection.learned.model import FIELDS, ModelState, score_rows, update
from streampulse_assets.lib.detection.learned.run import alerts, score_panel
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
    """Series ids for (platform, category_id) pairs of this window."""

    def __init__(self, platform: pd.Series, category: pd.Series):
        pairs = pd.MultiIndex.from_arrays([platform.astype(str), category.astype(str)])
        self.index = pairs.unique()
        self.codes = self.index.get_indexer(pairs).astype(np.int64)

    def of(self, platform: pd.Series, category: pd.Series) -> np.ndarray:
        pairs = pd.MultiIndex.from_arrays([platform.astype(str), category.astype(str)])
        return self.index.get_indexer(pairs).astype(np.int64)  # -1 = not in this window


def _read_raw(con, lo: datetime, hi: datetime) -> pd.DataFrame:
    """Raw viewers with their level (rolling_baselines holds both for every raw row)."""
    return con.execute(
        "SELECT platform, category_id, ts, viewers, median_60 FROM rolling_baselines "
        "WHERE ts >= ? AND ts < ? ORDER BY platform, category_id, ts",
        [lo, hi],
    ).df()


def _stored_rises(con, lo: datetime, hi: datetime, cols: list[str]) -> pd.DataFrame:
    sel = ", ".join(cols)
    return con.execute(
        f"SELECT platform, category_id, ts, {sel} FROM learned_scores "
        "WHERE ts >= ? AND ts < ? ORDER BY platform, category_id, ts",
        [lo, hi],
    ).df()


def _load_state(con, series: _Series, hour: datetime, shape) -> ModelState:
    """The newest stored state at or before `hour` of every series (empty where none)."""
    n_series, k, c = shape
    state = ModelState.empty(n_series, k, c, np.full(n_series, _minutes([hour])[0] // HOUR))
    rows = con.execute(
        "SELECT s.* FROM learned_state s JOIN (SELECT platform, category_id, max(hour) AS hour "
        "FROM learned_state WHERE hour <= ? GROUP BY ALL) m USING (platform, category_id, hour)",
        [hour],
    ).df()
    if rows.empty:
        return state
    sid = series.of(rows["platform"], rows["category_id"])
    keep = sid >= 0
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
        psid = series.of(past["platform"], past["category_id"])
        ok = psid >= 0
        known_key = keys(psid[ok], _minutes(past["ts"])[ok])
        order = np.argsort(known_key, kind="stable")
        known = past.loc[ok, cols].to_numpy(float)[order]
        out.append(lagged(known_key[order], known, keys(sid, minute - lag)))
    return out


def _advance(con, state: ModelState, series: _Series, spans, h0: int, cols, cfg) -> None:
    """Learn from the complete hours between each series' stored state and hour `h0`, from the
    errors stored for them (the same update the scoring pass makes for a complete hour)."""
    behind = state.hour < h0
    if not behind.any():
        return
    past = _stored_rises(con, _hour_dt(int(state.hour[behind].min())), _hour_dt(h0), cols)
    if past.empty:
        return
    sid = series.of(past["platform"], past["category_id"])
    minute = _minutes(past["ts"])
    hour = minute // HOUR
    ok = (sid >= 0) & (hour >= state.hour[np.maximum(sid, 0)])
    sid, minute, hour = sid[ok], minute[ok], hour[ok]
    if not len(sid):
        return
    rise = past.loc[ok, cols].to_numpy(float)
    lo, hi = _hour_dt(int(hour.min())), _hour_dt(h0)
    inputs = candidates(rise, _seasonal(con, series, sid, minute, lo, hi, cols, cfg))
    for h in np.unique(hour):
        sel = hour == h
        s = sid[sel]
        state.decay_to(np.unique(s), int(h), cfg)
        _, z, err = score_rows(state, s, inputs[sel], spans[s], np.ones(len(s)), cfg)
        update(state, s, err, z, int(h), cfg)


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
            "platform": np.repeat(series.index.get_level_values(0)[sids], k * c),
            "category_id": np.repeat(series.index.get_level_values(1)[sids], k * c),
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
        "SELECT platform, category_id, max(ts) AS ts FROM learned_scores "
        "WHERE ts >= ? AND ts < ? AND score >= ? GROUP BY ALL",
        [lo, start, cfg.threshold],
    ).df()
    if rows.empty:
        return {}
    sid = series.of(rows["platform"], rows["category_id"])
    return {int(s): int(m) for s, m in zip(sid, _minutes(rows["ts"]), strict=True) if s >= 0}


SPIKE_COLUMNS = ["platform", "category_id", "ts", "current", "level", "score", "z", "window"]


def refresh_learned(
    con, start: datetime, end: datetime, cfg: LearnedConfig = DEFAULT
) -> pd.DataFrame:
    """Score raw rows of [start, end) (at most one day), store them, return the SPIKE rows."""
    if end - start > timedelta(days=1):
        raise ValueError("refresh_learned takes at most one day; slice longer ranges")
    cols = rise_columns(cfg)
    raw = _read_raw(con, start - timedelta(minutes=cfg.history_minutes), end)
    with transaction(con):
        con.execute("DELETE FROM learned_scores WHERE ts >= ? AND ts < ?", [start, end])
        if raw.empty:
            return pd.DataFrame(columns=SPIKE_COLUMNS)
        series = _Series(raw["platform"], raw["category_id"])
        sid, minute = series.codes, _minutes(raw["ts"])
        n_series = len(series.index)
        x = raw["viewers"].to_numpy(np.float64)
        level = raw["median_60"].to_numpy(np.float64, na_value=np.nan)
        panel = Panel(sid, minute, x, level, series_steps(sid, minute, n_series))
        spans = window_rows(cfg, panel.step)
        rows = np.flatnonzero(minute >= _minutes([start])[0])
        rise = rises(panel, cfg, rows)
        seasonal = _seasonal(con, series, sid[rows], minute[rows], start, end, cols, cfg)
        inputs = candidates(rise, seasonal)
        h0 = int(minute[rows].min() // HOUR) if len(rows) else _minutes([start])[0] // HOUR
        state = _load_state(con, series, _hour_dt(h0), (n_series, 4, 3))
        loaded = state.hour.copy()
        _advance(con, state, series, spans, h0, cols, cfg)
        start_m, end_m = _minutes([start])[0], _minutes([end])[0]
        hours = np.arange(-(-start_m // HOUR), end_m // HOUR)  # hours wholly inside the window
        complete = hours[(hours * HOUR >= start_m) & ((hours + 1) * HOUR <= end_m)]
        scored = score_panel(panel, rows, inputs, state, cfg, complete_hours=complete)
        seed = _last_above(con, series, start, cfg)
        spike = alerts(sid[rows], minute[rows], scored.score, cfg, seed)
        out = pd.DataFrame(
            {
                "platform": raw["platform"].to_numpy()[rows],
                "category_id": raw["category_id"].to_numpy()[rows],
                "ts": raw["ts"].to_numpy()[rows],
                "viewers": raw["viewers"].to_numpy()[rows],
                "level": level[rows],
                "score": scored.score,
                "z": scored.z,
                "window": scored.window.astype(np.int16),
                "spike": spike,
            }
        )
        for i, c in enumerate(cols):
            out[c] = rise[:, i]
        names = ", ".join(f'"{c}"' for c in out.columns)
        with registered(con, "_learned_scores", out):
            con.execute(f"INSERT INTO learned_scores ({names}) SELECT {names} FROM _learned_scores")
        _write_state(con, state, series, loaded, h0)
    found = out[out["spike"]].rename(columns={"viewers": "current"})
    return found[SPIKE_COLUMNS].reset_index(drop=True)
