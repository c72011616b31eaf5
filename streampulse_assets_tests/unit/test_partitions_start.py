"""Partitions start where the user's data starts: a setting, else the first start's range."""

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from streampulse_assets.lib.partitions_start import STATE_FILE, resolve_start
from streampulse_assets.lib.services.paths import REPO_ROOT

NOW = datetime(2026, 12, 1, 10, 37)


def test_first_start_fixes_the_bootstrap_range_and_a_restart_next_week_keeps_it(tmp_path):
    start, origin = resolve_start(None, tmp_path, NOW, 8, "simulator")
    assert (start, origin) == (datetime(2026, 11, 23, 10), "first start")
    assert json.loads((tmp_path / STATE_FILE).read_text())["start"] == "2026-11-23T10:00:00"
    later = resolve_start(None, tmp_path, NOW + timedelta(days=7), 8, "simulator")
    assert later == (datetime(2026, 11, 23, 10), "state")


def test_live_sources_start_at_the_first_start_hour(tmp_path):
    assert resolve_start(None, tmp_path, NOW, 8, "chzzk,soop")[0] == datetime(2026, 12, 1, 10)


def test_the_setting_wins_for_data_of_any_year(tmp_path):
    assert resolve_start("2019-06-01", tmp_path, NOW, 8, "replay") == (
        datetime(2019, 6, 1),
        "setting",
    )
    assert resolve_start("2024-03-01T06:30:00+09:00", tmp_path, NOW, 8, "x")[0] == datetime(
        2024, 2, 29, 21
    )
    assert not (tmp_path / STATE_FILE).exists()  # a setting records nothing


@pytest.mark.parametrize(
    ("value", "message"), [("yesterday", "not an ISO date"), ("2027-01-01", "in the future")]
)
def test_bad_settings_fail_clearly(tmp_path, value, message):
    with pytest.raises(ValueError, match=message):
        resolve_start(value, tmp_path, NOW, 8, "simulator")


def test_a_damaged_state_file_says_how_to_fix_it(tmp_path):
    (tmp_path / STATE_FILE).write_text("{")
    with pytest.raises(ValueError, match="delete it"):
        resolve_start(None, tmp_path, NOW, 8, "simulator")


SCRIPT = """
import dagster as dg
from streampulse_assets.defs.ingest.assets import raw_snapshots
from streampulse_assets.defs.partitions import daily_partitions, hourly_partitions
from streampulse_assets.defs.resources import WarehouseResource
print(hourly_partitions.get_first_partition_key(), daily_partitions.start.date())
if {replay}:
    result = dg.materialize([raw_snapshots], partition_key="2019-06-01-00:00",
                            resources={{"duckdb": WarehouseResource(database={db!r})}})
    mat = result.asset_materializations_for_node("raw_snapshots")[0]
    print(mat.partition, mat.metadata["dagster/row_count"].value)
"""


def _load(tmp_path, env: dict, replay: bool = False) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPULSE_")}
    clean |= {"STREAMPULSE_HOME": str(tmp_path / "state"), **env}
    code = SCRIPT.format(replay=replay, db=str(tmp_path / "w.duckdb"))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=clean, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


def test_definitions_start_at_the_recorded_first_start(tmp_path):
    first = _load(tmp_path, {"STREAMPULSE_BOOTSTRAP_DAYS": "3"})
    recorded = json.loads((tmp_path / "state" / STATE_FILE).read_text())["start"]
    assert first[0] == datetime.fromisoformat(recorded).strftime("%Y-%m-%d-%H:%M")
    assert first[1] == recorded[:10]
    assert _load(tmp_path, {"STREAMPULSE_BOOTSTRAP_DAYS": "30"}) == first  # restart: unchanged


def test_recorded_data_of_2019_replays_through_the_assets(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text(
        "ts,platform,category_id,viewers\n"
        + "".join(f"2019-06-01T00:{m:02d}:00,chzzk,{c},{100 + m}\n" for m in range(5) for c in "ab")
    )
    env = {
        "STREAMPULSE_PARTITIONS_START": "2019-06-01",
        "STREAMPULSE_SOURCES": "replay",
        "STREAMPULSE_REPLAY_PATH": str(path),
        "STREAMPULSE_LANDING_DIR": str(tmp_path / "landing"),
    }
    out = _load(tmp_path, env, replay=True)
    assert out == ["2019-06-01-00:00", "2019-06-01", "2019-06-01-00:00", "10"]
    assert not (tmp_path / "state" / STATE_FILE).exists()
