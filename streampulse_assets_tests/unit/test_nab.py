"""NAB import and the data CLI commands (simulate, import-nab) run end to end."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from streampulse_assets.cli.main import app
from streampulse_assets.lib.nab import import_nab
from streampulse_assets.lib.sources.base import SourceError
from streampulse_assets.lib.sources.replay import ReplaySource, labels_from_file
from streampulse_assets.lib.sources.simulator import Simulator

NAB = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "nab"
if not NAB.exists():  # the shared folder sits next to the repository
    NAB = Path("/work/shared/datasets/nab")
WINDOWS = NAB / "combined_windows.json"


def test_import_nab_series_and_windows():
    frame, labels = import_nab(NAB, WINDOWS)
    windows = json.loads(WINDOWS.read_text())
    files = sorted(NAB / rel for rel in windows)  # every data file; results/ is not data
    expected = sum(len(v) for v in windows.values())
    assert len(labels) == expected > 0
    assert {x["kind"] for x in labels} == {"nab_anomaly"}
    assert set(frame["category_id"]) == {f.stem for f in files}
    assert (frame["platform"] == "NAB").all()
    minutes = (pd.to_datetime(pd.read_csv(f)["timestamp"]).dt.floor("min") for f in files)
    rows = sum(m.nunique() for m in minutes)  # a few files have two rows in one minute
    assert len(frame) == rows
    aapl = frame[frame.category_id == "Twitter_volume_AAPL"].sort_values("ts")
    steps = aapl["ts"].diff().dropna().value_counts()
    assert steps.index[0] == pd.Timedelta(minutes=5)  # steps kept as they are
    first = pd.read_csv(NAB / "realTweets" / "Twitter_volume_AAPL.csv").iloc[0]
    assert aapl["viewers"].iloc[0] == first["value"]
    assert aapl["ts"].iloc[0] == pd.Timestamp(first["timestamp"]).floor("min")


def test_import_nab_errors(tmp_path):
    with pytest.raises(SourceError, match="no NAB csv"):
        import_nab(tmp_path, WINDOWS)
    (tmp_path / "s.csv").write_text("time,v\n1,2\n")
    with pytest.raises(SourceError, match="timestamp,value"):
        import_nab(tmp_path, WINDOWS)


def test_cli_import_nab(tmp_path):
    out, labels = tmp_path / "nab.parquet", tmp_path / "nab_labels.json"
    result = CliRunner().invoke(
        app, ["import-nab", str(NAB), str(WINDOWS), "--out", str(out), "--labels", str(labels)]
    )
    assert result.exit_code == 0, result.output
    assert "nab_anomaly" in result.output
    frame, expected = import_nab(NAB, WINDOWS)
    assert labels_from_file(labels) == expected
    replayed = ReplaySource(out).frame(datetime(2015, 1, 1), datetime(2016, 1, 1))
    in_2015 = frame[(frame["ts"] >= datetime(2015, 1, 1)) & (frame["ts"] < datetime(2016, 1, 1))]
    assert in_2015["category_id"].str.startswith("Twitter_volume").all()  # the tweet files
    pd.testing.assert_frame_equal(replayed, in_2015.reset_index(drop=True))


def test_cli_import_nab_bad_dir(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "import-nab",
            str(tmp_path),
            str(WINDOWS),
            "--out",
            str(tmp_path / "o.parquet"),
            "--labels",
            str(tmp_path / "l.json"),
        ],
    )
    assert result.exit_code == 2
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_cli_simulate_replays_identically(tmp_path, suffix):
    out, labels = tmp_path / f"sim{suffix}", tmp_path / "labels.json"
    args = ["simulate", "--start", "2024-05-01T22:00", "--end", "2024-05-02T02:00"]
    args += ["--out", str(out), "--labels", str(labels), "--seed", "9", "--categories", "12"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "rows (24 categories)" in result.output
    sim = Simulator(seed=9, categories_per_platform=12)
    a, b = datetime(2024, 5, 1, 22), datetime(2024, 5, 2, 2)
    pd.testing.assert_frame_equal(ReplaySource(out).frame(a, b), sim.frame(a, b))
    assert labels_from_file(labels) == sim.labels(a, b)


def test_import_nab_same_minute_rows_keep_the_last_and_are_counted(tmp_path):
    data = tmp_path / "realX"
    data.mkdir()
    (data / "a.csv").write_text(
        "timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:05:10,2\n"
        "2015-01-01 00:05:40,3\n2015-01-01 00:10:00,4\n"
    )
    windows = tmp_path / "w.json"
    windows.write_text(
        json.dumps({"realX/a.csv": [["2015-01-01 00:05:00", "2015-01-01 00:10:00"]]})
    )
    frame, labels = import_nab(tmp_path, windows)
    assert frame["viewers"].tolist() == [1, 3, 4]  # 00:05:40 replaced 00:05:10
    assert frame.attrs["merged_rows"] == {"a": 1}
    assert len(labels) == 1
    out, lab = tmp_path / "o.csv", tmp_path / "l.json"
    result = CliRunner().invoke(
        app, ["import-nab", str(tmp_path), str(windows), "--out", str(out), "--labels", str(lab)]
    )
    assert result.exit_code == 0, result.output
    assert "1 rows shared their minute" in result.output and "(a 1)" in result.output


def test_import_nab_rejects_two_files_with_one_name(tmp_path):
    for folder in ("realX", "realY"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.csv").write_text("timestamp,value\n2015-01-01 00:00:00,1\n")
    windows = tmp_path / "w.json"
    windows.write_text("{}")
    with pytest.raises(
        SourceError, match=r"same name would be one series: realX/a.csv, realY/a.csv"
    ):
        import_nab(tmp_path, windows)
