"""detection_labels and detection_quality materialised on a hand-filled DuckDB file, with checks."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import psycopg2
import pytest

from streampulse_assets.defs.quality.assets import detection_labels, detection_quality
from streampulse_assets.defs.quality.checks import QUALITY_CHECKS
from streampulse_assets.defs.resources import PostgresResource, WarehouseResource
from streampulse_assets.lib.quality.feedback import record_label
from streampulse_assets.lib.schema import migrate_duckdb
from streampulse_assets.lib.settings import get_settings

DAY = "2025-03-01"
D0 = datetime(2025, 3, 1)


def at(hh: int, mm: int = 0, day: datetime = D0) -> datetime:
    return day + timedelta(hours=hh, minutes=mm)


def iso(ts: datetime) -> str:
    return ts.isoformat() + "Z"


@pytest.fixture
def warehouse(duckdb_path, pg_url, tmp_path, monkeypatch):
    """Three categories over one day; V1/V3 events; a label file; one operator verdict."""
    con = duckdb.connect(duckdb_path)
    migrate_duckdb(con)
    for cat in "abc":
        for ts in (at(0), at(23, 59)):
            con.execute(
                "INSERT INTO raw_snapshots (platform, category_id, ts, viewers, source) "
                "VALUES ('chzzk', ?, ?, 1000, 'test')",
                [cat, ts],
            )
    rows = [
        ("V3", "a", at(10, 2), "SPIKE"),  # true (window a), delay 2
        ("V3", "b", at(12), "SPIKE"),  # inside organic growth: false alarm
        ("V3", "c", at(15), "SPIKE"),  # confirmed by the operator: true, delay 0
        ("V3", "b", at(13), "CANDIDATE"),
        ("V1", "a", at(10, 20), "SPIKE"),  # true
        ("V1", "a", at(10, 21), "SPIKE"),  # true (second alert in the same window)
        ("V1", "c", at(18), "SPIKE"),  # unlabelled false alarm
        ("V3", "a", at(10, 2, D0 + timedelta(days=1)), "SPIKE"),  # another day: ignored
    ]
    for detector, cat, ts, level in rows:
        con.execute(
            'INSERT INTO signal_events (detector, platform, category_id, ts, level, "current", '
            "profile) VALUES (?, 'chzzk', ?, ?, ?, 2000, 'default')",
            [detector, cat, ts, level],
        )
    con.close()

    labels = [
        {"platform": "chzzk", "category_id": "a", "start": iso(at(10)), "end": iso(at(10, 30)),
         "kind": "streamer_spike"},
        {"platform": "chzzk", "category_id": "b", "start": iso(at(11, 50)),
         "end": iso(at(12, 30)), "kind": "organic_growth"},
        {"platform": "chzzk", "category_id": "a", "start": "2025-03-05T10:00:00Z",
         "end": "2025-03-05T10:30:00Z", "kind": "category_surge"},  # another day
    ]  # fmt: skip
    label_file = tmp_path / "labels.json"
    label_file.write_text(json.dumps(labels))

    conn = psycopg2.connect(pg_url)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO analysis_queue (detector, platform, category_id, ts, level) "
            "VALUES ('V3', 'chzzk', 'c', %s, 'SPIKE') RETURNING id",
            (at(15).replace(tzinfo=UTC),),
        )
        event_id = cur.fetchone()[0]
    conn.commit()
    record_label(conn, event_id, True, "confirmed on stream")
    conn.close()

    monkeypatch.setenv("STREAMPULSE_SOURCES", "replay")  # no simulator labels in this test
    monkeypatch.setenv("STREAMPULSE_LABEL_FILES", str(label_file))
    for key in ("MIN_ALERTS", "MIN_WINDOWS"):
        monkeypatch.setenv(f"STREAMPULSE_QUALITY_{key}", "1")
    monkeypatch.setenv("STREAMPULSE_QUALITY_WARMUP_DAYS", "0")  # the warehouse holds one day
    get_settings.cache_clear()
    yield {"duckdb": duckdb_path, "postgres": pg_url, "label_file": label_file}
    get_settings.cache_clear()


def run(stores, *assets, raise_on_error=True, instance=None):
    resources = {
        "duckdb": WarehouseResource(database=stores["duckdb"]),
        "postgres": PostgresResource(url=stores["postgres"]),
    }
    return dg.materialize(
        list(assets),
        resources=resources,
        partition_key=DAY,
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=raise_on_error,
    )


def metadata(result, name: str) -> dict:
    (mat,) = result.asset_materializations_for_node(name)
    return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}


def stored_labels(path: str) -> list[tuple]:
    con = duckdb.connect(path)
    try:
        return con.execute(
            "SELECT category_id, kind, source FROM detection_labels WHERE day = ? ORDER BY 1, 2",
            [D0.date()],
        ).fetchall()
    finally:
        con.close()


def test_detection_labels_gathers_sources_for_the_day_idempotently(warehouse):
    expected = [("a", "streamer_spike", "file"), ("b", "organic_growth", "file"),
                ("c", "operator_true", "operator")]  # fmt: skip
    first = run(warehouse, detection_labels)
    assert metadata(first, "detection_labels")["dagster/row_count"] == 3
    assert stored_labels(warehouse["duckdb"]) == expected
    run(warehouse, detection_labels)
    assert stored_labels(warehouse["duckdb"]) == expected


def test_bad_label_file_fails_and_keeps_stored_labels(warehouse):
    run(warehouse, detection_labels)
    warehouse["label_file"].write_text(json.dumps([{"platform": "chzzk", "kind": "nope"}]))
    result = run(warehouse, detection_labels, raise_on_error=False)
    assert not result.success
    assert len(stored_labels(warehouse["duckdb"])) == 3


def test_detection_quality_metadata_and_checks(warehouse):
    instance = dg.DagsterInstance.ephemeral()
    result = run(warehouse, detection_labels, detection_quality, *QUALITY_CHECKS, instance=instance)
    meta = metadata(result, "detection_quality")
    assert meta["v3_alerts"] == 3 and meta["windows"] == 2
    assert meta["v3_precision"] == pytest.approx(2 / 3)
    assert meta["v3_recall"] == pytest.approx(1.0)
    assert meta["v3_f1"] == pytest.approx(0.8)
    assert meta["v3_false_alarms_per_category_day"] == pytest.approx(1 / 3)
    assert meta["v3_delay_median_min"] == pytest.approx(1.0)
    assert meta["v3_events_per_day"] == 4 and meta["v3_candidates"] == 1
    assert meta["v1_candidates"] == 0
    assert meta["v1_precision"] == pytest.approx(2 / 3)
    assert meta["v1_recall"] == pytest.approx(0.5)
    assert meta["v1_f1"] == pytest.approx(4 / 7)
    assert meta["category_days"] == pytest.approx(3.0)
    assert "cache_hit_rate" not in meta  # analysis has not run
    assert "| V3 | 3 | 2 | 2 | 2 |" in meta["report"]
    assert meta["report_json"]["comparison"]["mcnemar"]["table"] == [[1, 0], [1, 0]]

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["v3_precision_above_floor"].passed  # 0.667 < 0.90
    assert checks["v3_precision_above_floor"].severity == dg.AssetCheckSeverity.ERROR
    assert checks["v3_recall_above_floor"].passed
    assert checks["v3_f1_not_worse_than_v1"].passed
    assert checks["daily_event_volume_in_band"].passed
    assert checks["analysis_backlog_is_fresh"].passed


def test_a_day_inside_the_series_warm_up_is_not_scored(warehouse, monkeypatch):
    monkeypatch.setenv("STREAMPULSE_QUALITY_WARMUP_DAYS", "7")
    result = run(warehouse, detection_labels, detection_quality)
    meta = metadata(result, "detection_quality")
    assert meta["warmup_days"] == 7.0
    assert meta["v3_alerts"] == 0 and meta["windows"] == 0  # all 3 alerts and 2 windows left out
    assert meta["category_days"] == 0.0
    warm = meta["report_json"]["warmup"]
    assert warm["alerts_excluded"]["V3"] == 3 and warm["windows_excluded"] == 2


def test_checks_flag_a_storm_and_a_stale_backlog(warehouse, monkeypatch):
    monkeypatch.setenv("STREAMPULSE_QUALITY_EVENTS_PER_DAY_MAX", "3")
    with psycopg2.connect(warehouse["postgres"]) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO analysis_queue (detector, platform, category_id, ts, level, created_at) "
            "VALUES ('V3', 'chzzk', 'b', %s, 'SPIKE', now() - interval '20 minutes')",
            (at(12).replace(tzinfo=UTC),),
        )
    instance = dg.DagsterInstance.ephemeral()
    result = run(warehouse, detection_labels, detection_quality, *QUALITY_CHECKS, instance=instance)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    volume, backlog = checks["daily_event_volume_in_band"], checks["analysis_backlog_is_fresh"]
    assert not volume.passed and volume.severity == dg.AssetCheckSeverity.WARN
    assert "storm" in volume.description
    assert not backlog.passed and backlog.severity == dg.AssetCheckSeverity.WARN
    assert backlog.metadata["stale_pending"].value == 1
    assert backlog.metadata["oldest_pending_minutes"].value >= 19


def test_detection_quality_reports_cache_hits_and_cost_when_analysis_ran(warehouse):
    con = duckdb.connect(warehouse["duckdb"])
    for i, (hit, cost) in enumerate([(True, 0.0), (False, 0.012), (False, 0.008)]):
        con.execute(
            "INSERT INTO analysed_events (id, detector, platform, category_id, ts, level, "
            "analysis_status, created_at, cache_hit, cost_usd) "
            "VALUES (?, 'V3', 'chzzk', 'a', ?, 'SPIKE', 'DONE', ?, ?, ?)",
            [i + 1, at(10, i), at(10, i), hit, cost],
        )
    con.close()
    meta = metadata(run(warehouse, detection_labels, detection_quality), "detection_quality")
    assert meta["analysed_events"] == 3
    assert meta["cache_hit_rate"] == pytest.approx(1 / 3)
    assert meta["llm_cost_usd_per_day"] == pytest.approx(0.02)


def test_quality_checks_fail_clearly_before_any_materialisation(warehouse):
    precision_check = QUALITY_CHECKS[0]
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [precision_check],
        instance=instance,
        selection=dg.AssetSelection.checks(precision_check),
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert "no materialisation" in evaluation.description


def test_quality_assets_are_left_to_their_sensor_and_its_checks_follow():
    """Automation never requests the daily assets (quality_after_detection_sensor does, see
    test_quality_automation.py); the metric checks follow each quality materialisation."""
    from streampulse_assets.defs.partitions import daily_partitions

    day = daily_partitions.get_partition_keys()[-1]
    hourly = dg.HourlyPartitionsDefinition(start_date="2025-01-01-00:00", end_offset=1)
    defs = dg.Definitions(
        assets=[dg.AssetSpec("signal_events", partitions_def=hourly), detection_labels,
                detection_quality],
        asset_checks=QUALITY_CHECKS,
        resources={"duckdb": WarehouseResource(database=":memory:"),
                   "postgres": PostgresResource(url="postgresql://unused")},
    )  # fmt: skip
    quality, labels = dg.AssetKey("detection_quality"), dg.AssetKey("detection_labels")
    metric_checks = {c.check_key for c in QUALITY_CHECKS[:4]}
    midnight = datetime.fromisoformat(day) + timedelta(days=1)

    def tick(minutes, cursor=None):
        return dg.evaluate_automation_conditions(
            defs=defs,
            instance=instance,
            evaluation_time=midnight + timedelta(minutes=minutes),
            cursor=cursor,
        )

    with dg.instance_for_test() as instance:
        before = tick(10)
        after = tick(25, before.cursor)
        assert after.get_num_requested(quality) == after.get_num_requested(labels) == 0
        instance.report_runless_asset_event(dg.AssetMaterialization(quality, partition=day))
        checks = tick(27, after.cursor)
        requested = {r.key for r in checks.results if r.true_subset.size}
        assert metric_checks <= requested
