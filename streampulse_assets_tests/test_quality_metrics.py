"""Event-level metric definitions pinned on small hand-made cases."""

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from streampulse_assets.lib.quality.metrics import (
    LabelError,
    exposure,
    exposure_from_span,
    labels_frame,
    positive_windows,
    score_detector,
)

T0 = datetime(2025, 3, 1, 10, 0)


def window(cat, start=T0, minutes=30, kind="streamer_spike", platform="chzzk"):
    end = start + timedelta(minutes=minutes)
    return {
        "platform": platform,
        "category_id": cat,
        "start": start.isoformat() + "Z",
        "end": end.isoformat() + "Z",
        "kind": kind,
    }


def _event(detector, cat, offset, level="SPIKE", platform="chzzk"):
    ts = T0 + timedelta(minutes=offset)
    return {
        "detector": detector,
        "platform": platform,
        "category_id": cat,
        "ts": ts,
        "level": level,
    }


def events(*rows, detector="V3"):
    """rows: (category, minutes after T0[, level[, platform]])."""
    out = [_event(detector, *row) for row in rows]
    return pd.DataFrame(out, columns=["detector", "platform", "category_id", "ts", "level"])


def test_known_confusion_table_gives_exact_precision_recall_f1_and_delays():
    labels = [window(f"c{i}") for i in range(8)] + [window("c8", kind="organic_growth")]
    ev = events(
        ("c0", 2), ("c0", 10),  # caught; first alert 2 min after start, a second true alert
        ("c1", -5),  # exactly at the 5-minute lead tolerance: true, delay -5
        ("c2", 30),  # exactly at the window end: true, delay 30
        ("c3", 4), ("c4", 6), ("c5", 8),
        ("c6", 45),  # after c6's window: false alarm, c6 missed
        ("c6", 12, "CANDIDATE"),  # c6 has a candidate only: counts for candidate coverage
        ("c8", 5),  # inside organic growth: false alarm of that kind
        ("c9", 5),  # no label at all
    )  # fmt: skip
    s = score_detector(ev, labels, "V3", category_days=20)
    assert (s.alerts, s.true_alerts, s.false_alarms) == (10, 7, 3)
    assert (s.windows, s.windows_caught, s.windows_candidate) == (8, 6, 7)
    assert s.precision == pytest.approx(0.7)
    assert s.recall == pytest.approx(0.75)
    assert s.f1 == pytest.approx(2 * 0.7 * 0.75 / 1.45)
    assert s.false_alarms_by_kind == {"organic_growth": 1, "unlabelled": 2}
    assert s.false_alarms_per_category_day == pytest.approx(3 / 20)
    assert sorted(s.delays) == [-5, 2, 4, 6, 8, 30]
    assert s.delay(50) == pytest.approx(5.0)
    assert s.delay(90) == pytest.approx(19.0)  # numpy linear percentile between 8 and 30
    assert s.candidate_coverage == pytest.approx(7 / 8)
    assert s.caught == [True] * 6 + [False] * 2


@pytest.mark.parametrize(
    ("offset", "is_true"), [(-6, False), (-5, True), (0, True), (30, True), (31, False)]
)
def test_tolerance_is_five_minutes_before_start_up_to_end(offset, is_true):
    s = score_detector(events(("a", offset)), [window("a")], "V3", 1)
    assert s.true_alerts == int(is_true)
    assert s.windows_caught == int(is_true)


def test_empty_inputs_give_undefined_metrics():
    s = score_detector(pd.DataFrame(), [], "V3", 0)
    assert (s.alerts, s.windows) == (0, 0)
    assert s.precision is None and s.recall is None and s.f1 is None
    assert s.false_alarms_per_category_day is None
    assert s.delay(50) is None and s.candidate_coverage is None


def test_all_miss_scores_zero():
    s = score_detector(events(("a", 120), ("b", 0)), [window("a")], "V3", 2)
    assert (s.alerts, s.true_alerts, s.windows_caught) == (2, 0, 0)
    assert s.precision == 0 and s.recall == 0 and s.f1 == 0
    assert s.delays == [] and s.false_alarms_per_category_day == 1.0


def test_no_alerts_with_windows_is_zero_recall_and_zero_f1():
    s = score_detector(events(), [window("a")], "V3", 1)
    assert s.precision is None and s.recall == 0 and s.f1 == 0


