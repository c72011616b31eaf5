"""`streampulse label` against real Postgres, operator labels, and `streampulse evaluate`."""

import json
from datetime import UTC, datetime

import psycopg2
import pytest
from typer.testing import CliRunner

from streampulse_assets.cli.main import app
from streampulse_assets.lib.quality.feedback import (
    UnknownEventError,
    labels_from_feedback,
    record_label,
)
from streampulse_assets.lib.settings import get_settings

runner = CliRunner()


@pytest.fixture
def pg_env(pg_url, monkeypatch):
    monkeypatch.setenv("STREAMPULSE_POSTGRES_URL", pg_url)
    get_settings.cache_clear()
    yield pg_url
    get_settings.cache_clear()


def insert_event(url: str, category: str = "c1", ts=datetime(2025, 3, 1, 10, 7, tzinfo=UTC)):
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO analysis_queue (detector, platform, category_id, ts, level) "
            "VALUES ('V3', 'chzzk', %s, %s, 'SPIKE') RETURNING id",
            (category, ts),
        )
        return cur.fetchone()[0]


def feedback_rows(url: str) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT event_id, verdict, note FROM operator_feedback ORDER BY event_id")
        return cur.fetchall()


def test_label_records_then_replaces_a_verdict(pg_env):
    event_id = insert_event(pg_env)
    first = runner.invoke(app, ["label", str(event_id), "--true", "--note", "raid from a streamer"])
    assert first.exit_code == 0, first.output
    assert "true spike (recorded)" in first.output
    assert feedback_rows(pg_env) == [(event_id, True, "raid from a streamer")]

    again = runner.invoke(app, ["label", str(event_id), "--false"])
    assert again.exit_code == 0, again.output
    assert "false alarm (replaced the earlier verdict)" in again.output
    assert feedback_rows(pg_env) == [(event_id, False, None)]


@pytest.mark.parametrize("bad_id", ["999999", "abc", "-3", "99999999999999999999"])
def test_label_rejects_bad_ids_with_exit_code_1(pg_env, bad_id):
    insert_event(pg_env)
    result = runner.invoke(app, ["label", bad_id, "--true"])
    assert result.exit_code == 1
    expected = "no signal event with id" if bad_id == "999999" else "bad event id"
    assert expected in result.output
    assert feedback_rows(pg_env) == []


def test_label_needs_a_verdict(pg_env):
    result = runner.invoke(app, ["label", str(insert_event(pg_env))])
    assert result.exit_code != 0
    assert feedback_rows(pg_env) == []


def test_labels_from_feedback_spans_the_event_minute(pg_url):
    true_id = insert_event(pg_url, "c1")
    false_id = insert_event(pg_url, "c2", datetime(2025, 3, 1, 19, 30, tzinfo=UTC))
    conn = psycopg2.connect(pg_url)
    try:
        record_label(conn, true_id, True)
        record_label(conn, false_id, False, "bot viewers")
        with pytest.raises(UnknownEventError, match="no signal event with id 424242"):
            record_label(conn, 424242, True)
        labels = labels_from_feedback(conn)
        only_late = labels_from_feedback(conn, start=datetime(2025, 3, 1, 12))
    finally:
        conn.close()
    assert labels == [
        {"platform": "chzzk", "category_id": "c1", "start": "2025-03-01T10:07:00Z",
         "end": "2025-03-01T10:12:00Z", "kind": "operator_true"},
        {"platform": "chzzk", "category_id": "c2", "start": "2025-03-01T19:25:00Z",
         "end": "2025-03-01T19:35:00Z", "kind": "operator_false"},
    ]  # fmt: skip
    assert [label["kind"] for label in only_late] == ["operator_false"]


