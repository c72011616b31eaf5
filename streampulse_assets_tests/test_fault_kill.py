"""A process killed in the middle of a backfill loses nothing stored and leaves no half minute."""

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

import duckdb

from streampulse_assets.lib.sources.simulator import Simulator

SCRIPT = """
import dagster as dg
from streampulse_assets.defs.ingest.assets import raw_snapshots
from streampulse_assets.defs.resources import WarehouseResource
import sys
dg.materialize(
    [raw_snapshots],
    tags={"dagster/asset_partition_range_start": "2026-11-01-00:00",
          "dagster/asset_partition_range_end": "2026-11-01-17:00"},
    resources={"duckdb": WarehouseResource(database=sys.argv[1])},
)
print("DONE", flush=True)
"""


def _run(duckdb_path, env, kill_after=None):
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, duckdb_path],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    if kill_after is None:
        out, _ = proc.communicate(timeout=600)
        return out.decode()
    # Kill once the first 6-hour slice has reached the file, while the next one is being written.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        sizes = [
            os.path.getsize(p) for p in (duckdb_path, duckdb_path + ".wal") if os.path.exists(p)
        ]
        if sum(sizes) > kill_after:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return ""


def _has_table(con) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'raw_snapshots'"
    ).fetchall()
    return found[0][0] == 1


def _per_minute(con):
    return dict(
        con.execute(
            "SELECT platform || '|' || strftime(ts, '%Y-%m-%d %H:%M'), count(*) "
            "FROM raw_snapshots GROUP BY ALL"
        ).fetchall()
    )


def test_kill_mid_backfill_then_rerun_recovers_exactly(duckdb_path, tmp_path):
    env = dict(os.environ)
    env.update(
        STREAMPULSE_SOURCES="simulator",
        STREAMPULSE_SIMULATOR_CATEGORIES="100",
        STREAMPULSE_LANDING_DIR=str(tmp_path / "landing"),
    )
    expected = Simulator(seed=7, categories_per_platform=100).frame(
        datetime(2026, 11, 1), datetime(2026, 11, 1) + timedelta(hours=18)
    )
    counts = expected.groupby(
        [expected["platform"], expected["ts"].dt.strftime("%Y-%m-%d %H:%M")]
    ).size()
    want = {f"{p}|{m}": int(n) for (p, m), n in counts.items()}

    # Kill at growing file sizes until the kill lands after a committed slice and before the end
    # (the run writes three 6-hour slices, each one transaction).
    partial: dict = {}
    for threshold in (12_000_000, 20_000_000, 30_000_000, 45_000_000):
        for suffix in ("", ".wal"):
            if os.path.exists(duckdb_path + suffix):
                os.remove(duckdb_path + suffix)
        _run(duckdb_path, env, kill_after=threshold)
        with duckdb.connect(duckdb_path) as con:  # opens (WAL replayed), whatever was cut
            partial = _per_minute(con) if _has_table(con) else {}
        # Every stored minute is whole: a kill never leaves half a minute behind.
        assert all(want[key] == n for key, n in partial.items())
        if 0 < len(partial) < len(want):
            break
    assert 0 < len(partial) < len(want), "no kill landed between two committed slices"

    assert "DONE" in _run(duckdb_path, env)
    with duckdb.connect(duckdb_path) as con:
        assert _per_minute(con) == want
        total = con.execute("SELECT sum(viewers) FROM raw_snapshots").fetchone()[0]
    assert total == int(expected["viewers"].sum())
