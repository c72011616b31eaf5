"""The learned detector's store: live ticks and a backfill store identical scores and state in
on-disk DuckDB, a rerun is idempotent, only the primary detector is queued in Postgres. The
detector itself is in unit/test_learned.py."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd

from streampulse_assets.lib.detection.config import get_config
from streampulse_assets.lib.detection.engine import refresh_all
from streampulse_assets.lib.detection.frame import load_raw, normalise
from streampulse_assets.lib.detection.learned import reads
from streampulse_assets.lib.detection.learned import run as learned_run
from streampulse_assets.lib.detection.learned.inmemory import score_frame
from streampulse_assets.lib.schema import migrate_duckdb
from streampulse_assets.lib.sources.simulator import Simulator
from streampulse_assets_tests.unit.test_learned import T0, noisy
from streampulse_assets_tests.warehouses import backfill_and_ticks


def _learned_tables(con) -> dict[str, pd.DataFrame]:
    scores = con.execute("SELECT * FROM learned_scores").df()
    state = con.execute("SELECT * FROM learned_state").df()
    return {
        "scores": scores.sort_values(["platform", "category_id", "ts"], ignore_index=True),
        "state": state.sort_values(
            ["platform", "category_id", "hour", "window", "cand"], ignore_index=True
        ),
    }


def test_live_ticks_and_a_backfill_store_identical_scores_and_state(tmp_path):
    sim = Simulator(seed=11, categories_per_platform=6)
    start, end = T0, T0 + timedelta(days=1, hours=14, minutes=20)
    raw = normalise(sim.frame(start, end))
    tick_start = end - timedelta(minutes=90)  # the ticks cross two hour boundaries
    cfg = get_config()
    edges = [tick_start + timedelta(minutes=m) for m in range(0, 91)]
    backfill, live = backfill_and_ticks(tmp_path, raw, start, edges, cfg)

    a, b = _learned_tables(backfill), _learned_tables(live)
    pd.testing.assert_frame_equal(a["scores"], b["scores"], check_exact=True)
    # The backfill stores the state at day ends, the ticks at each hour: compare shared hours.
    shared = a["state"].merge(b["state"][["platform", "category_id", "hour"]].drop_duplicates())
    assert len(shared) > 0
    pd.testing.assert_frame_equal(
        shared.reset_index(drop=True),
        b["state"].merge(a["state"][["platform", "category_id", "hour"]].drop_duplicates()),
        check_exact=True,
    )
    assert (a["scores"]["score"] > 0).any()
    events = backfill.execute("SELECT * FROM signal_events WHERE detector = 'LEARNED'").df()
    spikes_stored = a["scores"][a["scores"]["spike"]]
    assert len(events) == len(spikes_stored)


def test_a_coarse_series_scores_the_same_live_backfilled_and_in_memory(tmp_path):
    """An hourly series beside a minute one: its stretched spans (a level of 12 rows, windows
    up to 36 rows, read from 48 hours back) give the same scores in live ticks, in one backfill
    and in memory (learned/inmemory.score_frame)."""
    hours = 4 * 24
    ts = pd.date_range(T0, periods=hours, freq="60min")
    hourly = noisy(4, 400, step_min=60, seed=9)
    hourly[80:83] *= 3  # a three-hour spike on the fourth day
    minute = noisy(4, 900, seed=10)
    every = pd.date_range(T0, periods=len(minute), freq="1min")
    snapshots = pd.concat(
        [
            pd.DataFrame({"platform": "p", "category_id": "hourly", "ts": ts, "viewers": hourly}),
            pd.DataFrame({"platform": "p", "category_id": "minute", "ts": every}).assign(
                viewers=minute
            ),
        ],
        ignore_index=True,
    )
    raw = normalise(snapshots)
    end = T0 + timedelta(days=4)
    edges = [end - timedelta(hours=3) + timedelta(minutes=m) for m in range(0, 181, 20)]
    backfill, live = backfill_and_ticks(tmp_path, raw, T0, edges, get_config())
    a, b = _learned_tables(backfill), _learned_tables(live)
    pd.testing.assert_frame_equal(a["scores"], b["scores"], check_exact=True)

    memory = score_frame(snapshots.rename(columns={"viewers": "value"}))
    stored = a["scores"]
    for name in ("hourly", "minute"):
        got = stored[stored["category_id"] == name]
        want = memory[memory["category_id"] == name]
        np.testing.assert_allclose(got["level"], want["level"], equal_nan=True)
        np.testing.assert_allclose(got["score"], want["score"], atol=1e-9)
        assert got["spike"].tolist() == want["spike"].tolist()
    spikes = stored[stored["spike"] & (stored["category_id"] == "hourly")]
    assert len(spikes) == 1 and pd.Timestamp(spikes["ts"].iloc[0]) == ts[80]


def test_ticks_across_hours_and_intermittent_series_store_what_a_backfill_stores(tmp_path):
    """Ticks of 7 minutes (some cross an hour), over series listed in 3-95 % of the minutes at
    random (a category is listed only while it has a live), one with outages and a 5-minute one
    with a fifth of its rows missing: every learned score equals the backfill's. (A tick that ran
    past an hour it began inside scored the next hour before learning it, and an intermittent
    series' step followed the rows a read held: 202 of 20,899 scores differed.)"""
    rng = np.random.default_rng(1)
    n = 4 * 1440
    every = pd.date_range(T0, periods=n, freq="1min")
    parts = []
    for i, share in enumerate((0.03, 0.08, 0.12, 0.25, 0.4, 0.7, 0.95)):
        keep = rng.random(n) < share
        values = noisy(4, 30, seed=20 + i)[keep]
        parts.append(pd.DataFrame({"category_id": f"listed_{share}", "ts": every[keep]}))
        parts[-1]["viewers"] = values
    keep = np.ones(n, dtype=bool)
    keep[4000:4200] = keep[5400:5500] = False  # two outages
    parts.append(pd.DataFrame({"category_id": "outages", "ts": every[keep]}))
    parts[-1]["viewers"] = noisy(4, 500, seed=40)[keep]
    five = pd.date_range(T0, periods=n // 5, freq="5min")
    keep = rng.random(len(five)) < 0.8
    parts.append(pd.DataFrame({"category_id": "five", "ts": five[keep]}))
    parts[-1]["viewers"] = noisy(4, 200, step_min=5, seed=41)[keep]
    raw = normalise(pd.concat(parts, ignore_index=True).assign(platform="p"))
    end = T0 + timedelta(days=4)
    edges = [end - timedelta(hours=3) + timedelta(minutes=m) for m in range(0, 181, 7)]
    backfill, live = backfill_and_ticks(tmp_path, raw, T0, edges, get_config())
    a, b = _learned_tables(backfill), _learned_tables(live)
    assert len(a["scores"]) > 20_000
    pd.testing.assert_frame_equal(a["scores"], b["scores"], check_exact=True)


def test_a_tick_finds_the_state_of_a_series_silent_for_hours(tmp_path):
    """A live tick looks for each series' newest state among the last few hours' states first
    (reads.RECENT_STATE_HOURS); a series that was silent for longer (an intermittent category,
    here 11 hours without a row) is found among all of its states: the ticks after its silence
    score it as the backfill does, from the state it learned before."""
    n = 2 * 1440
    every = pd.date_range(T0, periods=n, freq="1min")
    keep = np.ones(n, dtype=bool)
    keep[n - 720 : n - 60] = False  # silent from 12 h to 1 h before the end
    parts = [
        pd.DataFrame({"category_id": "steady", "ts": every, "viewers": noisy(2, 300, seed=50)}),
        pd.DataFrame(
            {"category_id": "silent", "ts": every[keep], "viewers": noisy(2, 80, seed=51)[keep]}
        ),
    ]
    raw = normalise(pd.concat(parts, ignore_index=True).assign(platform="p"))
    end = T0 + timedelta(days=2)
    edges = [end - timedelta(minutes=100) + timedelta(minutes=m) for m in range(0, 101, 5)]
    backfill, live = backfill_and_ticks(tmp_path, raw, T0, edges, get_config())
    a, b = _learned_tables(backfill), _learned_tables(live)
    pd.testing.assert_frame_equal(a["scores"], b["scores"], check_exact=True)
    state = b["state"]
    hours = state.groupby("category_id")["hour"].apply(lambda h: sorted(set(h)))
    back = end - timedelta(minutes=60)  # the ticks from here on list the series again
    newest = max(h for h in hours["silent"] if h < back)  # what the first of them found
    assert back - newest > timedelta(hours=reads.RECENT_STATE_HOURS)
    after = b["scores"][(b["scores"]["category_id"] == "silent") & (b["scores"]["ts"] >= back)]
    assert len(after) == 60 and (after["score"] > 0).any()


def test_rerunning_a_window_is_idempotent(tmp_path):
    sim = Simulator(seed=3, categories_per_platform=4)
    start, end = T0, T0 + timedelta(hours=30)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    migrate_duckdb(con)
    load_raw(con, normalise(sim.frame(start, end)))
    cfg = get_config()
    refresh_all(con, start, end, cfg)
    first = _learned_tables(con)
    refresh_all(con, start + timedelta(hours=24), end, cfg)
    again = _learned_tables(con)
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name], check_exact=True)


