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
    scored_exposure,
    series_spans,
    warmup_from_spans,
)
from streampulse_assets.lib.quality.report import build_report, render_markdown

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


# --- warm-up -----------------------------------------------------------------------------


def rows_frame(*series):
    """series: (category, first, last) -> one row per 5 minutes from first to last."""
    parts = [
        pd.DataFrame(
            {"platform": "chzzk", "category_id": cat, "ts": pd.date_range(first, last, freq="5min")}
        )
        for cat, first, last in series
    ]
    return pd.concat(parts, ignore_index=True)


def test_warmup_leaves_out_alerts_and_windows_in_each_series_first_days():
    rows = rows_frame(("a", T0 - timedelta(days=1), T0 + timedelta(days=3)),
                      ("b", T0 - timedelta(days=3), T0 + timedelta(days=3)))  # fmt: skip
    warm = warmup_from_spans(series_spans(rows), days=2)  # a scored from T0 + 1 day, b from T0 - 1
    until_a = T0 + timedelta(days=1)
    labels = [
        window("a"),  # starts in a's warm-up: not scored
        window("a", until_a - timedelta(minutes=10)),  # starts in it too, ends after it
        window("b"),
        window("a", until_a + timedelta(hours=2)),
    ]
    ev = events(
        ("a", 2),  # in a's warm-up
        ("a", 24 * 60 + 5),  # after the warm-up, but only matches a window left out
        ("a", 24 * 60 + 125),  # catches a's scored window
        ("b", 3), ("b", 120),  # true, and a false alarm
    )  # fmt: skip
    s = score_detector(ev, labels, "V3", 4.0, warm)
    assert (s.alerts_excluded, s.windows_excluded) == (2, 2)
    assert (s.alerts, s.true_alerts, s.windows, s.windows_caught) == (3, 2, 2, 2)
    assert s.false_alarms_per_category_day == pytest.approx(1 / 4)
    plain = score_detector(ev, labels, "V3", 4.0)
    assert (plain.alerts, plain.windows, plain.alerts_excluded) == (5, 4, 0)
    zero = score_detector(ev, labels, "V3", 4.0, warmup_from_spans(series_spans(rows), 0))
    assert (zero.alerts, zero.true_alerts, zero.windows, zero.caught) == (
        plain.alerts, plain.true_alerts, plain.windows, plain.caught
    )  # fmt: skip


def test_scored_exposure_counts_each_series_after_its_warm_up():
    d1 = datetime(2025, 3, 1)
    rows = rows_frame(
        ("a", d1, d1 + timedelta(days=2, hours=23, minutes=55)),
        ("b", d1 + timedelta(days=1), d1 + timedelta(days=2, hours=23, minutes=55)),
    )
    spans = series_spans(rows)  # fmt: skip
    assert spans["first"].tolist() == [pd.Timestamp(d1), pd.Timestamp(d1 + timedelta(days=1))]
    expo = scored_exposure(warmup_from_spans(spans, days=1))
    # a: days 2 and 3 (last minute 23:55 + 1 minute); b: day 3 only
    one = 1 - 4 / 1440
    assert expo.n_categories == 2 and expo.days == pytest.approx(3 - 4 / 1440)
    assert expo.category_days_on(date(2025, 3, 1)) == 0.0
    assert expo.category_days_on(date(2025, 3, 2)) == pytest.approx(1.0)
    assert expo.category_days_on(date(2025, 3, 3)) == pytest.approx(2 * one)
    assert expo.category_days == pytest.approx(1 + 2 * one)
    no_warmup = scored_exposure(warmup_from_spans(spans, days=0))
    assert no_warmup.category_days == pytest.approx((2 + one) + (1 + one))  # own spans
    with pytest.raises(ValueError, match="warm-up days"):
        warmup_from_spans(spans, days=-1)


def test_report_scores_every_detector_and_adds_nab_and_the_warmup_block():
    rows = rows_frame(("a", T0 - timedelta(hours=2), T0 + timedelta(hours=3)))
    labels = [window("a", T0 + timedelta(minutes=30))]
    ev = pd.concat(
        [
            events(("a", -100)),  # V3: in the warm-up
            events(("a", 30)),  # V3: first row of the window
            events(("a", 31), detector="V1"),  # V1: not a row (rows every 5 minutes)
            events(("a", 40), detector="LEARNED"),
        ]
    )
    learned = rows.assign(score=0.0)
    learned.loc[learned["ts"] == pd.Timestamp(T0 + timedelta(minutes=40)), "score"] = 0.9
    warm = warmup_from_spans(series_spans(rows), days=1 / 24)
    report = build_report(
        ev, labels, scored_exposure(warm), n_resamples=99, warmup=warm, rows=rows,
        row_scores={"LEARNED": learned}, score_threshold=0.8,
    )  # fmt: skip
    assert list(report["detectors"]) == ["V1", "V3", "LEARNED"]
    pairs = [(c["baseline"], c["challenger"]) for c in report["comparisons"]]
    assert pairs == [("V1", "V3"), ("V1", "LEARNED"), ("V3", "LEARNED")]  # every pair, once
    assert report["comparison"] == report["comparisons"][0]
    assert "### LEARNED vs V3" in render_markdown(report)
    assert report["warmup"]["alerts_excluded"] == {"V1": 0, "V3": 1, "LEARNED": 0}
    assert report["warmup"]["until"] == "2025-03-01T09:00:00Z"
    assert report["meta"]["category_days"] == pytest.approx((4 * 60 + 1) / 1440, abs=1e-4)
    nab = report["nab"]["detectors"]
    assert nab["V3"]["source"] == "binary" and nab["V3"]["threshold"] == 0.5
    # 61 rows from 08:00, probation 9 (V3 at 08:20 is in it); the window is 10:30..11:00
    assert nab["V3"]["profiles"]["standard"]["raw"] == pytest.approx(1.0)
    assert nab["V3"]["profiles"]["standard"]["normalised"] == pytest.approx(100.0)
    assert nab["V1"]["profiles"]["standard"]["normalised"] == 0.0  # its alert is no row
    assert nab["LEARNED"]["source"] == "per-row score" and nab["LEARNED"]["threshold"] == 0.8
    assert nab["LEARNED"]["profiles"]["standard"]["windows_hit"] == 1
    assert nab["LEARNED"]["in_sample_optimum"]["standard"]["threshold"] == 0.9
    text = render_markdown(report)
    assert "### NAB score" in text and "in-sample" in text and "Warm-up: each series'" in text


def test_scored_exposure_of_one_day_of_series_that_began_earlier():
    d1 = datetime(2025, 3, 1)
    rows = rows_frame(
        ("a", d1, d1 + timedelta(days=9)),  # scored from Mar 8 00:00
        ("b", d1 + timedelta(days=5), d1 + timedelta(days=9)),
    )  # from Mar 13
    warm = warmup_from_spans(series_spans(rows), days=7)  # fmt: skip
    day8 = scored_exposure(warm, d1 + timedelta(days=7), d1 + timedelta(days=8))
    assert list(day8.day_fractions) == [date(2025, 3, 8)] and day8.category_days == 1.0
    day5 = scored_exposure(warm, d1 + timedelta(days=4), d1 + timedelta(days=5))
    assert day5.category_days == 0.0 and day5.days == 1.0
