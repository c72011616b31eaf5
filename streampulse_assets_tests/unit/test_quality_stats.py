"""Wilson intervals, exact McNemar and the day-block bootstrap on known inputs."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from streampulse_assets.lib.quality.metrics import Exposure
from streampulse_assets.lib.quality.stats import (
    bootstrap_differences,
    bootstrap_f1,
    mcnemar_windows,
    wilson,
)

DAYS = [date(2025, 3, 1) + timedelta(days=i) for i in range(10)]


def test_wilson_matches_reference_values_not_the_normal_default():
    # Reference values: statsmodels proportion_confint(8, 10, method="wilson"), which equal the
    # closed form (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n) with z = 1.959964.
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4901624715, abs=1e-9)
    assert high == pytest.approx(0.9433178485, abs=1e-9)
    assert high < 1  # the normal approximation would give (0.552, 1.048)
    low0, high0 = wilson(0, 10)
    assert low0 == pytest.approx(0.0, abs=1e-12)
    assert high0 == pytest.approx(0.2775327999, abs=1e-9)
    assert wilson(0, 0) is None


def test_mcnemar_exact_p_on_known_table():
    # both caught 10, only V1 1, only V3 6, neither 3: p = 2 * P(X <= 1 | n=7, 1/2) = 16/128
    v1 = [True] * 10 + [True] + [False] * 6 + [False] * 3
    v3 = [True] * 10 + [False] + [True] * 6 + [False] * 3
    res = mcnemar_windows(v1, v3)
    assert res.table == [[10, 1], [6, 3]]
    assert (res.a_only, res.b_only) == (1, 6)
    assert res.pvalue == pytest.approx(0.125)
    assert mcnemar_windows([False] * 5, [True] * 5).pvalue == pytest.approx(2 / 32)
    assert mcnemar_windows([True, False], [True, False]).pvalue == pytest.approx(1.0)
    assert mcnemar_windows([], []).pvalue is None
    with pytest.raises(ValueError, match="differ in length"):
        mcnemar_windows([True], [])


def per_day(alerts, true_alerts, windows, caught):
    frame = pd.DataFrame(
        {
            "alerts": alerts,
            "true_alerts": true_alerts,
            "windows": windows,
            "windows_caught": caught,
        },
        index=pd.Index(DAYS[: len(alerts)], name="day"),
    )
    frame["false_alarms"] = frame["alerts"] - frame["true_alerts"]
    return frame


@pytest.fixture
def pair():
    rng = np.random.default_rng(3)
    windows = rng.integers(4, 9, len(DAYS))
    v1_alerts = rng.integers(15, 30, len(DAYS))
    v1 = per_day(v1_alerts, v1_alerts // 2, windows, windows - 2)
    v3_alerts = windows + 1
    v3 = per_day(v3_alerts, windows, windows, windows)
    return v1, v3, Exposure(100, dict.fromkeys(DAYS, 1.0))


def test_bootstrap_is_deterministic_with_a_seed_and_brackets_the_point(pair):
    v1, v3, expo = pair
    first = bootstrap_differences(v1, v3, expo, seed=11, n_resamples=999)
    again = bootstrap_differences(v1, v3, expo, seed=11, n_resamples=999)
    other = bootstrap_differences(v1, v3, expo, seed=12, n_resamples=999)
    assert first == again
    assert first["f1"] != other["f1"]
    f1 = first["f1"]
    assert f1.low <= f1.value <= f1.high
    assert f1.method == "day-block bootstrap (BCa)"


def test_bootstrap_difference_signs_follow_a_consistently_better_detector(pair):
    v1, v3, expo = pair
    diffs = bootstrap_differences(v1, v3, expo, n_resamples=999)
    assert diffs["f1"].low > 0  # V3 better every day
    fa = diffs["false_alarms_per_category_day"]
    expected = (v3["false_alarms"].sum() - v1["false_alarms"].sum()) / (100 * len(DAYS))
    assert fa.value == pytest.approx(expected)
    assert fa.high < 0  # V3 raises fewer false alarms every day


def test_bootstrap_f1_of_one_detector(pair):
    _, v3, expo = pair
    perfect_share = bootstrap_f1(v3, expo, n_resamples=999)
    assert perfect_share.low <= perfect_share.value <= perfect_share.high <= 1


def test_bootstrap_needs_two_days_and_survives_undefined_resamples():
    one = per_day([3], [2], [2], [1])
    res = bootstrap_differences(one, one, Exposure(10, {DAYS[0]: 1.0}), n_resamples=99)
    assert res["f1"].value == 0 and res["f1"].low is None
    # Day 2 has neither windows nor V1 alerts: resamples made only of day 2 have no V1 F1.
    v1 = per_day([2, 0], [1, 0], [2, 0], [1, 0])
    v3 = per_day([2, 3], [2, 0], [2, 0], [2, 0])
    res = bootstrap_differences(v1, v3, Exposure(10, dict.fromkeys(DAYS[:2], 1.0)), n_resamples=99)
    assert res["f1"].low is not None and "undefined resamples dropped" in res["f1"].method
