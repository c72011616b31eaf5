"""Replay files: canonical snapshots and labels read from / written to CSV or Parquet.

Input columns: ts (UTC; naive = UTC), platform, category_id, viewers, and optionally
category_name, open_lives, top_streamers (JSON list of {channel_id, channel_name, title,
viewers}). Any time step is accepted; timestamps are floored to the minute (warehouse
convention). An unreadable file or a missing column raises SourceError; a bad row is rejected
(warning naming file, row, column and value) and the good rows are kept.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from streampulse_assets.lib.ingest.validate import (
    Rejection,
    ValidationError,
    describe,
    validate_snapshots,
)
from streampulse_assets.lib.snapshots import SNAPSHOT_COLUMNS
from streampulse_assets.lib.sources.base import SourceError
from streampulse_assets.lib.timeutil import to_minute

KEY = ["platform", "category_id", "ts"]
LABEL_FIELDS = ("platform", "category_id", "start", "end", "kind")
CSV_OPTIONS = {
    "dtype": {"platform": str, "category_id": str},
    "keep_default_na": False,
    "na_values": {"open_lives": [""], "viewers": [""], "ts": [""]},
}
PARQUET_SCHEMA = pa.schema(
    [
        ("platform", pa.string()),
        ("category_id", pa.string()),
        ("ts", pa.timestamp("us")),
        ("category_name", pa.string()),
        ("viewers", pa.int64()),
        ("open_lives", pa.int64()),
        ("top_streamers", pa.string()),
    ]
)


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise SourceError(f"{path}: unknown file type {suffix!r} (use .csv or .parquet)")


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise SourceError(f"replay file {path} does not exist")
    try:
        if _kind(path) == "parquet":
            return pq.read_table(path).to_pandas()
        return pd.read_csv(path, **CSV_OPTIONS)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise SourceError(f"{path}: cannot read ({exc})") from exc


def canonical(
    df: pd.DataFrame, path: Path, now: datetime | None = None
) -> tuple[pd.DataFrame, list[str], list[Rejection]]:
    """A replay table as a canonical snapshot frame, plus warnings and the rejected rows.

    Rows are checked by `lib/ingest/validate.validate_snapshots` (row = the file's 0-based data
    row; a CSV's line number is row + 2): a bad row is rejected with file, row, column and value,
    and the other rows, including those of its minute, are kept. A missing column fails the file.
    """
    try:
        out, rejected = validate_snapshots(df, str(path), now=now)
    except ValidationError as exc:
        raise SourceError(str(exc)) from exc
    notes = describe(rejected)
    dup = out.duplicated(KEY, keep="last")
    if dup.any():
        notes.append(
            f"{path}: {int(dup.sum())} duplicated (platform, category_id, ts) rows, kept the last"
        )
        out = out[~dup]
    out = out.sort_values("ts", kind="stable").reset_index(drop=True)  # file order within a minute
    return out[SNAPSHOT_COLUMNS], notes, rejected


def _chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """The raw file in chunks of about `rows` rows, indexed by file row number."""
    if not path.exists():
        raise SourceError(f"replay file {path} does not exist")
    try:
        if _kind(path) == "csv":
            yield from pd.read_csv(path, chunksize=rows, **CSV_OPTIONS)
            return
        offset = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            chunk = batch.to_pandas()
            chunk.index = pd.RangeIndex(offset, offset + len(chunk))
            offset += len(chunk)
            yield chunk
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise SourceError(f"{path}: cannot read ({exc})") from exc


def iter_canonical(path: str | Path, rows: int = 500_000) -> Iterator[pd.DataFrame]:
    """The replay file as canonical frames of about `rows` rows each, validated as ReplaySource
    validates the whole file (errors name file row numbers), without holding the file in memory.

    Duplicates are removed within a chunk only (keeping the last); a consumer that needs the whole
    file deduplicated keeps, per key, the row of the latest chunk. An empty file gives one empty
    canonical frame (so a file lacking columns still fails clearly).
    """
    path = Path(path)
    empty = True
    for chunk in _chunks(path, rows):
        if len(chunk) == 0:
            continue
        empty = False
        out, notes, _ = canonical(chunk, path)
        for note in notes:
            warnings.warn(note, stacklevel=2)
        yield out
    if empty:
        yield canonical(_read(path), path)[0]


class ReplaySource:
    """HistorySource over a CSV or Parquet file of snapshots (read once, validated)."""

    name = "replay"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.data, self.warnings, self.rejected = canonical(_read(self.path), self.path)
        for note in self.warnings:
            warnings.warn(note, stacklevel=2)

    def frame(self, start, end) -> pd.DataFrame:
        lo = pd.Timestamp(to_minute(start, ceil=True) * 60, unit="s")
        hi = pd.Timestamp(to_minute(end, ceil=True) * 60, unit="s")
        ts = self.data["ts"]
        return self.data[(ts >= lo) & (ts < hi)].reset_index(drop=True)

    def span(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """(first minute, last minute + 1 minute) of the file, or None when empty."""
        if self.data.empty:
            return None
        return self.data["ts"].min(), self.data["ts"].max() + pd.Timedelta(minutes=1)

    def labels(self, start, end) -> list[dict]:
        return []


def write_snapshots(frames: pd.DataFrame | Iterable[pd.DataFrame], path: str | Path) -> int:
    """Write canonical frames (one frame or an iterable of chunks) to .parquet or .csv."""
    path = Path(path)
    kind = _kind(path)
    parts = [frames] if isinstance(frames, pd.DataFrame) else frames
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    rows = 0
    writer = None
    try:
        for i, frame in enumerate(parts):
            frame = frame[SNAPSHOT_COLUMNS]
            rows += len(frame)
            if kind == "parquet":
                table = pa.Table.from_pandas(frame, schema=PARQUET_SCHEMA, preserve_index=False)
                writer = writer or pq.ParquetWriter(tmp, PARQUET_SCHEMA, compression="zstd")
                writer.write_table(table)
            else:
                frame.to_csv(tmp, mode="w" if i == 0 else "a", header=i == 0, index=False,
                             date_format="%Y-%m-%dT%H:%M:%S")  # fmt: skip
        if kind == "parquet" and writer is None:
            pq.write_table(PARQUET_SCHEMA.empty_table(), tmp)
        elif kind == "csv" and rows == 0 and not tmp.exists():
            pd.DataFrame(columns=SNAPSHOT_COLUMNS).to_csv(tmp, index=False)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    return rows


def labels_from_file(path: str | Path) -> list[dict]:
    """Labels [{platform, category_id, start, end, kind}] from a JSON file, validated."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: cannot read labels ({exc})") from exc
    if not isinstance(data, list):
        raise SourceError(f"{path}: labels must be a JSON list")
    for i, item in enumerate(data):
        lacks = [f for f in LABEL_FIELDS if not isinstance(item, dict) or item.get(f) in (None, "")]
        if lacks:
            raise SourceError(f"{path}: label #{i} lacks {', '.join(lacks)}")
        for f in ("start", "end"):
            try:
                pd.Timestamp(item[f])
            except ValueError as exc:
                raise SourceError(f"{path}: label #{i} has a bad {f} {item[f]!r}") from exc
    return data


def write_labels(labels: list[dict], path: str | Path) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(labels, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return len(labels)
