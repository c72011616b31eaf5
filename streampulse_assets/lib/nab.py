"""Numenta Anomaly Benchmark files as replay data: one series per file, labels from windows.

A NAB file has `timestamp,value` rows (naive UTC, usually every 5 minutes). It becomes the
canonical snapshot shape with platform "NAB", category_id = the file stem, viewers = value
(rounded), open_lives unknown, no top streamers; steps are kept as they are (timestamps floored
to the minute; of rows that share a minute the last is kept, and `import_nab` counts the others
per file in `frame.attrs["merged_rows"]`). combined_windows.json maps "folder/file.csv" to
[[start, end], ...] windows, which become labels of kind "nab_anomaly".
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from streampulse_assets.lib.snapshots import SNAPSHOT_COLUMNS
from streampulse_assets.lib.sources.base import SourceError

PLATFORM = "NAB"
KIND = "nab_anomaly"


def _iso(value: str) -> str:
    return pd.Timestamp(value).floor("min").strftime("%Y-%m-%dT%H:%M:%SZ")


def fixed_point_scale(values: pd.Series, max_scale: float = 1e6) -> float:
    """The power of ten that makes a file's values whole numbers at their own resolution (the
    smallest gap between two distinct values), e.g. 1000 for CPU percentages with 3 decimals;
    1 for counts. Viewers are stored as integers, so a 0.13 % CPU reading would otherwise be 0."""
    distinct = np.unique(values.to_numpy(dtype=float))
    gaps = np.diff(distinct)
    gaps = gaps[gaps > 0]
    if not len(gaps) or gaps.min() >= 1:
        return 1.0
    return float(min(10.0 ** np.ceil(-np.log10(gaps.min())), max_scale))


def read_series(path: Path, fixed_point: bool = False) -> tuple[pd.DataFrame, int]:
    """One NAB csv as a canonical snapshot frame (with `fixed_point`, values times
    `fixed_point_scale` of the file before rounding), and how many of its rows a later row of
    the same minute replaced."""
    try:
        raw = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: cannot read NAB file ({exc})") from exc
    if not {"timestamp", "value"} <= set(raw.columns):
        raise SourceError(f"{path}: a NAB file needs columns timestamp,value")
    ts = pd.to_datetime(raw["timestamp"], errors="coerce")
    value = pd.to_numeric(raw["value"], errors="coerce")
    bad = ts.isna() | value.isna()
    if bad.any():
        raise SourceError(f"{path}: unparseable rows {list(raw.index[bad][:5])}")
    n = len(raw)
    if fixed_point:
        value = value * fixed_point_scale(value)
    frame = pd.DataFrame(
        {
            "platform": pd.Series([PLATFORM] * n, dtype="string"),
            "category_id": pd.Series([path.stem] * n, dtype="string"),
            "ts": ts.dt.floor("min").astype("datetime64[us]"),
            "category_name": pd.Series([path.stem] * n, dtype="string"),
            "viewers": value.round().astype("int64"),
            "open_lives": pd.Series([pd.NA] * n, dtype="Int64"),
            "top_streamers": pd.Series(["[]"] * n, dtype="string"),
        }
    )
    kept = frame.drop_duplicates(["ts"], keep="last")[SNAPSHOT_COLUMNS]
    return kept, n - len(kept)


def load_windows(windows_json: Path) -> dict[str, list[list[str]]]:
    try:
        data = json.loads(Path(windows_json).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(f"{windows_json}: cannot read windows ({exc})") from exc
    if not isinstance(data, dict):
        raise SourceError(f"{windows_json}: expected an object of file -> windows")
    return data


def import_nab(
    data_dir: str | Path, windows_json: str | Path, fixed_point: bool = False
) -> tuple[pd.DataFrame, list[dict]]:
    """All NAB csv files under data_dir (recursively) plus their labelled windows.

    Windows are matched to files by their relative path ("realTweets/x.csv") or, failing that,
    by file name; windows of files that are not present are ignored. Two files with the same
    name in different folders are an error (the name is the series). Files under a `results`
    folder (NAB's detector outputs) are not data and are skipped.
    """
    root = Path(data_dir)
    files = sorted(  # NAB's own results/ folder holds detector outputs, not data
        p for p in root.rglob("*.csv") if p.is_file() and "results" not in p.relative_to(root).parts
    )
    if not files:
        raise SourceError(f"{root}: no NAB csv files found")
    windows = load_windows(Path(windows_json))
    by_name = {Path(k).name: v for k, v in windows.items()}
    stems = Counter(p.stem for p in files)
    same_stem = [p for p in files if stems[p.stem] > 1]
    if same_stem:  # the file stem is the series' category_id: two files would be one series
        raise SourceError(
            "NAB files with the same name would be one series: "
            + ", ".join(str(p.relative_to(root)) for p in same_stem)
        )
    frames, labels, merged = [], [], {}
    for path in files:
        frame, replaced = read_series(path, fixed_point)
        frames.append(frame)
        if replaced:
            merged[path.stem] = replaced
        rel = path.relative_to(root).as_posix()
        found = windows.get(rel)
        if found is None:
            found = next((v for k, v in windows.items() if k.endswith("/" + rel)), None)
        if found is None:
            found = by_name.get(path.name, [])
        for start, end in found:
            labels.append(
                {
                    "platform": PLATFORM,
                    "category_id": path.stem,
                    "start": _iso(start),
                    "end": _iso(end),
                    "kind": KIND,
                }
            )
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values(["ts", "category_id"], kind="stable").reset_index(drop=True)
    frame.attrs["merged_rows"] = merged
    return frame, labels
