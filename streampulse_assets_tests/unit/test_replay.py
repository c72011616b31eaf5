"""Replay files: round trips through CSV and Parquet, and clear errors on bad input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from streampulse_assets.lib.sources.base import SourceError
from streampulse_assets.lib.sources.replay import (
    ReplaySource,
    labels_from_file,
    write_labels,
    write_snapshots,
)
from streampulse_assets.lib.sources.simulator import Simulator

A = datetime(2024, 5, 1, 23)


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(seed=5, categories_per_platform=15)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip_is_identical(tmp_path, sim, suffix):
    frame = sim.frame(A, A + timedelta(hours=2))
    path = tmp_path / f"snap{suffix}"
    # written in chunks, as the CLI does, across a UTC midnight
    assert write_snapshots(sim.iter_frames(A, A + timedelta(hours=2)), path) == len(frame)
    source = ReplaySource(path)
    pd.testing.assert_frame_equal(source.frame(A, A + timedelta(hours=2)), frame)
    sub = source.frame(A + timedelta(minutes=30), A + timedelta(minutes=31))
    pd.testing.assert_frame_equal(
        sub, sim.frame(A + timedelta(minutes=30), A + timedelta(minutes=31))
    )
    assert source.span() == (pd.Timestamp(A), pd.Timestamp(A + timedelta(hours=2)))


def test_labels_round_trip(tmp_path, sim):
    labels = sim.labels(datetime(2024, 5, 1), datetime(2024, 5, 2))
    path = tmp_path / "labels.json"
    assert write_labels(labels, path) == len(labels) > 0
    assert labels_from_file(path) == labels


def _csv(tmp_path, text: str):
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_columns_any_step_and_timezones(tmp_path):
    path = _csv(
        tmp_path,
        "ts,platform,category_id,viewers\n"
        "2024-05-01T00:00:30Z,NAB,x,10\n"
        "2024-05-01T09:05:00+09:00,NAB,x,12\n"
        "2024-05-01 00:10:00,NAB,x,7\n",
    )
    frame = ReplaySource(path).frame(datetime(2024, 5, 1), datetime(2024, 5, 2))
    assert frame["ts"].tolist() == [pd.Timestamp(f"2024-05-01 00:{m:02d}") for m in (0, 5, 10)]
    assert frame["viewers"].tolist() == [10, 12, 7]
    assert frame["open_lives"].isna().all() and (frame["top_streamers"] == "[]").all()
    assert (frame["category_name"] == "x").all()


def test_missing_columns_are_named(tmp_path):
    path = _csv(tmp_path, "ts,platform,viewers\n2024-05-01T00:00:00,a,1\n")
    with pytest.raises(SourceError, match=r"missing required column.*category_id"):
        ReplaySource(path)


def test_bad_rows_are_rejected_by_name_and_the_rest_kept(tmp_path):
    path = _csv(
        tmp_path,
        "ts,platform,category_id,viewers\n"
        "not-a-time,a,b,1\n2024-05-01,a,b,-3\n2024-05-01,a,b,many\n2024-05-01,a,c,2\n",
    )
    with pytest.warns(UserWarning) as caught:
        source = ReplaySource(path)
    lines = [str(w.message) for w in caught]
    assert f"{path} row 0: ts='not-a-time' rejected: not a timestamp" in lines
    assert f"{path} row 1: viewers='-3' rejected: negative" in lines
    assert f"{path} row 2: viewers='many' rejected: not a number" in lines
    kinds = [(r.row, r.column) for r in source.rejected]
    assert kinds == [(0, "ts"), (1, "viewers"), (2, "viewers")]
    frame = source.frame(datetime(2024, 5, 1), datetime(2024, 5, 2))
    assert frame[["category_id", "viewers"]].values.tolist() == [["c", 2]]


def test_duplicates_keep_last_with_a_warning(tmp_path):
    path = _csv(
        tmp_path,
        "ts,platform,category_id,viewers,open_lives\n"
        "2024-05-01T00:00:00,a,b,1,2\n2024-05-01T00:00:00,a,b,5,3\n2024-05-01T00:01:00,a,b,6,\n",
    )
    with pytest.warns(UserWarning, match="1 duplicated"):
        source = ReplaySource(path)
    frame = source.frame(datetime(2024, 5, 1), datetime(2024, 5, 2))
    assert frame["viewers"].tolist() == [5, 6]
    assert frame["open_lives"].tolist()[0] == 3 and pd.isna(frame["open_lives"].iloc[1])


def test_bad_files(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        ReplaySource(tmp_path / "nope.csv")
    (tmp_path / "x.txt").write_text("a")
    with pytest.raises(SourceError, match="unknown file type"):
        ReplaySource(tmp_path / "x.txt")
    bad = _csv(tmp_path, 'ts,platform,category_id,viewers,top_streamers\n2024-05-01,a,b,1,"{}"\n')
    with pytest.warns(UserWarning, match="row 0: top_streamers='{}' rejected: not a JSON list"):
        assert ReplaySource(bad).data.empty


def test_bad_labels(tmp_path):
    path = tmp_path / "l.json"
    path.write_text(json.dumps({"a": 1}))
    with pytest.raises(SourceError, match="JSON list"):
        labels_from_file(path)
    path.write_text(json.dumps([{"platform": "a", "category_id": "b", "start": "2024-05-01"}]))
    with pytest.raises(SourceError, match="lacks end, kind"):
        labels_from_file(path)
    path.write_text(
        json.dumps([{"platform": "a", "category_id": "b", "start": "x", "end": "y", "kind": "k"}])
    )
    with pytest.raises(SourceError, match="bad start"):
        labels_from_file(path)
