"""The default ("hard") simulator: look-alikes that are not spikes, modest real spikes, labels.

Every phenomenon is checked in generated frames against its label: borderline rises, tiny
categories where one streamer doubles the count, event days, platform-wide dips, multi-day
organic trends, day-to-day level noise; plus determinism and minute-by-minute generation.
Ratios are taken against the simulator's own clean level (seasonality without noise or events),
so a rise is measured against what the category would have done without it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from streampulse_assets.lib.quality.metrics import labels_frame
from streampulse_assets.lib.sources.simulator import Simulator
from streampulse_assets.lib.sources.simulator.catalog import fragment_index
from streampulse_assets.lib.timeutil import to_minute

A = datetime(2025, 3, 1)
DAYS = 3
POSITIVE = {"streamer_spike", "category_surge", "category_adoption"}
LOOKALIKES = {"borderline_rise", "small_category_churn", "organic_growth", "event_day"}
MIN = pd.Timedelta(minutes=1)


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(seed=7, categories_per_platform=60, scenario="hard")


@pytest.fixture(scope="module")
def frame(sim) -> pd.DataFrame:
    return sim.frame(A, A + timedelta(days=DAYS))


@pytest.fixture(scope="module")
def labels(sim) -> list[dict]:
    return sim.labels(A, A + timedelta(days=DAYS))


@pytest.fixture(scope="module")
def series(frame) -> dict:
    return {k: g.set_index("ts")["viewers"] for k, g in frame.groupby(["platform", "category_id"])}


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert(None)


def _index(sim: Simulator, platform: str, category_id: str) -> int:
    cat = sim.catalog
    return next(
        i
        for i, cid in enumerate(cat.cat_id)
        if cid == category_id and cat.platforms[cat.cat_platform[i]] == platform
    )


def _clean(sim, series, label, pad: int = 60) -> pd.DataFrame:
    """Observed viewers and the clean level (what the category does anyway) around a label."""
    obs = series[(label["platform"], label["category_id"])]
    start, end = _ts(label["start"]), _ts(label["end"])
    obs = obs[start - pad * MIN : end + pad * MIN]
    c = _index(sim, label["platform"], label["category_id"])
    minutes = np.array([to_minute(t) for t in obs.index], np.int64)
    clean = sim._levels(np.array([c]), minutes)[0][0]
    return pd.DataFrame({"obs": obs.to_numpy(), "clean": clean}, index=obs.index)


def _ratio(sim, series, label, pad: int = 60) -> pd.Series:
    both = _clean(sim, series, label, pad)
    return both["obs"] / np.maximum(both["clean"], 1.0)


def _of(labels, kind):
    found = [x for x in labels if x["kind"] == kind]
    assert found, f"no {kind} label in {DAYS} days"
    return found


def test_hard_is_the_default_and_classic_is_a_setting(monkeypatch):
    from streampulse_assets.lib.settings import get_settings

    monkeypatch.delenv("STREAMPULSE_SIMULATOR_SCENARIO", raising=False)
    get_settings.cache_clear()
    try:
        assert Simulator(categories_per_platform=5).scenario == "hard"
        monkeypatch.setenv("STREAMPULSE_SIMULATOR_SCENARIO", "classic")
        get_settings.cache_clear()
        assert Simulator(categories_per_platform=5).scenario == "classic"
        assert Simulator(categories_per_platform=5, scenario="hard").scenario == "hard"
        with pytest.raises(ValueError, match="unknown simulator scenario 'easy'"):
            Simulator(categories_per_platform=5, scenario="easy")
    finally:
        get_settings.cache_clear()


def test_every_kind_is_labelled_and_labels_are_valid(labels, frame):
    kinds = {x["kind"] for x in labels}
    assert POSITIVE | LOOKALIKES | {"platform_dip"} <= kinds
    frame_keys = set(zip(frame["platform"], frame["category_id"], strict=True))
    for x in labels:
        assert set(x) == {"platform", "category_id", "start", "end", "kind"}
        assert x["category_id"] == "*" or (x["platform"], x["category_id"]) in frame_keys
    assert len(labels_frame(labels)) == len({json.dumps(x, sort_keys=True) for x in labels})
    assert all(x["category_id"] == "*" for x in labels if x["kind"] == "platform_dip")
    per_day = sum(x["kind"] in POSITIVE for x in labels) / (2 * DAYS)
    assert 5 <= per_day <= 14


def test_a_third_of_categories_are_tiny(frame):
    level = frame.groupby(["platform", "category_id"])["viewers"].median()
    assert (level < 100).mean() >= 1 / 3
    assert level.min() >= 5
    assert level.max() > 20_000  # and the biggest are still huge


def test_borderline_rises_stay_within_1_2_to_1_8(sim, series, labels):
    peaks = []
    for x in _of(labels, "borderline_rise"):
        r = _ratio(sim, series, x)
        start, end = _ts(x["start"]), _ts(x["end"])
        before = r[start - 60 * MIN : start - MIN].median()
        peak = r[start:end].rolling(15, center=True, min_periods=8).median().max()
        assert 1.1 <= peak / before <= 2.0, x  # noise and the slow wander included
        assert 20 <= (end - start) / MIN <= 165, x
        peaks.append(peak / before)
    assert len(peaks) >= 4 * DAYS
    assert 1.3 <= np.median(peaks) <= 1.7
    assert np.mean((np.array(peaks) >= 1.2) & (np.array(peaks) <= 1.8)) >= 0.8


def test_tiny_categories_double_when_one_streamer_goes_live(sim, frame, series, labels):
    churn = _of(labels, "small_category_churn")
    assert len(churn) >= 40 * DAYS  # often
    tops = frame.set_index(["platform", "category_id", "ts"])["top_streamers"]
    cat = sim.catalog
    ups, downs, seen = [], [], 0
    tiny = frame.groupby(["platform", "category_id"])["viewers"].median()
    for x in churn:
        key = (x["platform"], x["category_id"])
        v = series[key]
        start, end = _ts(x["start"]), _ts(x["end"])
        before = v[start - 15 * MIN : start - MIN].median()
        assert tiny[key] < 100, x  # a tiny category
        ups.append(v[start + 3 * MIN : start + 12 * MIN].median() / max(before, 1))
        downs.append(
            v[end : end + 8 * MIN].median() / max(v[end - 9 * MIN : end - MIN].median(), 1)
        )
        c = _index(sim, *key)
        slots = [s for s in (11, 12, 13) if cat.aud[c, s] == 0]
        ids = {
            json.loads(cat.fragments[fragment_index(c, s, 0)] + "0}")["channel_id"] for s in slots
        }
        live = json.loads(tops.get((*key, start + 5 * MIN), "[]"))
        seen += bool(ids & {s["channel_id"] for s in live})
    assert np.median(ups) >= 1.8 and np.mean(np.array(ups) >= 1.5) >= 0.75
    assert np.median(downs) <= 0.6
    assert seen >= 0.9 * len(churn)  # the streamer is in the top 5 once live


def test_event_days_are_elevated_all_day_after_a_gradual_build_up(sim, series, labels):
    for x in _of(labels, "event_day"):
        r = _ratio(sim, series, x, pad=30)
        start, end = _ts(x["start"]), _ts(x["end"])
        assert end - start >= pd.Timedelta(hours=12), x
        smooth = r.rolling(15, center=True, min_periods=8).median()
        before = r[start - 30 * MIN : start - MIN].median()
        assert smooth[start + 4 * 60 * MIN : end - 3 * 60 * MIN].min() >= 1.25 * before, x
        assert r[start : start + 10 * MIN].median() <= 1.2 * before, x  # no sudden jump
        assert smooth[start : start + 60 * MIN].diff(10).max() <= 0.6 * before, x


def test_platform_dip_hits_every_category_then_recovers(sim, series, labels):
    for x in _of(labels, "platform_dip"):
        start, end = _ts(x["start"]), _ts(x["end"])
        mid = start + (end - start) / 2
        spans = {
            "before": (start - 30 * MIN, start - MIN),
            "mid": (mid - 2 * MIN, mid + 2 * MIN),
            "after": (end + 10 * MIN, end + 20 * MIN),
        }
        drops, recovered = [], []
        for k in (k for k in series if k[0] == x["platform"]):
            both = _clean(sim, series, {**x, "category_id": k[1]})
            if both["obs"][spans["before"][0] : spans["before"][1]].median() < 50:
                continue  # tiny categories are too noisy to see a 20 % dip minute by minute
            r = both["obs"] / np.maximum(both["clean"], 1.0)
            level = {n: r[a:b].median() for n, (a, b) in spans.items()}
            drops.append(level["mid"] / level["before"])
            recovered.append(level["after"] / level["mid"])
        assert len(drops) >= 20
        assert np.mean(np.array(drops) <= 0.9) >= 0.9, (x, np.round(drops, 2))
        assert 0.35 <= np.median(drops) <= 0.85, x
        assert np.mean(np.array(recovered) >= 1.1) >= 0.8, x  # and it comes back


def test_real_spikes_are_sudden_start_at_the_label_and_many_are_modest(series, labels):
    sizes = []
    for x in labels:
        if x["kind"] not in POSITIVE:
            continue
        v = series[(x["platform"], x["category_id"])]
        start, end = _ts(x["start"]), _ts(x["end"])
        before = v[start - 30 * MIN : start - 2 * MIN].median()
        window = v[start:end]
        peak = window.rolling(3, center=True, min_periods=2).median().max()
        early = window.iloc[:6].rolling(2).median().max()
        assert peak >= 1.2 * before, x
        assert early - before >= 0.5 * (peak - before), x  # most of the height within minutes
        assert v[start - 3 * MIN : start - MIN].mean() - before <= 0.25 * (peak - before), x
        sizes.append(peak / before)
    sizes = np.array(sizes)
    assert len(sizes) >= 20
    assert np.mean(sizes <= 3.3) >= 0.5  # many are modest, not only huge
    assert sizes.max() >= 3.5  # and some are still large


def test_multi_day_trends_are_labelled_and_real(sim, series, labels):
    trends = _of(labels, "organic_growth")
    whole_days = [
        x for x in trends if _ts(x["end"]) - _ts(x["start"]) == pd.Timedelta(minutes=1439)
    ]
    assert whole_days
    for x in whole_days[:10]:
        c = _index(sim, x["platform"], x["category_id"])
        m = np.array([to_minute(_ts(x["start"])), to_minute(_ts(x["end"]))])
        day_mid = np.array([m[0] + 720 - 1440, m[0] + 720, m[0] + 720 + 1440])
        clean = sim._levels(np.array([c]), day_mid)[2][0]  # factor at the same hour
        assert clean[2] > clean[0], x  # the category is busier two days on at the same hour


def test_days_differ_by_10_to_20_percent(sim):
    """The same category at the same KST hour on the same weekday, a week apart."""
    noon = to_minute(A) + 12 * 60
    minutes = noon + 7 * 1440 * np.arange(6)
    factor = sim._levels(np.arange(sim.catalog.n), minutes)[2]
    change = np.abs(np.log(factor[:, 1:] / factor[:, :-1]))
    assert np.mean(change > np.log(1.1)) >= 0.3
    assert np.quantile(change, 0.95) < np.log(2.0)


def test_deterministic_and_minute_by_minute_equals_a_range():
    one = Simulator(seed=11, categories_per_platform=40, scenario="hard")
    two = Simulator(seed=11, categories_per_platform=40, scenario="hard")
    day = (A, A + timedelta(days=1))
    assert one.labels(*day) == two.labels(*day)
    # a window around a churn start (and anything else there), minute by minute, fresh instance
    churn = next(x for x in one.labels(*day) if x["kind"] == "small_category_churn")
    start = _ts(churn["start"]).to_pydatetime() - timedelta(minutes=4)
    whole = one.frame(start, start + timedelta(minutes=12))
    ticks = [
        two.frame(start + timedelta(minutes=k), start + timedelta(minutes=k + 1)) for k in range(12)
    ]
    pd.testing.assert_frame_equal(whole, pd.concat(ticks, ignore_index=True))
    # a day's events never depend on the requested window
    inner = one.labels(_ts(churn["start"]), _ts(churn["start"]) + MIN)
    assert churn in inner and all(x in one.labels(*day) for x in inner)
    other = Simulator(seed=12, categories_per_platform=40, scenario="hard").frame(
        start, start + timedelta(minutes=12)
    )
    assert not whole["viewers"].equals(other["viewers"])


def test_platform_dip_window_is_reproduced_in_ticks(sim, frame, labels):
    dip = _of(labels, "platform_dip")[0]
    start = _ts(dip["start"]).to_pydatetime()
    fresh = Simulator(seed=7, categories_per_platform=60, scenario="hard")
    ticks = pd.concat(
        [
            fresh.frame(start + timedelta(minutes=k), start + timedelta(minutes=k + 1))
            for k in range(5)
        ],
        ignore_index=True,
    )
    span = frame[(frame["ts"] >= start) & (frame["ts"] < start + timedelta(minutes=5))]
    pd.testing.assert_frame_equal(ticks, span.reset_index(drop=True))


def test_cli_simulate_chooses_the_scenario(tmp_path):
    from typer.testing import CliRunner

    from streampulse_assets.cli.main import app
    from streampulse_assets.lib.sources.replay import labels_from_file

    out, found = tmp_path / "sim.parquet", tmp_path / "labels.json"
    args = ["simulate", "--start", "2025-03-01", "--end", "2025-03-01T00:10"]
    args += ["--out", str(out), "--labels", str(found), "--seed", "5", "--categories", "6"]
    result = CliRunner().invoke(app, [*args, "--scenario", "classic"])
    assert result.exit_code == 0, result.output
    day = (datetime(2025, 3, 1), datetime(2025, 3, 1, 0, 10))
    assert labels_from_file(found) == Simulator(5, 6, scenario="classic").labels(*day)
    assert labels_from_file(found) != Simulator(5, 6, scenario="hard").labels(*day)
    result = CliRunner().invoke(app, [*args, "--scenario", "easy"])
    assert result.exit_code != 0 and "unknown simulator scenario" in result.output