def test_alerts_without_windows_are_all_false():
    s = score_detector(events(("a", 0)), [], "V3", 1)
    assert s.precision == 0 and s.recall is None and s.f1 == 0


def test_only_the_detectors_spikes_of_the_same_platform_and_category_count():
    ev = pd.concat(
        [
            events(("a", 1), detector="V1"),  # other detector
            events(("a", 1, "CANDIDATE")),  # not an alert
            events(("a", 1, "SPIKE", "soop")),  # same category id, other platform
        ]
    )
    s = score_detector(ev, [window("a")], "V3", 1)
    assert (s.alerts, s.true_alerts, s.windows_caught, s.windows_candidate) == (1, 0, 0, 1)


def test_overlapping_positive_windows_merge_into_one():
    labels = [
        window("a"),
        window("a", T0 + timedelta(minutes=20)),
        window("a", T0 + timedelta(hours=3)),
    ]
    merged = positive_windows(labels_frame(labels))
    assert len(merged) == 2
    assert merged.iloc[0]["end"] == pd.Timestamp(T0 + timedelta(minutes=50))
    s = score_detector(events(("a", 45)), labels, "V3", 1)
    assert (s.windows, s.windows_caught, s.recall) == (2, 1, 0.5)


def test_operator_false_vetoes_an_alert_inside_a_positive_window():
    veto = window("a", T0 + timedelta(minutes=5), minutes=10, kind="operator_false")
    s = score_detector(events(("a", 1), ("a", 10)), [window("a"), veto], "V3", 1)
    assert s.true_alerts == 1
    assert s.false_alarms_by_kind == {"operator_false": 1}
    assert s.delays == [1.0]


def test_per_day_counts_use_alert_minute_and_window_start():
    late = datetime(2025, 3, 1, 23, 50)
    labels = [window("a", late, minutes=30), window("b")]
    ev = events(("a", 14 * 60 + 5), ("c", 20 * 60))  # 00:05 next day (true), 06:00 (false)
    s = score_detector(ev, labels, "V3", 2)
    day1, day2 = date(2025, 3, 1), date(2025, 3, 2)
    assert s.per_day.loc[day1].to_dict() == {
        "alerts": 0, "true_alerts": 0, "windows": 2, "windows_caught": 1, "false_alarms": 0
    }  # fmt: skip
    assert s.per_day.loc[day2].to_dict() == {
        "alerts": 2, "true_alerts": 1, "windows": 0, "windows_caught": 0, "false_alarms": 1
    }  # fmt: skip


def test_labels_with_offsets_are_converted_to_utc():
    label = window("a") | {"start": "2025-03-01T19:00:00+09:00", "end": "2025-03-01T19:30:00+09:00"}
    frame = labels_frame([label])
    assert frame.loc[0, "start"] == pd.Timestamp("2025-03-01 10:00")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "spike"}, "unknown kind"),
        ({"end": None}, "lacks end"),
        ({"end": "2025-03-01T09:00:00Z"}, "ends before it starts"),
        ({"start": "yesterday"}, "ISO UTC"),
    ],
)
def test_bad_labels_are_rejected_clearly(change, message):
    with pytest.raises(LabelError, match=message):
        labels_frame([window("a") | change])


def test_exposure_counts_categories_times_days_covered():
    ts = pd.to_datetime(["2025-03-01 12:00", "2025-03-02 11:59", "2025-03-01 12:00"])
    snaps = pd.DataFrame({"platform": ["chzzk", "chzzk", "soop"], "category_id": ["a", "b", "a"]})
    expo = exposure(snaps.assign(ts=ts))
    assert expo.n_categories == 3
    assert expo.day_fractions == {date(2025, 3, 1): 0.5, date(2025, 3, 2): 0.5}
    assert expo.category_days == pytest.approx(3.0)
    assert exposure(pd.DataFrame()).category_days == 0
    one_day = exposure_from_span(300, datetime(2025, 3, 1), datetime(2025, 3, 1, 23, 59))
    assert one_day.category_days == pytest.approx(300.0)


def test_platform_wide_labels_apply_to_every_category_of_that_platform():
    outage = window("*", T0 + timedelta(minutes=60), minutes=1, kind="partial_outage")
    ev = events(("a", 60), ("b", 61), ("c", 60, "SPIKE", "soop"), ("d", 62))
    s = score_detector(ev, [outage], "V3", 1)
    assert s.false_alarms_by_kind == {"partial_outage": 2, "unlabelled": 2}
