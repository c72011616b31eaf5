"""V3 and V1 on handcrafted series where the answer is known; cooldowns; causes; profiles."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from streampulse_assets.lib.detection.causes import (
    classify,
    classify_row,
    demote_going_live,
    went_live,
)
from streampulse_assets.lib.detection.config import UnknownProfileError, get_config
from streampulse_assets.lib.detection.cooldown import apply_cooldown
from streampulse_assets.lib.detection.engine import EVENT_COLUMNS, detect_frame
from streampulse_assets.lib.detection.frame import SnapshotFrameError
from streampulse_assets.lib.services.paths import REPO_ROOT
from streampulse_assets_tests.going_live import going_live_frame

T0 = datetime(2025, 3, 1)
NAB = REPO_ROOT.parent / "shared" / "datasets" / "nab"


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def wiggle(level: float, n: int, rel: float = 0.01, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * (1 + rng.uniform(-rel, rel, n))).round().astype(np.int64)


def frame_of(series: dict[str, np.ndarray], platform: str = "chzzk", **extra) -> pd.DataFrame:
    parts = []
    for cat, values in series.items():
        part = pd.DataFrame(
            {
                "platform": platform,
                "category_id": cat,
                "ts": [at(i) for i in range(len(values))],
                "category_name": f"Category {cat}",
                "viewers": values,
            }
        )
        for key, by_cat in extra.items():
            if cat in by_cat:
                part[key] = by_cat[cat]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def events_of(events: pd.DataFrame, detector: str, level: str | None = None) -> pd.DataFrame:
    rows = events[events["detector"] == detector]
    return rows if level is None else rows[rows["level"] == level]


def step_series(before: int, after: int, at_minute: int = 180, n: int = 240) -> np.ndarray:
    values = wiggle(before, n)
    values[at_minute:] = wiggle(after, n - at_minute, seed=1)
    return values


def test_big_jump_is_a_spike_for_v3_and_v1():
    events = detect_frame(frame_of({"a": step_series(10_000, 21_000)}))
    assert list(events.columns) == EVENT_COLUMNS
    v3 = events_of(events, "V3", "SPIKE")
    assert list(v3["ts"]) == [at(180)]
    row = v3.iloc[0]
    assert row["cause"] == "STRUCTURE_ISSUE" and row["season_source"] == "fallback"
    assert row["growth_ratio"] > 2
    assert row["required_delta"] == pytest.approx(0.3 * row["baseline_season"])  # > 1500
    assert row["profile"] == "default"
    assert list(events_of(events, "V1")["ts"]) == [at(180)]


def test_moderate_rise_is_only_a_candidate():
    events = detect_frame(frame_of({"a": step_series(10_000, 13_000)}))
    v3 = events_of(events, "V3")
    assert list(v3["level"]) == ["CANDIDATE"] and v3.iloc[0]["ts"] == at(180)
    assert "rise" in json.loads(v3.iloc[0]["candidate_reasons"])
    assert events_of(events, "V1").empty


def test_major_categories_get_the_lower_growth_threshold():
    alone = detect_frame(frame_of({"a": step_series(10_000, 16_000)}))
    row = events_of(alone, "V3").iloc[0]
    assert row["is_major"] and row["level"] == "SPIKE"  # 1.6 >= 1.5 for a major category
    bigger = {f"big{i:02d}": wiggle(50_000, 240, seed=10 + i) for i in range(12)}
    crowd = detect_frame(frame_of({"a": step_series(10_000, 16_000), **bigger}))
    row = events_of(crowd, "V3").query("category_id == 'a'").iloc[0]
    assert not row["is_major"] and row["level"] == "CANDIDATE"  # 1.6 < 1.7 for the 13th


def test_dynamic_minimum_delta():
    small = detect_frame(frame_of({"a": step_series(2_000, 3_400)}))  # x1.7 but +1400
    assert list(events_of(small, "V3")["level"]) == ["CANDIDATE"]
    assert events_of(small, "V3").iloc[0]["required_delta"] == 1500
    enough = detect_frame(frame_of({"a": step_series(2_000, 3_700)}))  # x1.85 and +1700
    assert list(events_of(enough, "V3")["level"]) == ["SPIKE"]  # no candidate 120 min after
    # With a day of history the required delta is max(1500, 0.3 x seasonal baseline).
    day = 1440
    values = wiggle(10_000, day + 240)
    values[day + 180 :] = 25_000
    events = events_of(detect_frame(frame_of({"a": values})), "V3", "SPIKE")
    row = events.iloc[0]
    assert row["ts"] == at(day + 180) and row["season_source"] == "24h"
    assert row["required_delta"] == pytest.approx(0.3 * row["baseline_season"])
    assert 2_900 < row["required_delta"] < 3_100


def test_spike_cooldown_lets_a_new_spike_through_after_30_minutes():
    values = wiggle(10_000, 300)
    values[180:] = 25_000
    values[190:] = 60_000  # keeps rising: suppressed until the cooldown ends
    spikes = events_of(detect_frame(frame_of({"a": values})), "V3", "SPIKE")
    assert list(spikes["ts"]) == [at(180), at(210)]


def test_cooldown_rules():
    cfg = get_config()
    rows = pd.DataFrame(
        {
            "detector": "V3",
            "platform": "p",
            "category_id": "a",
            "ts": [at(m) for m in (0, 5, 10, 29, 30, 61, 100, 150, 181, 182)],
            "level": ["SPIKE", "CANDIDATE", "SPIKE", "SPIKE", "SPIKE", "CANDIDATE",
                      "CANDIDATE", "SPIKE", "CANDIDATE", "CANDIDATE"],
        }
    )  # fmt: skip
    kept = apply_cooldown(rows, rows.iloc[:0], cfg)
    # 5, 10, 29: within 30 min of the spike at 0 (a candidate: within 120 min of it); 30: a new
    # spike; 61, 100: candidates within 120 min of the spike at 30; 150: a spike 120 min after
    # the last spike; 181, 182: candidates within 120 min of it.
    assert [t.minute + 60 * t.hour for t in kept["ts"]] == [0, 30, 150]
    later = rows.assign(ts=[at(m) for m in (0, 5, 10, 29, 30, 61, 151, 200, 271, 330)])
    kept = apply_cooldown(later, rows.iloc[:0], cfg)
    # 151: candidate 121 min after the spike at 30; 200: a candidate never silences a spike;
    # 271: 71 min after that spike; 330: 130 min after it.
    assert [t.minute + 60 * t.hour for t in kept["ts"]] == [0, 30, 151, 200, 330]
    seeded = apply_cooldown(rows.iloc[1:2], rows.iloc[:1], cfg)  # seed: spike at 0
    assert seeded.empty
    v1 = rows.assign(detector="V1").iloc[:1]
    assert len(apply_cooldown(pd.concat([rows.iloc[:1], v1]), rows.iloc[:0], cfg)) == 2


def streamers(*pairs) -> str:
    return json.dumps(
        [{"channel_id": c, "channel_name": c, "title": "t", "viewers": v} for c, v in pairs]
    )


def row(current, ago, now, before, lives=None, lives_before=None) -> dict:
    return {
        "current": current,
        "viewers_60_ago": ago,
        "top_streamers": streamers(*now),
        "top_streamers_before": streamers(*before),
        "open_lives": lives,
        "open_lives_before": lives_before,
        "unit": 1.0,
    }


def test_causes():
    cfg = get_config()
    person = classify_row(
        row(20_000, 10_000, [("s1", 9_000), ("s2", 2_000)], [("s1", 1_000), ("s2", 2_000)]), cfg
    )
    assert person["cause"] == "PERSON_ISSUE" and person["contribution_ratio"] == 0.8
    broad = classify_row(
        row(20_000, 10_000, [("s1", 2_000), ("s2", 1_500)], [("s1", 1_500), ("s2", 1_200)]), cfg
    )
    assert broad["cause"] == "STRUCTURE_ISSUE" and broad["contribution_ratio"] == pytest.approx(
        0.08
    )
    adopt = classify_row(row(10_000, 500, [("big", 9_000), ("s2", 300)], [("s2", 300)]), cfg)
    assert adopt["cause"] == "CATEGORY_ADOPTION" and adopt["dominance_index"] == 0.9
    assert not adopt["market_proof"]
    lives = classify_row(row(10_000, 500, [("big", 9_000), ("s2", 300)], [("s2", 300)], 12, 8), cfg)
    assert lives["market_proof"] and lives["cause"] == "PERSON_ISSUE"
    others = classify_row(
        row(12_000, 900, [("big", 9_000), ("s2", 1_500), ("s3", 600)], [("s2", 300)]), cfg
    )
    assert others["market_proof"] and others["cause"] != "CATEGORY_ADOPTION"
    unknown = classify_row(row(5_000, 1_000, [], []), cfg)
    assert unknown["cause"] == "STRUCTURE_ISSUE" and unknown["contribution_ratio"] is None


def test_person_spikes_need_growth_2_and_a_bigger_delta():
    cfg = get_config()
    base = row(18_000, 10_000, [("s1", 9_000)], [("s1", 1_000)])
    trig = {"spike_ok": True, "rise_ok": True, "top_delta": False, "top_ratio": False}
    weak = {**base, **trig, "growth_ratio": 1.8, "delta": 8_000, "person_required_delta": 5_000}
    strong = {**weak, "growth_ratio": 2.2}
    out = classify(pd.DataFrame([weak, strong]), cfg)
    assert list(out["cause"]) == ["PERSON_ISSUE", "PERSON_ISSUE"]
    assert list(out["level"]) == ["CANDIDATE", "SPIKE"]
    assert "person_gate" in json.loads(out.iloc[0]["candidate_reasons"])


def test_adoption_end_to_end_with_streamer_context():
    n = 240
    small = wiggle(800, n)
    small[180:] = 9_800
    big = wiggle(30_000, n, seed=4)
    tops_small = [streamers(("s1", 500), ("s2", 200))] * 180 + [
        streamers(("star", 9_000), ("s1", 500), ("s2", 200))
    ] * 60
    tops_big = [streamers(("star", 20_000), ("b2", 5_000))] * 179 + [
        streamers(("b2", 5_000), ("b3", 4_000))
    ] * 61
    lives = {"small": [4] * n, "big": [300] * n}
    frame = frame_of(
        {"small": small, "big": big},
        top_streamers={"small": tops_small, "big": tops_big},
        open_lives=lives,
    )
    events = detect_frame(frame)
    spike = events_of(events, "V3", "SPIKE").query("category_id == 'small'").iloc[0]
    assert spike["cause"] == "CATEGORY_ADOPTION" and spike["dominance_index"] > 0.85
    assert not spike["market_proof"] and spike["open_lives_before"] == 4
    context = {s["channel_id"]: s for s in json.loads(spike["top_streamers"])}
    assert context["star"]["category_before"] == "Category big"
    assert context["star"]["viewers_before"] is None
    assert context["s1"]["viewers_before"] == 500 and context["s1"]["category_before"] is None
    v1 = events_of(events, "V1").query("category_id == 'small'").iloc[0]
    assert v1["cause"] is None or pd.isna(v1["cause"])
    assert json.loads(v1["top_streamers"])[0]["channel_id"] == "star"


def test_missing_minute_and_partial_outage_are_not_v3_spikes():
    values = wiggle(10_000, 240)
    values[150:156] = 4_000  # partial outage: numbers halve for 6 minutes, then recover
    frame = frame_of({"a": values})
    frame = frame[frame["ts"] != at(200)]  # a missing minute, then back
    events = detect_frame(frame)
    assert events_of(events, "V3", "SPIKE").empty
    assert list(events_of(events, "V1")["ts"]) == [at(156)]  # the control fires on recovery


def test_v1_rule_thresholds():
    up = detect_frame(frame_of({"a": step_series(1_800, 2_750)}))  # x1.53, +950
    assert events_of(up, "V1").empty
    up2 = detect_frame(frame_of({"a": step_series(2_000, 3_050)}))  # x1.52, +1050
    assert list(events_of(up2, "V1")["ts"]) == [at(180)]


def test_bad_input_is_refused_clearly():
    with pytest.raises(SnapshotFrameError, match="viewers"):
        detect_frame(pd.DataFrame({"platform": ["p"], "category_id": ["a"], "ts": [T0]}))
    with pytest.raises(UnknownProfileError, match="scale_aware"):
        get_config("nope")
    dup = frame_of({"a": wiggle(100, 5)})
    with pytest.raises(ValueError, match="duplicate"):
        detect_frame(pd.concat([dup, dup]))


def test_scale_aware_profile_on_small_and_huge_categories():
    n = 600
    tiny = wiggle(200, n, rel=0.05, seed=2)
    tiny[400:420] = wiggle(500, 20, rel=0.05, seed=3)  # x2.5 for 20 minutes
    huge = wiggle(200_000, n, rel=0.01, seed=5)
    huge[500:520] = wiggle(420_000, 20, rel=0.01, seed=6)
    frame = frame_of({"tiny": tiny, "huge": huge})
    scale = events_of(detect_frame(frame, "scale_aware"), "V3", "SPIKE")
    assert list(zip(scale["category_id"], scale["ts"], strict=True)) == [
        ("tiny", at(400)),
        ("huge", at(500)),
    ]
    default = events_of(detect_frame(frame, "default"), "V3", "SPIKE")
    assert list(default["category_id"]) == ["huge"]  # +300 viewers is below 1500 absolute


def nab_frame(name: str) -> tuple[pd.DataFrame, list[tuple[datetime, datetime]]]:
    raw = pd.read_csv(NAB / "realTweets" / f"{name}.csv")
    windows = json.loads((NAB / "combined_windows.json").read_text())[f"realTweets/{name}.csv"]
    frame = pd.DataFrame(
        {"platform": "NAB", "category_id": name, "ts": raw["timestamp"], "viewers": raw["value"]}
    )
    spans = [(pd.Timestamp(s).floor("min"), pd.Timestamp(e).floor("min")) for s, e in windows]
    return frame, spans


@pytest.mark.skipif(not NAB.exists(), reason="shared NAB data set not present")
def test_scale_aware_v3_beats_v1_on_a_nab_file():
    frame, spans = nab_frame("Twitter_volume_AMZN")
    events = detect_frame(frame, "scale_aware")

    def f1(detector: str) -> float:
        spikes = events_of(events, detector, "SPIKE")["ts"]
        true = [any(s - timedelta(minutes=5) <= t <= e for s, e in spans) for t in spikes]
        caught = [any(s - timedelta(minutes=5) <= t <= e for t in spikes) for s, e in spans]
        p, r = sum(true) / max(1, len(true)), sum(caught) / len(spans)
        return 2 * p * r / (p + r) if p + r else 0.0

    assert len(events_of(events, "V3", "SPIKE")) < len(events_of(events, "V1", "SPIKE"))
    assert f1("V3") > f1("V1")


def test_profiles_are_fixed_and_validated():
    assert get_config().growth_minor == 1.7 and get_config().min_delta == 1500
    cfg = get_config("scale_aware")
    assert cfg.robust and cfg.v1_min_delta / cfg.min_delta == pytest.approx(1000 / 1500)
    with pytest.raises(ValueError):
        get_config("default", min_short_coverage=2.0)


def test_empty_frame_gives_no_events():
    empty = pd.DataFrame(columns=["platform", "category_id", "ts", "viewers"])
    assert detect_frame(empty).empty


def test_detect_command_writes_events(tmp_path):
    from typer.testing import CliRunner

    from streampulse_assets.cli.main import app

    snapshots = tmp_path / "snap.csv"
    frame_of({"a": step_series(10_000, 21_000)}).to_csv(snapshots, index=False)
    out = tmp_path / "events.parquet"
    runner = CliRunner()
    result = runner.invoke(app, ["detect", "--snapshots", str(snapshots), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "V3 SPIKE: 1" in result.output
    events = pd.read_parquet(out)
    assert list(events.columns) == EVENT_COLUMNS and set(events["detector"]) == {"V1", "V3"}
    only = runner.invoke(app, ["detect", "--snapshots", str(snapshots), "--detector", "v1"])
    assert "V1 SPIKE: 1" in only.output and "V3" not in only.output
    bad = runner.invoke(app, ["detect", "--snapshots", str(snapshots), "--profile", "nope"])
    assert bad.exit_code == 1 and "unknown detection profile" in bad.output


def test_a_streamer_going_live_in_a_tiny_category_is_a_learned_candidate_not_a_spike():
    frame, start, end = going_live_frame()
    events = events_of(detect_frame(frame), "LEARNED")
    during = events[events["ts"].between(start, end)]
    raid = during[during["category_id"] == "raid"]
    live = during[during["category_id"] == "live"]
    assert list(raid["level"]) == ["SPIKE"]
    assert list(live["level"]) == ["CANDIDATE"] and list(live["ts"]) == list(raid["ts"])
    reasons = json.loads(live.iloc[0]["candidate_reasons"])
    assert reasons[-1].startswith("going live: new was not live here an hour ago")
    assert live.iloc[0]["cause"] == raid.iloc[0]["cause"] == "PERSON_ISSUE"


def context_row(
    lead: dict, listed: int, lives_before: int | None, others=((20, 20),), lives=None, delta=40.0
) -> dict:
    now = [lead] + [
        {"channel_id": f"o{i}", "viewers": v, "viewers_before": b, "category_before": None}
        for i, (v, b) in enumerate(others)
    ]
    before = streamers(*[(f"o{i}", 20) for i in range(listed)])
    return {
        "detector": "LEARNED",
        "level": "SPIKE",
        "delta": delta,
        "unit": 1.0,
        "top_streamers": json.dumps(now),
        "top_streamers_before": before,
        "open_lives_before": lives_before,
        "open_lives": lives,
        "candidate_reasons": json.dumps(["learned score 0.400"]),
    }


def test_going_live_needs_an_hour_ago_list_of_every_live_and_the_lead_alone():
    cfg = get_config()
    new = {"channel_id": "n", "channel_name": "N", "viewers": 30, "viewers_before": None}
    cases = {
        "went live": context_row(new, listed=3, lives_before=3, lives=4),
        "list was full": context_row(new, listed=5, lives_before=7),  # maybe live, unlisted
        "moved in": context_row({**new, "category_before": "Category b"}, 3, 3),
        "was listed": context_row({**new, "viewers_before": 5}, 3, 3),
        "brought little": context_row(new, 3, 3, lives=4, delta=80.0),  # 30 of +80
        "fell": context_row(new, 3, 3, lives=4, delta=-5.0),
        "lives rose": context_row(new, 3, 3, lives=6),
        "others rose": context_row(
            {**new, "viewers": 3_000}, 3, 3, others=((1_000, 400), (1_000, 400)), delta=4_000.0
        ),
        "no hour-ago count": context_row(new, 3, None),
    }
    assert went_live(cases["went live"], cfg)["channel_id"] == "n"
    assert [k for k, r in cases.items() if went_live(r, cfg) is not None] == ["went live"]
    rows = pd.DataFrame([cases["went live"], {**cases["went live"], "detector": "V3"}])
    out = demote_going_live(rows, cfg)
    assert list(out["level"]) == ["CANDIDATE", "SPIKE"]  # V3 is never touched
    assert json.loads(out.iloc[0]["candidate_reasons"])[0] == "learned score 0.400"
    assert out.iloc[1]["candidate_reasons"] == rows.iloc[1]["candidate_reasons"]