def test_evaluate_rejects_bad_label_files(tmp_path):
    snaps = tmp_path / "snaps.csv"
    snaps.write_text("platform,category_id,ts,viewers\nchzzk,a,2025-03-01T10:00:00Z,100\n")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps([{"platform": "chzzk", "category_id": "a", "kind": "spike"}]))
    result = runner.invoke(app, ["evaluate", "--snapshots", str(snaps), "--labels", str(labels)])
    assert result.exit_code == 1
    assert "lacks start, end" in result.output
    bad_kind = {"platform": "chzzk", "category_id": "a", "kind": "spike"}
    bad_kind |= {"start": "2025-03-01T10:00:00Z", "end": "2025-03-01T10:30:00Z"}
    labels.write_text(json.dumps([bad_kind]))
    result = runner.invoke(app, ["evaluate", "--snapshots", str(snaps), "--labels", str(labels)])
    assert result.exit_code == 1 and "unknown kind 'spike'" in result.output
    labels.write_text("{not json")
    result = runner.invoke(app, ["evaluate", "--snapshots", str(snaps), "--labels", str(labels)])
    assert result.exit_code == 1 and "cannot read labels" in result.output
    args = ["evaluate", "--snapshots", str(snaps), "--labels", str(labels), "--profile", "nope"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "unknown detection profile 'nope'" in result.output


def test_evaluate_runs_both_detectors_on_a_simulated_day(tmp_path):
    from datetime import timedelta

    from streampulse_assets.lib.sources.simulator import Simulator

    sim = Simulator(seed=7, categories_per_platform=8)
    start = datetime(2025, 3, 1)
    end = start + timedelta(hours=12)
    snaps, labels, md = tmp_path / "s.parquet", tmp_path / "l.json", tmp_path / "r.md"
    sim.frame(start, end).to_parquet(snaps)
    labels.write_text(json.dumps(sim.labels(start, end)))
    args = ["evaluate", "--snapshots", str(snaps), "--labels", str(labels), "--json"]
    result = runner.invoke(app, [*args, "--markdown", str(md), "--resamples", "99"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["detectors"]) == {"V1", "V3"}
    v3 = report["detectors"]["V3"]
    assert v3["alerts"] == v3["true_alerts"] + v3["false_alarms"]
    assert report["meta"]["categories"] == 16 and report["meta"]["days"] == 0.5
    assert "pvalue" in report["comparison"]["mcnemar"]
    assert md.read_text().startswith("## Detection quality: s.parquet (default)")


def test_evaluate_leaves_the_warm_up_out_and_reports_nab_scores(tmp_path):
    from datetime import timedelta

    from streampulse_assets.lib.quality.nab_scoring import PROFILES, normalised
    from streampulse_assets.lib.sources.simulator import Simulator

    sim = Simulator(seed=7, categories_per_platform=8)
    start = datetime(2025, 3, 1)
    end = start + timedelta(hours=12)
    snaps, labels = tmp_path / "s.parquet", tmp_path / "l.json"
    sim.frame(start, end).to_parquet(snaps)
    labels.write_text(json.dumps(sim.labels(start, end)))
    base = ["evaluate", "--snapshots", str(snaps), "--labels", str(labels), "--json"]

    def run(*extra):
        result = runner.invoke(app, [*base, "--resamples", "99", *extra])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    full, warm = run("--warmup-days", "0"), run("--warmup-days", "0.25")
    assert full["warmup"]["applied"] is False and full["warmup"]["alerts_excluded"] == {
        "V1": 0, "V3": 0
    }  # fmt: skip
    w = warm["warmup"]
    assert w["applied"] and w["days"] == 0.25 and w["series"] == 16
    assert (w["from"], w["until"]) == ("2025-03-01T00:00:00Z", "2025-03-01T06:00:00Z")
    assert full["meta"]["category_days"] == pytest.approx(8.0)
    assert warm["meta"]["category_days"] == pytest.approx(4.0)  # 16 series x the last 6 hours
    for name in ("V1", "V3"):
        f, d = full["detectors"][name], warm["detectors"][name]
        assert d["alerts"] + w["alerts_excluded"][name] == f["alerts"]
        assert d["windows"] + w["windows_excluded"] == f["windows"]
    assert w["windows_excluded"] > 0 and sum(w["alerts_excluded"].values()) > 0
    nab = warm["nab"]
    assert nab["series"] == 16 and set(nab["detectors"]) == {"V1", "V3"}
    assert nab == full["nab"]  # NAB has its own probationary period; the warm-up is not used
    for block in nab["detectors"].values():
        assert block["source"] == "binary" and set(block["profiles"]) == set(PROFILES)
        for profile, p in block["profiles"].items():
            assert p["normalised"] == pytest.approx(normalised(p["raw"], p["windows"], profile))
            assert p["windows_hit"] <= p["windows"] == full["detectors"]["V3"]["windows"]
    no_nab = run("--no-nab")
    assert "nab" not in no_nab and no_nab["warmup"]["days"] == 7.0
    assert no_nab["detectors"]["V3"]["windows"] == 0 and no_nab["meta"]["category_days"] == 0


def test_evaluate_scores_the_learned_detectors_alerts_on_both_sides_for_nab(tmp_path):
    """NAB scores the learned detector's anomaly alerts (a drop is one), while its event-level
    numbers count only its SPIKEs (alerts on rises)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    ts = pd.date_range(datetime(2025, 3, 1), periods=4 * 1440, freq="1min")
    t = np.arange(len(ts))
    viewers = rng.poisson(2_000 * (1 + 0.3 * np.sin(2 * np.pi * t / 1440))).astype(float)
    at = 3 * 1440 + 600
    viewers[at : at + 90] *= 0.3  # a sudden drop: an anomaly, not a spike
    frame = pd.DataFrame(
        {"platform": "chzzk", "category_id": "drop", "ts": ts, "category_name": "drop",
         "viewers": viewers.astype("int64"), "open_lives": 20, "top_streamers": "[]"}
    )  # fmt: skip
    snaps, labels = tmp_path / "s.parquet", tmp_path / "l.json"
    frame.to_parquet(snaps)
    start, end = ts[at] - pd.Timedelta(minutes=30), ts[at] + pd.Timedelta(minutes=120)
    window = {"platform": "chzzk", "category_id": "drop", "kind": "nab_anomaly"}
    window |= {"start": start.isoformat() + "Z", "end": end.isoformat() + "Z"}
    labels.write_text(json.dumps([window]))
    args = ["evaluate", "--snapshots", str(snaps), "--labels", str(labels), "--json"]
    result = runner.invoke(app, [*args, "--resamples", "99", "--warmup-days", "0"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    learned = report["nab"]["detectors"]["LEARNED"]["profiles"]["standard"]
    assert learned["windows_hit"] == 1 and learned["normalised"] > 50
    assert report["detectors"]["LEARNED"]["true_alerts"] == 0  # no SPIKE at the drop
