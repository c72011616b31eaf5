"""Baselines on handcrafted series where the answer is known."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from streampulse_assets.lib.detection import band, windows
from streampulse_assets.lib.detection.baselines import (
    MAD_TO_SD,
    refresh_rolling_baselines,
    refresh_seasonal_baselines,
)
from streampulse_assets.lib.detection.config import get_config
from streampulse_assets.lib.detection.frame import load_raw, normalise
from streampulse_assets.lib.detection.windows import window_median
from streampulse_assets.lib.schema import migrate_duckdb

T0 = datetime(2025, 3, 1)


def series(values, start=T0, category="c1", platform="chzzk", step=1, skip=()) -> pd.DataFrame:
    ts = [start + timedelta(minutes=i * step) for i in range(len(values))]
    frame = pd.DataFrame(
        {"platform": platform, "category_id": category, "ts": ts, "viewers": values}
    )
    return frame.drop(index=list(skip)).reset_index(drop=True)


def warehouse(frame: pd.DataFrame):
    con = duckdb.connect()
    migrate_duckdb(con)
    load_raw(con, normalise(frame))
    return con


def rolling(con, start, end) -> pd.DataFrame:
    refresh_rolling_baselines(con, start, end)
    return con.execute("SELECT * FROM rolling_baselines ORDER BY category_id, ts").df()


def test_median_of_previous_60_minutes_excludes_current_minute():
    values = list(range(100, 200))  # 100, 101, ... one per minute
    con = warehouse(series(values))
    out = rolling(con, T0, T0 + timedelta(minutes=100)).set_index("ts")
    row = out.loc[T0 + timedelta(minutes=90)]
    # previous 60 minutes = minutes 30..89 -> values 130..189 -> median 159.5
    assert row["median_60"] == 159.5
    assert row["n_60"] == 60
    assert row["prev_viewers"] == 189 and row["viewers_60_ago"] == 130
    assert row["ago_ts"] == T0 + timedelta(minutes=30)
    first = out.loc[T0]
    assert np.isnan(first["median_60"]) and first["n_60"] == 0 and pd.isna(first["prev_ts"])
    assert out.loc[T0 + timedelta(minutes=1)]["median_60"] == 100


def test_missing_minutes_are_absent_not_zero():
    values = [1000] * 120
    con = warehouse(series(values, skip=range(70, 80)))
    out = rolling(con, T0, T0 + timedelta(minutes=120)).set_index("ts")
    row = out.loc[T0 + timedelta(minutes=80)]  # first minute back after a 10-minute hole
    assert row["median_60"] == 1000
    assert row["n_60"] == 50
    assert row["prev_ts"] == T0 + timedelta(minutes=69)
    assert T0 + timedelta(minutes=75) not in out.index


def test_seasonal_mean_and_coverage():
    day = 1440
    values = np.full(2 * day + 10, 500, dtype=np.int64)
    values[day - 120 : day + 121] = 800  # a busy stretch yesterday
    con = warehouse(series(values.tolist()))
    t = T0 + timedelta(minutes=2 * day + 5)
    refresh_seasonal_baselines(con, t, t + timedelta(minutes=1))
    row = con.execute("SELECT * FROM seasonal_baselines").df().iloc[0]
    # 24 h earlier +-2 h = minutes [day - 115, day + 125]: 236 rows of 800 and 5 of 500
    assert row["n_24h"] == 241 and row["coverage_24h"] == 1.0
    assert row["mean_24h"] == pytest.approx((236 * 800 + 5 * 500) / 241)
    assert row["n_7d"] == 0 and row["coverage_7d"] == 0 and np.isnan(row["mean_7d"])


def test_seasonal_coverage_counts_only_rows_that_exist():
    day = 1440
    con = warehouse(series([100] * (day + 200)))
    t = T0 + timedelta(minutes=day + 120)
    refresh_seasonal_baselines(con, t, t + timedelta(minutes=1))
    row = con.execute("SELECT * FROM seasonal_baselines").df().iloc[0]
    # window [t - 26 h, t - 22 h] = minutes [0, 240]: all there
    assert row["n_24h"] == 241 and row["coverage_24h"] == 1.0
    t2 = T0 + timedelta(minutes=day + 10)
    refresh_seasonal_baselines(con, t2, t2 + timedelta(minutes=1))
    row2 = con.execute("SELECT * FROM seasonal_baselines WHERE ts = ?", [t2]).df().iloc[0]
    assert row2["n_24h"] == 131  # minutes 0..130 exist, the 2 h before the series do not
    assert row2["coverage_24h"] == pytest.approx(131 / 241)


def test_coverage_uses_the_series_step():
    cfg = get_config("scale_aware", step_minutes=5)
    frame = series([10] * 600, step=5)  # 50 hours at 5-minute steps
    con = warehouse(frame)
    t = T0 + timedelta(minutes=5 * 590)
    refresh_seasonal_baselines(con, t, t + timedelta(minutes=1), cfg)
    row = con.execute("SELECT * FROM seasonal_baselines").df().iloc[0]
    assert row["n_24h"] == 49 and row["coverage_24h"] == 1.0


def test_rank_filter_and_segment_medians_agree_on_gappy_series(monkeypatch):
    rng = np.random.default_rng(3)
    n = 12_000
    values = rng.integers(0, 5000, n).astype(np.int64)
    sizes = np.where(rng.random(n) < 0.8, 60, rng.integers(1, 60, n))  # most windows full
    lo = np.maximum(0, np.arange(n) - sizes)
    hi = np.arange(n)
    segment = window_median(values, lo, hi)  # few values: segmented sort only
    monkeypatch.setattr(windows, "RANK_MIN_VALUES", 1)  # every size gets a rank-filter pass
    ranked = window_median(values, lo, hi)
    np.testing.assert_array_equal(ranked, segment)
    expected = [
        np.median(values[a:b]) if b > a else np.nan for a, b in zip(lo[:500], hi[:500], strict=True)
    ]
    np.testing.assert_array_equal(segment[:500], expected)


def test_chunked_series_give_the_same_rows_as_one_chunk(monkeypatch):
    rng = np.random.default_rng(11)
    frames = []
    for c in range(7):  # gappy series of different lengths and starts
        values = rng.integers(100, 5000, 3000).tolist()
        skip = rng.choice(3000, 300, replace=False)
        frames.append(series(values, start=T0 + timedelta(minutes=17 * c), category=f"c{c}",
                             skip=skip))  # fmt: skip
    con = warehouse(pd.concat(frames, ignore_index=True))
    start, end = T0 + timedelta(minutes=1500), T0 + timedelta(minutes=3000)
    whole = rolling(con, start, end)
    monkeypatch.setattr(band, "CHUNK_CELLS", 1)  # one series per chunk
    chunked = rolling(con, start, end)
    pd.testing.assert_frame_equal(
        whole.drop(columns="computed_at"), chunked.drop(columns="computed_at")
    )
    assert len(whole) == sum(  # one row per existing minute in the window
        ((f["ts"] >= start) & (f["ts"] < end)).sum() for f in frames
    )


def test_noise_deviation_is_robust_and_hourly():
    rng = np.random.default_rng(5)
    values = (10_000 + rng.normal(0, 100, 600)).round().astype(int)
    values[400] = 60_000  # one outlier does not move a median
    con = warehouse(series(values.tolist()))
    out = rolling(con, T0 + timedelta(minutes=420), T0 + timedelta(minutes=540)).set_index("ts")
    noise = out["noise_sd"]
    assert noise.loc[T0 + timedelta(minutes=420)] == noise.loc[T0 + timedelta(minutes=479)]
    assert 70 < noise.iloc[0] < 140  # ~ the true sd of 100
    assert pytest.approx(1.4826 / 2**0.5) == MAD_TO_SD


def test_empty_windows_are_stored_as_null_not_nan():
    con = warehouse(series([10, 20, 30]))
    rolling(con, T0, T0 + timedelta(minutes=3))
    nulls = con.execute(
        "SELECT count(*) FROM rolling_baselines WHERE median_60 IS NULL AND prev_ts IS NULL"
    ).fetchall()[0][0]
    assert nulls == 1
