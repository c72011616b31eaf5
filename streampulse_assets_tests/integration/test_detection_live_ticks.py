"""Live ticks and one backfill store identical baselines and events in on-disk DuckDB warehouses.
The detectors on handcrafted series are in unit/test_detection.py."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from streampulse_assets.lib.detection.config import get_config


def _tables(con) -> dict[str, pd.DataFrame]:
    out = {}
    for table in ("rolling_baselines", "seasonal_baselines", "signal_events"):
        frame = con.execute(f"SELECT * EXCLUDE (computed_at) FROM {table}").df()
        keys = ["platform", "category_id", "ts"] + (["detector"] if "detector" in frame else [])
        out[table] = frame.sort_values(keys, ignore_index=True)
    return out


def test_live_ticks_and_one_backfill_store_identical_events(tmp_path):
    from streampulse_assets.lib.detection.frame import normalise
    from streampulse_assets.lib.sources.simulator import Simulator
    from streampulse_assets_tests.warehouses import backfill_and_ticks

    sim = Simulator(seed=7, categories_per_platform=12, scenario="classic")
    start, end = datetime(2025, 3, 1), datetime(2025, 3, 2, 9, 0)
    raw = normalise(sim.frame(start, end))
    tick_start = end - timedelta(minutes=40)  # 08:20-09:00 holds a streamer spike (08:38)
    cfg = get_config()
    # A catch-up tick over 10 minutes, then one tick per minute; each tick's rows arrive first.
    edges = [tick_start, tick_start + timedelta(minutes=10)]
    while edges[-1] < end:
        edges.append(edges[-1] + timedelta(minutes=1))
    backfill, live = backfill_and_ticks(tmp_path, raw, start, edges, cfg)

    a, b = _tables(backfill), _tables(live)
    for table in a:
        pd.testing.assert_frame_equal(a[table], b[table], check_exact=True)
    events = a["signal_events"]
    last = events[events["ts"] >= tick_start]
    assert len(last[(last["detector"] == "V3") & (last["level"] == "SPIKE")]) >= 1
    assert {"V1", "V3"} <= set(last["detector"])  # LEARNED runs beside them


def test_live_ticks_and_a_backfill_store_the_same_going_live_candidate(tmp_path):
    from streampulse_assets.lib.detection.frame import normalise
    from streampulse_assets_tests.going_live import T0, going_live_frame
    from streampulse_assets_tests.warehouses import backfill_and_ticks

    frame, start, _ = going_live_frame()
    raw = normalise(frame)
    edges = [start - timedelta(minutes=5) + timedelta(minutes=i) for i in range(21)]
    backfill, live = backfill_and_ticks(tmp_path, raw, T0, edges, get_config())
    a, b = _tables(backfill)["signal_events"], _tables(live)["signal_events"]
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    learned = a[(a["detector"] == "LEARNED") & (a["ts"] >= edges[0])]
    assert set(zip(learned["category_id"], learned["level"], strict=True)) == {
        ("live", "CANDIDATE"),
        ("raid", "SPIKE"),
    }
