"""A process killed in the middle of a backfill loses nothing stored and leaves no half minute."""

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta

import duckdb

from streampulse_assets.lib.sources.simulator import Simulator

SCRIPT = """
import sys
import dagster as dg
from streampulse_assets.defs.ingest import assets
from streampulse_assets.defs.resources import WarehouseResource

real_upsert = assets.upsert_snapshots
calls = []


class HoldBeforeCommit:
    # The second slice's connection: once its INSERT ran inside the open transaction, say so
    # and wait to be killed (the test's SIGKILL lands mid-transaction, never by timing).
    def __init__(self, con):
        self._con = con

    def __getattr__(self, name):
        return getattr(self._con, name)

    def execute(self, sql, *args):
        result = self._con.execute(sql, *args)
        if sql.lstrip().startswith("INSERT INTO raw_snapshots"):
            print("HOLDING", flush=True)
            sys.stdin.read()  # until killed
        return result


def upsert_then_report(con, frame, source, **kw):
    calls.append(source)
    if len(calls) == 2:
        con = HoldBeforeCommit(con)
    written = real_upsert(con, frame, source, **kw)
    print("COMMITTED", len(calls), flush=True)
    return written


if sys.argv[2] == "hold":
    assets.upsert_snapshots = upsert_then_report
dg.materialize(
    [assets.raw_snapshots],
    tags={"dagster/asset_partition_range_start": "2026-11-01-00:00",
          "dagster/asset_partition_range_end": "2026-11-01-17:00"},
    resources={"duckdb": WarehouseResource(database=sys.argv[1])},
)
print("DONE", flush=True)
"""


def _run(duckdb_path, env, hold=False):
    """Run the backfill; with `hold`, kill it (SIGKILL, whole group) once the first 6-hour slice
    is committed and the second one's INSERT ran inside its still-open transaction."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, duckdb_path, "hold" if hold else "run"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
    )
    if not hold:
        out, _ = proc.communicate(timeout=600)
        return out
    seen = []
    try:
        for line in proc.stdout:  # a real signal from the process, not a file size or a clock
            seen.append(line.strip())
            if line.strip() == "HOLDING":
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert seen == ["COMMITTED 1", "HOLDING"], seen
    return "\n".join(seen)


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
        STREAMPULSE_HOME=str(tmp_path / "state"),
        STREAMPULSE_PARTITIONS_START="2026-11-01T00:00:00",
    )
    expected = Simulator(seed=7, categories_per_platform=100).frame(
        datetime(2026, 11, 1), datetime(2026, 11, 1) + timedelta(hours=18)
    )
    counts = expected.groupby(
        [expected["platform"], expected["ts"].dt.strftime("%Y-%m-%d %H:%M")]
    ).size()
    want = {f"{p}|{m}": int(n) for (p, m), n in counts.items()}

    # Killed mid-transaction of the second slice: exactly the first slice is stored, whole.
    _run(duckdb_path, env, hold=True)
    with duckdb.connect(duckdb_path) as con:  # opens (WAL replayed), whatever was cut
        partial = _per_minute(con) if _has_table(con) else {}
    first_slice = {k: n for k, n in want.items() if k.split("|")[1] < "2026-11-01 06:00"}
    assert partial == first_slice  # every stored minute whole, nothing of the open transaction

    assert "DONE" in _run(duckdb_path, env)
    with duckdb.connect(duckdb_path) as con:
        assert _per_minute(con) == want
        total = con.execute("SELECT sum(viewers) FROM raw_snapshots").fetchone()[0]
    assert total == int(expected["viewers"].sum())
