"""Detection over a replay file, one platform at a time in on-disk DuckDB, equals detect_frame."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta

import pandas as pd
import pytest

from streampulse_assets.lib.detection.engine import detect_frame
from streampulse_assets.lib.detection.filerun import detect_file
from streampulse_assets.lib.sources.base import SourceError
from streampulse_assets.lib.sources.replay import ReplaySource, write_snapshots
from streampulse_assets.lib.sources.simulator import Simulator

START = datetime(2025, 3, 1)
END = START + timedelta(days=2)


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    sim = Simulator(seed=7, categories_per_platform=20)
    path = tmp_path_factory.mktemp("replay") / "sim.parquet"
    write_snapshots(sim.iter_frames(START, END), path)
    frame = ReplaySource(path).data
    return path, frame, detect_frame(frame)


def test_detection_is_per_platform(replay):
    _, frame, together = replay
    assert together["platform"].nunique() == 2 and len(together) > 20
    alone = [detect_frame(frame[frame["platform"] == p]) for p in ("chzzk", "soop")]
    merged = pd.concat(alone, ignore_index=True)
    merged = merged.sort_values(["ts", "detector", "platform", "category_id"], ignore_index=True)
    pd.testing.assert_frame_equal(merged, together)


def test_file_detection_equals_detect_frame(replay, tmp_path):
    path, frame, together = replay
    result = detect_file(path, workdir=tmp_path, chunk_rows=7_000)  # many chunks
    pd.testing.assert_frame_equal(result.events, together)
    assert result.rows == len(frame) and result.categories == 40
    assert (result.first, result.last) == (frame["ts"].min(), frame["ts"].max())
    assert list(tmp_path.iterdir()) == []  # temporary databases removed


def _csv(tmp_path, rows: list[str]):
    path = tmp_path / "in.csv"
    path.write_text("ts,platform,category_id,viewers\n" + "\n".join(rows) + "\n")
    return path


def test_duplicates_across_chunks_keep_the_last_row_of_the_file(tmp_path):
    rows = [f"{START + timedelta(minutes=m):%Y-%m-%dT%H:%M}:00,p,a,{1000 + m}" for m in range(80)]
    spiky = [*rows[:75], "2025-03-01T01:15:00,p,a,9000", *rows[76:]]
    base = detect_file(_csv(tmp_path, spiky), chunk_rows=10).events
    assert len(base[base["ts"] == datetime(2025, 3, 1, 1, 15)]) > 0
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        again = detect_file(_csv(tmp_path, [*spiky, "2025-03-01T01:15:00,p,a,1075"]), chunk_rows=10)
    assert any("1 duplicated" in str(w.message) for w in seen)
    assert again.rows == 80
    assert len(again.events[again.events["ts"] == datetime(2025, 3, 1, 1, 15)]) == 0


def test_bad_rows_are_named_by_file_row(tmp_path):
    rows = [f"{START + timedelta(minutes=m):%Y-%m-%dT%H:%M}:00,p,a,{1000 + m}" for m in range(30)]
    rows[23] = "2025-03-01T00:23:00,p,a,lots"
    # The bad row is rejected by name (file, row, column, value); the other 29 are detected.
    with pytest.warns(UserWarning, match=r"in\.csv row 23: viewers='lots' rejected: not a number"):
        found = detect_file(_csv(tmp_path, rows), chunk_rows=10)
    assert found.rows == 29
    empty = tmp_path / "empty.csv"
    empty.write_text("ts,platform,category_id,viewers\n")
    assert detect_file(empty).events.empty
    empty.write_text("ts,platform\n")
    with pytest.raises(SourceError, match="missing required column"):
        detect_file(empty)