def test_the_grid_lookup_and_the_two_scoring_halves_change_nothing(tmp_path, monkeypatch):
    """A backfill long enough for every seasonal lag stores the same scores and state whether
    the stored rises are looked up through the dense grid or the sorted search, and whether a
    panel is scored in one thread or as two halves of its series."""
    sim = Simulator(seed=5, categories_per_platform=3)
    start, end = T0, T0 + timedelta(days=7, hours=3)  # the 7-day lag has stored rises
    raw = normalise(sim.frame(start, end))
    cfg = get_config()

    def backfill(name: str) -> dict[str, pd.DataFrame]:
        con = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
        migrate_duckdb(con)
        load_raw(con, raw)
        refresh_all(con, start, end, cfg)
        return _learned_tables(con)

    default = backfill("default")
    monkeypatch.setattr(reads, "GRID_CELLS", 0)  # every lookup takes the sorted search
    monkeypatch.setattr(learned_run, "PARALLEL_MIN_ROWS", 1)  # every panel in two halves
    other = backfill("other")
    for name in default:
        pd.testing.assert_frame_equal(default[name], other[name], check_exact=True)
    state = default["state"]
    last = state[state["hour"] == state["hour"].max()]
    assert (last.loc[last["cand"] == 2, "weight"] > 0).any()  # the 7-day forecast is learning


