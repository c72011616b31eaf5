"""NAB scoring: hand-computed cases everywhere, and NAB's published scores when shared/ exists."""

import json
import math
import os
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streampulse_assets.lib.quality.nab_corpus import (
    binary_scores,
    corpus_from_frame,
    optimise_threshold,
    score_corpus,
)
from streampulse_assets.lib.quality.nab_scoring import (
    PROFILES,
    normalised,
    probation_length,
    score_series,
)

T0 = datetime(2025, 3, 1)
TS = np.array([T0 + timedelta(minutes=5 * i) for i in range(100)], dtype="datetime64[ns]")
W = [(TS[50], TS[59])]  # rows 50..59: width 10; probation = rows 0..14
MAX_TP = 2 / (1 + math.exp(-5)) - 1  # scaledSigmoid(-1) = 0.98661


def scores_at(*rows, n=100):
    s = np.zeros(n)
    s[list(rows)] = 1.0
    return s


def raw(*rows, windows=W, profile="standard"):
    return score_series(TS, scores_at(*rows), windows, 0.5, profile).raw


def test_first_row_of_a_window_is_worth_tp_weight_and_the_last_row_a_quarter():
    assert raw(50) == pytest.approx(1.0)
    # position -(59 - 59 + 1) / 10 = -0.1: (2 / (1 + e^-0.5) - 1) / 0.98661 = 0.24824
    assert raw(59) == pytest.approx(0.2482417, abs=1e-6)
    assert raw(59) == pytest.approx((2 / (1 + math.exp(-0.5)) - 1) / MAX_TP)
    assert raw() == -1.0  # window missed
    assert raw(profile="reward_low_FN_rate") == -2.0


def test_two_detections_in_one_window_count_once_as_the_earliest():
    s = score_series(TS, scores_at(55, 50, 57), W, 0.5)
    assert s.raw == pytest.approx(1.0)
    assert (s.tp, s.fp, s.windows, s.windows_hit) == (3, 0, 1, 1)
    assert s.fn == 7 and s.tn == 85 - 10


def test_false_positive_right_after_a_window_costs_less_than_far_away():
    # row 60: (60 - 59) / (10 - 1) = 1/9 -> 2 / (1 + e^(5/9)) - 1 = -0.27084, x 0.11
    near = raw(60) + 1.0
    assert near == pytest.approx(-0.0297925, abs=1e-6)
    assert raw(95) + 1.0 == pytest.approx(-0.11)  # 36/9 = 4 > 3: the full penalty
    assert raw(20) + 1.0 == pytest.approx(-0.11)  # before any window: the full penalty
    assert raw(20, 95, profile="reward_low_FP_rate") + 1.0 == pytest.approx(-0.44)
    s = score_series(TS, scores_at(20, 60, 95), W, 0.5)
    assert (s.fp, s.windows_hit) == (3, 0)


def test_probationary_rows_are_not_scored():
    assert probation_length(100) == 15
    assert probation_length(10_000) == 750  # capped at 0.15 * 5000
    assert raw(14) == -1.0 and raw(15) == pytest.approx(-1.11)  # row 15 is a scored FP
    early = [(TS[2], TS[8])]  # a window wholly in probation does not count at all
    s = score_series(TS, scores_at(5), early, 0.5)
    assert (s.raw, s.windows, s.tp, s.fp) == (0.0, 0, 0, 0)
    straddling = [(TS[10], TS[19])]  # counts through rows 15..19, positions of the full window
    assert raw(12, windows=straddling) == -1.0
    # row 15: -(19 - 15 + 1) / 10 = -0.5 -> tanh(1.25) / 0.98661 = 0.85980
    assert raw(12, 15, windows=straddling) == pytest.approx(math.tanh(1.25) / MAX_TP)


