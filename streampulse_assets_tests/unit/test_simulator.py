"""The simulator's classic scenario: determinism, window additivity, realism and labelled events
that are real (the default "hard" scenario is tested in test_simulator_hard.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from streampulse_assets.lib.snapshots import SNAPSHOT_COLUMNS
from streampulse_assets.lib.sources.simulator import Simulator

A = datetime(2024, 5, 1)
POSITIVE = {"streamer_spike", "category_surge", "category_adoption"}
CLASSIC = {"scenario": "classic"}


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(seed=7, categories_per_platform=60, **CLASSIC)


@pytest.fixture(scope="module")
def three_days(sim) -> pd.DataFrame:
    return sim.frame(A, A + timedelta(days=3))


@pytest.fixture(scope="module")
def labels(sim) -> list[dict]:
    return sim.labels(A, A + timedelta(days=3))


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert(None)


_GROUPS: dict[int, dict] = {}


def _series(frame: pd.DataFrame, platform: str, category_id: str) -> pd.Series:
    if id(frame) not in _GROUPS:
        _GROUPS[id(frame)] = {
            key: rows.set_index("ts")["viewers"].sort_index()
            for key, rows in frame.groupby(["platform", "category_id"])
        }
    return _GROUPS[id(frame)][(platform, category_id)]


def test_deterministic_per_seed():
    a = Simulator(seed=3, categories_per_platform=20, **CLASSIC).frame(A, A + timedelta(minutes=30))
    b = Simulator(seed=3, categories_per_platform=20, **CLASSIC).frame(A, A + timedelta(minutes=30))
    c = Simulator(seed=4, categories_per_platform=20, **CLASSIC).frame(A, A + timedelta(minutes=30))
    pd.testing.assert_frame_equal(a, b)
    assert not a["viewers"].equals(c["viewers"])
    assert Simulator(seed=3, categories_per_platform=20, **CLASSIC).labels(
        A, A + timedelta(days=2)
    ) == (Simulator(seed=3, categories_per_platform=20, **CLASSIC).labels(A, A + timedelta(days=2)))


def test_windows_are_additive_across_any_split(sim):
    a, b, c = A + timedelta(hours=20), A + timedelta(hours=26, minutes=17), A + timedelta(hours=30)
    whole = sim.frame(a, c)
    parts = pd.concat([sim.frame(a, b), sim.frame(b, c)], ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts)
    # a single minute regenerated on its own (fresh instance, no cache) equals its slice
    minute = A + timedelta(hours=24, minutes=3)
    alone = Simulator(seed=7, categories_per_platform=60, **CLASSIC).frame(
        minute, minute + timedelta(minutes=1)
    )
    sliced = whole[whole.ts == pd.Timestamp(minute)].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, sliced)


def test_canonical_frame_shape(sim):
    start = A + timedelta(hours=12)
    frame = sim.frame(start, start + timedelta(minutes=10))
    assert list(frame.columns) == SNAPSHOT_COLUMNS
    assert str(frame["viewers"].dtype) == "int64" and str(frame["open_lives"].dtype) == "Int64"
    assert str(frame["ts"].dtype) == "datetime64[us]"
    assert frame["ts"].min() == pd.Timestamp(start)
    assert frame["ts"].max() == pd.Timestamp(start + timedelta(minutes=9))
    assert not frame.duplicated(["platform", "category_id", "ts"]).any()
    assert set(frame["platform"]) == {"chzzk", "soop"}
    assert {"League_of_Legends", "talk", "00130000"} <= set(frame["category_id"])
    assert "리그 오브 레전드" in set(frame["category_name"])
    for row in frame.itertuples():
        top = json.loads(row.top_streamers)
        assert len(top) <= 5
        counts = [s["viewers"] for s in top]
        assert counts == sorted(counts, reverse=True)
        assert sum(counts) <= row.viewers
        assert row.open_lives >= len(top)
        assert all(set(s) == {"channel_id", "channel_name", "title", "viewers"} for s in top)
    assert sim.frame(start, start).empty


def test_kst_evening_beats_early_morning(three_days):
    kst_hour = (three_days.ts + pd.Timedelta(hours=9)).dt.hour
    evening = three_days[kst_hour.between(20, 23)].groupby("ts").viewers.sum().mean()
    morning = three_days[kst_hour.between(4, 7)].groupby("ts").viewers.sum().mean()
    assert evening > 2.5 * morning


def test_popularity_is_heavy_tailed(three_days):
    for _, rows in three_days.groupby("platform"):
        mean = rows.groupby("category_id").viewers.mean().sort_values(ascending=False)
        assert mean.iloc[: len(mean) // 10].sum() > 0.5 * mean.sum()
        assert mean.iloc[0] > 30 * mean.median()


def test_streamers_go_live_and_offline_and_titles_change(three_days):
    lol = three_days[(three_days.platform == "chzzk") & (three_days.category_id == "talk")]
    channels: dict[str, set] = {}
    presence: dict[str, int] = {}
    for text in lol.top_streamers:
        for s in json.loads(text):
            channels.setdefault(s["channel_id"], set()).add(s["title"])
            presence[s["channel_id"]] = presence.get(s["channel_id"], 0) + 1
    assert len(channels) >= 8
    assert any(len(titles) > 1 for titles in channels.values())
    assert min(presence.values()) < len(lol) * 0.8  # nobody is live all the time


def test_every_label_kind_within_three_days(labels):
    kinds = {label["kind"] for label in labels}
    assert kinds == POSITIVE | {"organic_growth", "missing_minute", "partial_outage"}
    per_platform_day = sum(label["kind"] in POSITIVE for label in labels) / (2 * 3)
    assert 3 <= per_platform_day <= 10
    for label in labels:
        assert set(label) == {"platform", "category_id", "start", "end", "kind"}
        assert _ts(label["start"]) <= _ts(label["end"])


def test_positive_windows_rise_well_above_their_baseline(three_days, labels):
    sizes = []
    for label in labels:
        if label["kind"] not in POSITIVE:
            continue
        series = _series(three_days, label["platform"], label["category_id"])
        start, end = _ts(label["start"]), _ts(label["end"])
        before = series[start - pd.Timedelta(minutes=60) : start - pd.Timedelta(minutes=1)]
        peak = series[start:end].max()
        assert peak >= 2.0 * before.median(), label
        assert peak - before.median() >= 1500, label
        after = series[end + pd.Timedelta(minutes=15) : end + pd.Timedelta(minutes=45)]
        if len(after) and label["kind"] != "category_adoption":
            assert after.median() < 0.75 * peak, label
        sizes.append(before.median())
    assert min(sizes) < 1000 and max(sizes) > 3000  # small and big categories both get events


def test_organic_growth_is_slow(three_days, labels):
    for label in (x for x in labels if x["kind"] == "organic_growth"):
        series = _series(three_days, label["platform"], label["category_id"])
        start, end = _ts(label["start"]), _ts(label["end"])
        window = series[start - pd.Timedelta(minutes=60) : end]
        baseline = window.shift(1).rolling(60, min_periods=30).median()
        assert (window / baseline).max() < 1.7, label


def test_faults_really_drop_rows(three_days, labels, sim):
    per_platform = sim.categories_per_platform
    counts = three_days.groupby(["platform", "ts"]).size()
    for label in labels:
        if label["kind"] not in {"missing_minute", "partial_outage"}:
            continue
        assert label["category_id"] == "*"
        minute = _ts(label["start"])
        present = counts.get((label["platform"], minute), 0)
        if label["kind"] == "missing_minute":
            assert present == 0
        else:
            assert 0.25 * per_platform < present < 0.75 * per_platform
        other = counts.get((label["platform"], minute - pd.Timedelta(minutes=5)), 0)
        assert other == per_platform


def test_noise_trips_the_naive_ratio_rule_outside_events(three_days, labels):
    """V1-style alarms (x >= 1.5 prev and +1000) occur where nothing was injected."""
    pos = [x for x in labels if x["kind"] in POSITIVE]
    false_alarms = 0
    for (platform, cid), rows in three_days.groupby(["platform", "category_id"]):
        v = rows.sort_values("ts").set_index("ts").viewers
        prev = v.shift(1)
        fire = v[(v >= 1.5 * prev) & (v - prev >= 1000)].index
        windows = [
            (_ts(x["start"]) - pd.Timedelta(minutes=5), _ts(x["end"]))
            for x in pos
            if x["platform"] == platform and x["category_id"] == cid
        ]
        false_alarms += sum(not any(a <= t <= b for a, b in windows) for t in fire)
    assert false_alarms >= 5


def test_labels_overlap_the_request_and_are_unclipped(sim, labels):
    label = next(x for x in labels if x["kind"] == "organic_growth")
    start, end = _ts(label["start"]), _ts(label["end"])
    middle = start + (end - start) / 2
    inner = sim.labels(middle, middle + pd.Timedelta(minutes=1))
    assert label in inner
    assert label not in sim.labels(end + pd.Timedelta(minutes=1), end + pd.Timedelta(minutes=2))


def test_from_settings(monkeypatch):
    from streampulse_assets.lib.settings import get_settings

    monkeypatch.setenv("STREAMPULSE_SIMULATOR_SEED", "11")
    monkeypatch.setenv("STREAMPULSE_SIMULATOR_CATEGORIES", "25")
    monkeypatch.setenv("STREAMPULSE_SIMULATOR_SCENARIO", "classic")
    get_settings.cache_clear()
    try:
        sim = Simulator.from_settings()
        assert (sim.seed, sim.categories_per_platform, sim.scenario) == (11, 25, "classic")
        assert sim.frame(A, A + timedelta(minutes=1)).shape[0] == 50
        assert Simulator().scenario == "classic"  # default args follow the setting too
    finally:
        get_settings.cache_clear()
    assert np.isfinite(sim.catalog.peak).all()
