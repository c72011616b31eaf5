"""The recorded first start as the definitions see it: each load runs in a fresh Python process (the
partitions are fixed when the definitions load), a restart keeps the start, and 2019 data replays
through the assets. The start's resolution itself is in unit/test_partitions_start.py."""

import json
import os
import subprocess
import sys
from datetime import datetime

from streampulse_assets.lib.partitions_start import STATE_FILE
from streampulse_assets.lib.services.paths import REPO_ROOT

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