def test_threshold_is_inclusive_and_windows_snap_to_rows():
    s = np.zeros(100)
    s[50] = 0.7
    assert score_series(TS, s, W, 0.7).raw == pytest.approx(1.0)
    assert score_series(TS, s, W, 0.7000001).raw == -1.0
    between = [(TS[49] + np.timedelta64(1, "m"), TS[59] + np.timedelta64(2, "m"))]
    assert score_series(TS, scores_at(59), between, 0.5).raw == pytest.approx(raw(59))
    shuffled = np.random.default_rng(1).permutation(100)
    assert score_series(TS[shuffled], scores_at(59)[shuffled], W, 0.5).raw == raw(59)


def test_normalisation_against_the_null_and_perfect_detectors():
    assert normalised(-4.0, 4, "standard") == 0.0
    assert normalised(4.0, 4, "standard") == 100.0
    assert normalised(0.0, 4, "standard") == 50.0
    assert normalised(0.0, 4, "reward_low_FN_rate") == pytest.approx(100 * 8 / 12)
    assert normalised(0.0, 0, "standard") is None
    assert PROFILES["reward_low_FP_rate"].fp == 0.22 and PROFILES["reward_low_FN_rate"].fn == 2


def test_corpus_totals_and_the_in_sample_optimum_match_a_brute_force_sweep():
    rng = np.random.default_rng(3)
    series = {f"s{i}": (TS, rng.random(100).round(2)) for i in range(4)}
    windows = {"s0": W, "s1": [(TS[20], TS[29]), (TS[70], TS[74])], "s3": W}
    corpus = score_corpus(series, windows, 0.9)
    std = corpus["standard"]
    assert std.windows == 4 and set(std.raw) == set(series)
    assert std.total_raw == pytest.approx(sum(std.raw.values()))
    assert std.normalised == pytest.approx(normalised(std.total_raw, 4, "standard"))
    best = optimise_threshold(series, windows)
    for name in PROFILES:
        candidates = sorted({float(v) for _, s in series.values() for v in s}, reverse=True)
        totals = [score_corpus(series, windows, t, (name,))[name].total_raw for t in candidates]
        k = int(np.argmax(totals))
        assert best[name].threshold == candidates[k]
        assert best[name].total_raw == pytest.approx(totals[k])


def test_binary_scores_and_corpus_from_frames():
    rows = pd.DataFrame(
        {"platform": "chzzk", "category_id": ["a"] * 100 + ["b"] * 100, "ts": list(TS) * 2}
    )
    events = pd.DataFrame(
        {
            "detector": ["V3", "V3", "V1", "V3"],
            "platform": "chzzk",
            "category_id": ["a", "b", "a", "a"],
            "ts": [TS[50], TS[90], TS[51], TS[52]],
            "level": ["SPIKE", "SPIKE", "SPIKE", "CANDIDATE"],
        }
    )
    scores = binary_scores(rows, events, "V3")
    assert len(scores) == 200 and scores["score"].sum() == 2.0
    labels = [
        {"platform": "chzzk", "category_id": "a", "kind": "streamer_spike",
         "start": "2025-03-01T04:10:00Z", "end": "2025-03-01T04:55:00Z"},  # rows 50..59
        {"platform": "chzzk", "category_id": "a", "kind": "organic_growth",
         "start": "2025-03-01T06:00:00Z", "end": "2025-03-01T07:00:00Z"},  # not a window
        {"platform": "chzzk", "category_id": "zz", "kind": "nab_anomaly",
         "start": "2025-03-01T04:10:00Z", "end": "2025-03-01T04:55:00Z"},  # no such series
    ]  # fmt: skip
    series, windows = corpus_from_frame(scores, labels)
    assert set(series) == {"chzzk/a", "chzzk/b"} and set(windows) == {"chzzk/a"}
    corpus = score_corpus(series, windows, 0.5)["standard"]
    assert corpus.raw["chzzk/a"] == pytest.approx(1.0)
    assert corpus.raw["chzzk/b"] == pytest.approx(-0.11)  # a false alarm, no preceding window
    assert (corpus.windows, corpus.hits, corpus.fp_count) == (1, 1, 1)


# --- NAB's published results (shared/datasets/nab) ------------------------------------------


