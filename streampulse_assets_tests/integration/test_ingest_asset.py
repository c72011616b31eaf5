"""raw_snapshots through Dagster: a live tick archives responses; a backfill re-parses them."""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from werkzeug import Request, Response

from streampulse_assets.defs.ingest.assets import raw_snapshots
from streampulse_assets.defs.resources import WarehouseResource
from streampulse_assets.lib.ingest.landing import Landing
from streampulse_assets.lib.settings import get_settings
from streampulse_assets.lib.ticks import MINUTE_TAG, Tick, tick_tags

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chzzk"
PAGES = {None: "lives_p1.json", "cur-2": "lives_p2.json", "cur-3": "lives_p3.json"}


@pytest.fixture
def chzzk_env(httpserver, tmp_path, monkeypatch):
    def handler(request: Request) -> Response:
        body = (FIXTURES / PAGES[request.args.get("next")]).read_text()
        return Response(body, content_type="application/json")

    httpserver.expect_request("/open/v1/lives").respond_with_handler(handler)
    env = {
        "STREAMPULSE_SOURCES": "chzzk",
        "STREAMPULSE_CHZZK_CLIENT_ID": "cid",
        "STREAMPULSE_CHZZK_CLIENT_SECRET": "secret",
        "STREAMPULSE_CHZZK_BASE_URL": httpserver.url_for("").rstrip("/"),
        "STREAMPULSE_LANDING_DIR": str(tmp_path / "landing"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield tmp_path / "landing"
    get_settings.cache_clear()


def _materialize(duckdb_path, partition_key=None, tags=None, raise_on_error=True):
    return dg.materialize(
        [raw_snapshots],
        partition_key=partition_key,
        tags=tags or {},
        resources={"duckdb": WarehouseResource(database=duckdb_path)},
        raise_on_error=raise_on_error,
    )


def _rows(duckdb_path):
    with duckdb.connect(duckdb_path) as con:
        return con.execute(
            "SELECT platform, category_id, ts, viewers, open_lives, source FROM raw_snapshots "
            "ORDER BY category_id"
        ).fetchall()


def _settled_minute(skip_hour_start=False) -> datetime:
    """The current UTC minute, once at least 20 s of it remain: a live API answers only for the
    current minute, so a tick tagged with a minute that ends mid-run would find it in the past."""
    while True:
        clock = datetime.now(UTC)
        if clock.second < 40 and not (skip_hour_start and clock.minute == 0):
            return clock.replace(tzinfo=None, second=0, microsecond=0)
        time.sleep(60.2 - clock.second - clock.microsecond / 1e6)


def test_live_tick_archives_then_backfill_reparses_identically(chzzk_env, duckdb_path):
    now = _settled_minute(skip_hour_start=True)  # the open hour must also hold a gap minute
    partition = now.strftime("%Y-%m-%d-%H:00")
    tags = tick_tags(Tick(now, now + timedelta(minutes=1)))
    result = _materialize(duckdb_path, partition, tags)
    assert result.success
    live_rows = _rows(duckdb_path)
    assert live_rows and {r[0] for r in live_rows} == {"chzzk"}
    assert {r[2] for r in live_rows} == {now}
    assert Landing(chzzk_env).read("chzzk", now)  # responses were archived
    metadata = result.asset_materializations_for_node("raw_snapshots")[0].metadata
    assert metadata["dagster/row_count"].value == len(live_rows)

    # A backfill of the same hour: no minute tag, so the whole hour is re-parsed from the archive;
    # minutes without an archive are gaps (reported by the check), stored rows stay identical.
    # If the clock crossed into the next minute meanwhile, that minute is "now" for the backfill
    # and is fetched live (and archived) like a tick would; the re-parsed minute must be identical.
    result = _materialize(duckdb_path, partition)
    assert result.success
    rows = _rows(duckdb_path)
    assert [r for r in rows if r[2] == now] == live_rows
    assert {r[2] for r in rows} - {now} <= {now + timedelta(minutes=1)}
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["has_no_duplicate_keys"].passed
    assert not checks["all_sources_answered"].passed  # the other minutes are gaps
    assert "minute(s) without data" in checks["all_sources_answered"].description


def test_backfill_of_a_live_api_without_archive_fails_clearly(chzzk_env, duckdb_path):
    past = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d-%H:00")
    result = _materialize(duckdb_path, past, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = str(failure.event_specific_data.error)
    assert "live API and cannot answer for the past" in text
    assert "Every source failed" in text


def test_a_failing_platform_does_not_stop_the_other(chzzk_env, duckdb_path, monkeypatch):
    # soop points at a closed port: chzzk rows land, soop's failure is a WARN check, not a crash.
    monkeypatch.setenv("STREAMPULSE_SOURCES", "chzzk,soop")
    monkeypatch.setenv("STREAMPULSE_SOOP_SEARCH_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("STREAMPULSE_SOOP_LIVE_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("STREAMPULSE_SOOP_SEARCH_FALLBACK_URLS", "")
    monkeypatch.setenv("STREAMPULSE_SOOP_LIVE_FALLBACK_URLS", "")
    get_settings.cache_clear()
    now = _settled_minute()
    tags = {MINUTE_TAG: now.isoformat()}
    result = _materialize(duckdb_path, now.strftime("%Y-%m-%d-%H:00"), tags)
    assert result.success
    assert {r[0] for r in _rows(duckdb_path)} == {"chzzk"}
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["all_sources_answered"].passed
    assert "soop" in checks["all_sources_answered"].description


@pytest.fixture
def simulator_env(tmp_path, settings_env):
    settings_env(
        STREAMPULSE_SOURCES="simulator",
        STREAMPULSE_SIMULATOR_CATEGORIES="15",
        STREAMPULSE_LANDING_DIR=str(tmp_path / "landing"),
    )


def test_simulator_backfill_of_an_hour_range_is_one_idempotent_run(simulator_env, duckdb_path):
    from streampulse_assets.lib.sources.simulator import Simulator

    start = datetime(2026, 11, 2, 10)
    tags = {
        "dagster/asset_partition_range_start": "2026-11-02-10:00",
        "dagster/asset_partition_range_end": "2026-11-02-12:00",
    }
    result = _materialize(duckdb_path, tags=tags)
    assert result.success
    assert len(result.asset_materializations_for_node("raw_snapshots")) == 3  # one per hour
    expected = Simulator(seed=7, categories_per_platform=15).frame(
        start, start + timedelta(hours=3)
    )
    with duckdb.connect(duckdb_path) as con:
        stored = con.execute(
            "SELECT count(*), sum(viewers), min(ts), max(ts) FROM raw_snapshots"
        ).fetchone()
    assert stored == (
        len(expected),
        int(expected["viewers"].sum()),
        expected["ts"].min().to_pydatetime(),
        expected["ts"].max().to_pydatetime(),
    )
    assert _materialize(duckdb_path, tags=tags).success  # re-run: same rows, no duplicates
    with duckdb.connect(duckdb_path) as con:
        assert con.execute("SELECT count(*) FROM raw_snapshots").fetchone()[0] == len(expected)


def test_a_gap_left_by_the_sensor_fails_a_check_with_the_backfill_to_run(
    simulator_env, duckdb_path
):
    from streampulse_assets.lib.ticks import GAP_TAG

    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    tags = {MINUTE_TAG: now.isoformat(), GAP_TAG: "2026-11-01T00:01:00/2026-11-01T05:00:00"}
    result = _materialize(duckdb_path, now.strftime("%Y-%m-%d-%H:00"), tags)
    assert result.success
    check = next(
        c for c in result.get_asset_check_evaluations() if c.check_name == "all_sources_answered"
    )
    assert not check.passed
    assert "were never ticked" in check.description and "backfill" in check.description


def test_live_fetch_job_archives_the_minute_a_waiting_tick_then_reparses(
    chzzk_env, duckdb_path, httpserver
):
    # While a tick waits for the DuckDB pool, live_fetch archives the current minute; the tick
    # then re-parses that archive instead of calling the API for a minute that may have passed.
    from streampulse_assets.defs.ingest.fetch import live_fetch

    now = _settled_minute()
    result = live_fetch.execute_in_process()
    assert result.success
    assert result.output_for_node("fetch_live_responses")["chzzk"].startswith("archived 3")
    requests = len(httpserver.log)
    assert requests == 3 and Landing(chzzk_env).read("chzzk", now)
    assert live_fetch.execute_in_process().output_for_node("fetch_live_responses") == {
        "chzzk": "already archived"
    }
    tags = {MINUTE_TAG: now.isoformat()}
    assert _materialize(duckdb_path, now.strftime("%Y-%m-%d-%H:00"), tags).success
    assert len(httpserver.log) == requests  # no second fetch of the same minute
    rows = _rows(duckdb_path)
    assert rows and {r[2] for r in rows} == {now}


def test_live_fetch_job_fails_clearly_when_no_platform_answers(chzzk_env, monkeypatch):
    from streampulse_assets.defs.ingest.fetch import live_fetch

    monkeypatch.setenv("STREAMPULSE_CHZZK_BASE_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    result = live_fetch.execute_in_process(raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "No live platform answered" in str(failure.event_specific_data.error)
    files = [p.name for p in chzzk_env.rglob("*.json.zst")]
    assert len(files) == 1 and files[0].endswith(".failed.json.zst")  # no archive, the error kept


def test_a_tick_that_starts_after_its_minute_passed_reports_a_gap_not_a_failure(
    chzzk_env, duckdb_path, httpserver
):
    # e.g. a tick that waited in the run queue across the minute boundary: the live API cannot
    # answer for that minute any more, so retrying the run would only fail again.
    past = _settled_minute() - timedelta(minutes=3)
    tags = {MINUTE_TAG: past.isoformat()}
    result = _materialize(duckdb_path, past.strftime("%Y-%m-%d-%H:00"), tags)
    assert result.success
    assert len(httpserver.log) == 0 and _rows(duckdb_path) == []
    check = next(
        c for c in result.get_asset_check_evaluations() if c.check_name == "all_sources_answered"
    )
    assert not check.passed and "chzzk: 1 minute(s) without data" in check.description
    warnings = check.metadata["warnings"].value
    assert any("tick started after" in w for w in warnings)
