"""The learned per-series detector: causal, scale-free, one configuration, live == backfill."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from streampulse_assets.lib.detection.learned.config import LearnedConfig
from streampulse_assets.lib.detection.learned.features import (
    series_steps,
    window_rows,
)
from streampulse_assets.lib.detection.learned.inmemory import score_frame
from streampulse_assets.lib.detection.learned.store import refresh_learned
from streampulse_assets.lib.schema import migrate_duckdb

T0 = datetime(2025, 3, 1)


def noisy(days: float, level: float, step_min: int = 1, seed: int = 0) -> np.ndarray:
    """A daily rhythm around `level` that wanders (AR(1), 3 % per step) with Poisson noise."""
    n = int(days * 1440 / step_min)
    t = np.arange(n) * step_min
    rng = np.random.default_rng(seed)
    wander = np.zeros(n)
    shocks = rng.normal(0, 0.03, n)
    for i in range(1, n):
        wander[i] = 0.9 * wander[i - 1] + shocks[i]
    mean = level * (1 + 0.3 * np.sin(2 * np.pi * t / 1440)) * np.exp(wander)
    return rng.poisson(mean).astype(float)


def frame(values: dict[str, np.ndarray], step_min: int = 1) -> pd.DataFrame:
    parts = []
    for name, v in values.items():
        ts = pd.date_range(T0, periods=len(v), freq=f"{step_min}min")
        parts.append(pd.DataFrame({"platform": "p", "category_id": name, "ts": ts, "value": v}))
    return pd.concat(parts, ignore_index=True)


def spikes(scored: pd.DataFrame, name: str | None = None) -> pd.DataFrame:
    rows = scored[scored["spike"]]
    return rows if name is None else rows[rows["category_id"] == name]


@pytest.mark.parametrize("level", [20.0, 2_000.0, 200_000.0])
def test_a_sudden_doubling_is_a_spike_at_every_scale(level):
    base = noisy(4, level, seed=1)
    jump = base.copy()
    at = 3 * 1440 + 600
    jump[at : at + 90] *= 2.0
    scored = score_frame(frame({"jump": jump}))
    found = spikes(scored)
    assert found["score"].between(0, 1).all()
    hits = found[(found["ts"] >= T0 + timedelta(minutes=at))]
    first = pd.Timestamp(hits["ts"].min())
    assert T0 + timedelta(minutes=at) <= first <= T0 + timedelta(minutes=at + 10)


@pytest.mark.parametrize("level", [20.0, 2_000.0, 200_000.0])
def test_the_threshold_is_an_alarm_rate_per_series_day(level):
    """Score = (S + 3) / 10 with S = -log10(expected excursions per day this extreme): at 0.45
    (one per ~30 days) four days of wandering noise give no alert at any scale, and the
    default 0.33 (one per ~2 days) gives at most one."""
    quiet = frame({"quiet": noisy(4, level, seed=1)})
    assert spikes(score_frame(quiet, LearnedConfig(threshold=0.45))).empty
    assert len(spikes(score_frame(quiet))) <= 1


def test_scores_do_not_depend_on_the_unit_of_the_series():
    v = noisy(3, 300, seed=2)
    v[3000:3060] *= 3
    one = score_frame(frame({"a": v}))
    # The same series in thousandths (resolution scaled with it) scores the same.
    cfg = LearnedConfig(resolution=0.001)
    milli = score_frame(frame({"a": v / 1000}), cfg)
    np.testing.assert_allclose(one["score"], milli["score"], atol=1e-9)
    assert one["spike"].equals(milli["spike"])


def test_each_series_keeps_its_own_step():
    five = noisy(6, 50, step_min=5, seed=3)
    thirty = noisy(6, 50, step_min=30, seed=4)
    five[5 * 288 : 5 * 288 + 12] *= 4
    thirty[5 * 48 : 5 * 48 + 3] *= 4
    scored = score_frame(pd.concat([frame({"five": five}, 5), frame({"thirty": thirty}, 30)]))
    assert not spikes(scored, "five").empty and not spikes(scored, "thirty").empty
    sid = np.repeat([0, 1, 2], [10, 10, 5])
    minute = np.concatenate([np.arange(10) * 5, np.arange(10) * 30, np.arange(5) * 30])
    # (too few gaps to tell a clock from rows at random: the minute clock)
    np.testing.assert_array_equal(series_steps(sid, minute, 3), [5.0, 30.0, 1.0])


def test_a_coarse_series_measures_its_spans_in_rows():
    """Windows and the level are minutes up to the reference step (5 minutes) and rows beyond:
    an hourly series has a level of 12 rows and windows of 3, 12 and 36 rows, as a 5-minute
    series has, not a level of the one row before it."""
    cfg, steps = LearnedConfig(), np.array([1.0, 5.0, 60.0])
    expected = [[1, 15, 60, 180], [1, 3, 12, 36], [1, 3, 12, 36]]
    np.testing.assert_array_equal(window_rows(cfg, steps), expected)
    # A step is a clock: an hourly series with a missing row keeps one; rows at random (a
    # category listed in some minutes only) are on the minute clock, whatever their median gap.
    rng = np.random.default_rng(0)
    sparse = np.sort(rng.choice(1440, 120, replace=False))
    hourly = np.delete(np.arange(0, 1440, 60), 5)
    sid = np.repeat([0, 1], [len(hourly), len(sparse)])
    np.testing.assert_array_equal(series_steps(sid, np.concatenate([hourly, sparse]), 2), [60, 1])
    hourly = noisy(20, 400, step_min=60, seed=8)
    scored = score_frame(frame({"hourly": hourly}, step_min=60))
    level = pd.Series(hourly).rolling(12, min_periods=1).median().shift(1)
    np.testing.assert_array_equal(scored["level"].to_numpy(), level.to_numpy())
    minute = frame({"one": noisy(1, 400)})  # a 1-minute series keeps its 60-minute median
    level_1 = pd.Series(minute["value"]).rolling(60, min_periods=1).median().shift(1)
    np.testing.assert_array_equal(score_frame(minute)["level"].to_numpy(), level_1.to_numpy())


def test_a_row_is_scored_from_earlier_rows_only():
    v = noisy(3, 500, seed=5)
    full = score_frame(frame({"a": v}))
    cut = score_frame(frame({"a": v[:3000]}))
    np.testing.assert_allclose(full["score"].to_numpy()[:3000], cut["score"].to_numpy())


def test_one_alert_per_excursion():
    v = noisy(4, 1_000, seed=6)
    at = 3 * 1440
    v[at : at + 240] *= 3  # four hours up, then a second jump inside the quiet period
    v[at + 120 : at + 240] *= 1.5
    found = spikes(score_frame(frame({"a": v})))
    assert len(found) == 1


def test_a_drop_is_an_anomaly_but_not_a_spike():
    """Both sides of the error are modelled: a sudden halving scores as an alert (what NAB
    scores), is no SPIKE, and its recovery inside the quiet period is no SPIKE either."""
    v = noisy(4, 1_000, seed=7)
    at = 3 * 1440 + 300
    v[at : at + 90] *= 0.4
    scored = score_frame(frame({"a": v}))
    after = scored[scored["ts"] >= T0 + timedelta(minutes=at)]
    alerts = after[after["alert"]]
    assert len(alerts) == 1
    first = pd.Timestamp(alerts["ts"].iloc[0])
    assert first <= T0 + timedelta(minutes=at + 10)
    assert alerts["z"].iloc[0] < 0
    assert spikes(after).empty
    # The same halving turned into a doubling is a SPIKE: the rise side is not blunted.
    w = noisy(4, 1_000, seed=7)
    w[at : at + 90] *= 2.5
    assert len(spikes(score_frame(frame({"a": w})))) >= 1


def test_an_improbable_rise_is_a_spike_once_it_reaches_the_spike_size():
    """A 1.4x step is improbable for a quiet series (an alert: what NAB scores) but smaller than
    a spike (`spike_growth`, 1.7x its level); when the same excursion grows to 2.5x forty
    minutes later, that row is the SPIKE (the small rise did not start the quiet period)."""
    at = 3 * 1440 + 600
    v = noisy(4, 1_000, seed=14)
    v[at : at + 120] *= 1.4
    grows = v.copy()
    grows[at + 40 : at + 120] *= 1.8

    def minutes(rows):
        return [int((t - T0).total_seconds() // 60) - at for t in rows["ts"]]

    small = score_frame(frame({"a": v}))
    after = small[small["ts"] >= T0 + timedelta(minutes=at - 5)]
    assert minutes(after[after["alert"]]) and max(minutes(after[after["alert"]])) < 40
    assert spikes(small).empty
    # Without the size rule the same rise is a SPIKE at its alert.
    assert minutes(spikes(score_frame(frame({"a": v}), LearnedConfig(spike_growth=0)))) == (
        minutes(after[after["alert"]])
    )
    grown = score_frame(frame({"a": grows}))
    assert minutes(grown[grown["alert"] & (grown["ts"] >= T0 + timedelta(minutes=at - 5))]) == (
        minutes(after[after["alert"]])
    )
    found = minutes(spikes(grown))
    assert len(found) == 1 and 40 <= found[0] <= 50


def test_a_window_longer_than_a_day_is_refused(tmp_path):
    con = duckdb.connect()
    migrate_duckdb(con)
    with pytest.raises(ValueError, match="at most one day"):
        refresh_learned(con, T0, T0 + timedelta(days=2))


def test_a_step_that_recurs_every_day_is_the_series_pattern():
    """A square wave (20 viewers, 80 from 09:00 to 18:00) steps twice a day: from the third
    day the 1-day and 2-day forecasts agree on each step, so no step is an anomaly."""
    minute = np.arange(10 * 1440 // 5) * 5
    values = np.where((minute % 1440 >= 540) & (minute % 1440 < 1080), 80.0, 20.0)
    scored = score_frame(frame({"wave": values}, step_min=5))
    late = scored[scored["ts"] >= T0 + timedelta(days=3)]
    assert not late["alert"].any(), late[late["alert"]]


def test_a_spike_seen_the_day_before_only_is_not_forecast_again():
    """Yesterday's one-off spike at this time of day is no other day's pattern: today's spike at
    the same minute is still a spike."""
    base = noisy(8, 2_000.0, seed=3)
    for day in (6, 7):
        at = day * 1440 + 720
        base[at : at + 60] *= 2.5
    found = spikes(score_frame(frame({"twice": base})))
    for day in (6, 7):
        start = T0 + timedelta(days=day, minutes=720)
        near = found[(found["ts"] >= start) & (found["ts"] <= start + timedelta(minutes=10))]
        assert len(near) == 1, (day, found)


def test_the_noise_unit_follows_the_hour_of_day():
    """A series fifteen times noisier in the evening than at night: the same rise (+4 %, an
    anomaly but no spike-sized rise) is an alert at 03:00 and ordinary at 20:00, because each
    hour of day has its own unit (with one all-day unit, both score about the same and neither
    is an alert)."""
    rng = np.random.default_rng(2)
    minute = np.arange(14 * 1440)
    hour = (minute % 1440) // 60
    sd = np.where(hour < 8, 2.0, np.where(hour >= 16, 30.0, 8.0))
    values = np.round(1_000 + rng.normal(0, sd))
    night, evening = 12 * 1440 + 180, 13 * 1440 + 1200
    for at in (night, evening):
        values[at : at + 30] += 40
    scored = score_frame(frame({"evening_noise": values}))
    at_night, in_evening = scored.iloc[night : night + 30], scored.iloc[evening : evening + 30]
    assert at_night["alert"].sum() == 1
    assert in_evening["score"].max() < LearnedConfig().threshold
    assert at_night["score"].max() > in_evening["score"].max() + 0.2