def _nab_dir() -> Path | None:
    env = os.environ.get("STREAMPULSE_SHARED_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared")
    for shared in candidates:
        if (shared / "datasets" / "nab" / "combined_windows.json").exists():
            return shared / "datasets" / "nab"
    return None


NAB = _nab_dir()
needs_nab = pytest.mark.skipif(
    NAB is None, reason="NAB data not found: set STREAMPULSE_SHARED_DIR or put shared/ beside the "
    "repository (needs shared/datasets/nab/combined_windows.json)",
)  # fmt: skip


def _windows() -> dict:
    return json.loads((NAB / "combined_windows.json").read_text())


def _published(detector: str, profile: str) -> pd.DataFrame:
    frame = pd.read_csv(NAB / "results" / detector / f"{detector}_{profile}_scores.csv")
    return frame[frame["File"] != "Totals"].set_index("File")


@needs_nab
@pytest.mark.parametrize("profile", list(PROFILES))
def test_numenta_rows_reproduce_nab_per_file_scores(profile):
    windows = _windows()
    threshold = json.loads((NAB / "config" / "thresholds.json").read_text())["numenta"]
    threshold = threshold[profile]["threshold"]
    published = _published("numenta", profile)
    files = sorted((NAB / "results" / "numenta" / "realTweets").glob("numenta_*.csv"))
    assert len(files) == 5
    for path in files:
        name = "realTweets/" + path.name.removeprefix("numenta_")
        rows = pd.read_csv(path, usecols=["timestamp", "anomaly_score"])
        got = score_series(
            rows["timestamp"], rows["anomaly_score"], windows[name], threshold, profile
        )
        want = published.loc[name]
        assert abs(got.raw - want["Score"]) < 0.01, (name, got.raw, want["Score"])
        assert (got.tp, got.fp, got.fn, got.tn) == (want["TP"], want["FP"], want["FN"], want["TN"])


README_TABLE = {  # detector: (5 realTweets, all 36 files) x (standard, low FP, low FN)
    "ARTime": ((83.8, 73.1, 89.2), (69.0, 57.6, 75.0)),
    "contextOSE": ((76.0, 75.7, 77.5), (64.6, 60.9, 69.4)),
    "numenta": ((66.1, 61.2, 69.1), (63.9, 57.2, 68.3)),
}


@needs_nab
@pytest.mark.parametrize("detector", list(README_TABLE))
def test_published_per_file_scores_normalise_to_the_shared_readme_table(detector):
    windows = _windows()
    data_files = {f"{p.parent.name}/{p.name}" for p in NAB.glob("*/*.csv")}
    assert data_files == set(windows) and len(windows) == 36
    assert sum(len(w) for w in windows.values()) == 61
    tweets = sorted(f for f in windows if f.startswith("realTweets/"))
    for subset, expected in zip((tweets, sorted(windows)), README_TABLE[detector], strict=True):
        for profile, want in zip(PROFILES, expected, strict=True):
            scores = _published(detector, profile).loc[subset, "Score"]
            n_windows = sum(len(windows[f]) for f in subset)
            assert round(normalised(scores.sum(), n_windows, profile), 1) == want


@needs_nab
def test_numenta_corpus_normalised_on_the_tweets_matches_the_readme():
    windows = _windows()
    thresholds = json.loads((NAB / "config" / "thresholds.json").read_text())["numenta"]
    series = {}
    for path in sorted((NAB / "results" / "numenta" / "realTweets").glob("numenta_*.csv")):
        rows = pd.read_csv(path, usecols=["timestamp", "anomaly_score"])
        series["realTweets/" + path.name.removeprefix("numenta_")] = (
            rows["timestamp"],
            rows["anomaly_score"],
        )
    corpus = score_corpus(series, windows, {p: t["threshold"] for p, t in thresholds.items()})
    got = tuple(round(corpus[p].normalised, 1) for p in PROFILES)
    assert got == README_TABLE["numenta"][0]
    assert corpus["standard"].windows == 16 and corpus["standard"].hits == 12