def test_only_the_primary_detector_is_queued(pg_url):
    import psycopg2

    from streampulse_assets.lib.alerts.gate import AlertGate
    from streampulse_assets.lib.detection.enqueue import enqueue_events

    now = pd.Timestamp.now("UTC").floor("min").tz_localize(None)
    row = {"platform": "p", "category_id": "a", "ts": now,
           "level": "SPIKE", "cause": "STRUCTURE_ISSUE", "current": 900.0}  # fmt: skip
    events = pd.DataFrame([{**row, "detector": d} for d in ("V3", "V1", "LEARNED")])
    conn = psycopg2.connect(pg_url)
    try:
        as_v3 = enqueue_events(conn, events)
        as_learned = enqueue_events(conn, events, detector="LEARNED")
        with conn.cursor() as cur:
            cur.execute("SELECT detector FROM analysis_queue ORDER BY detector")
            queued = [d for (d,) in cur.fetchall()]
            gate = AlertGate(mode="delta", analysis_wait_minutes=0, detector="LEARNED")
            where, params = gate.where_sql()
            cur.execute(f"SELECT e.detector FROM analysis_queue e WHERE {where}", params)
            gated = {d for (d,) in cur.fetchall()}
    finally:
        conn.close()
    assert (as_v3.inserted, as_v3.ignored) == (1, 2)
    assert (as_learned.inserted, as_learned.ignored) == (1, 2)
    assert queued == ["LEARNED", "V3"]
    assert gated == {"LEARNED"}  # the alert gate follows the primary detector too
