"""The canonical minute snapshot shape every source produces and the warehouse stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from streampulse_assets.lib.timeutil import floor_minute

UNCATEGORISED = "uncategorised"

# Column order of the `raw_snapshots` warehouse table (minus bookkeeping columns).
SNAPSHOT_COLUMNS = [
    "platform",
    "category_id",
    "ts",
    "category_name",
    "viewers",
    "open_lives",
    "top_streamers",
]


@dataclass(frozen=True)
class Streamer:
    channel_id: str
    channel_name: str
    title: str
    viewers: int


@dataclass(frozen=True)
class CategorySnapshot:
    platform: str
    category_id: str
    category_name: str
    ts: datetime  # UTC, floored to the minute, tz-aware or naive UTC
    viewers: int
    open_lives: int | None
    top_streamers: tuple[Streamer, ...] = field(default_factory=tuple)


def time_slices(
    start: datetime, end: datetime, size: timedelta
) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive windows of at most `size` (long backfills in slices)."""
    while start < end:
        yield start, min(end, start + size)
        start += size


def streamers_to_json(streamers: tuple[Streamer, ...] | list[Streamer]) -> str:
    return json.dumps([asdict(s) for s in streamers], ensure_ascii=False)


def streamers_from_json(text: str | None) -> list[Streamer]:
    if not text:
        return []
    return [Streamer(**item) for item in json.loads(text)]


def empty_frame() -> pd.DataFrame:
    return to_frame([])


def to_frame(snapshots: list[CategorySnapshot]) -> pd.DataFrame:
    """Canonical snapshot frame: one row per (platform, category_id, ts)."""
    frame = pd.DataFrame(
        {
            "platform": pd.Series([s.platform for s in snapshots], dtype="string"),
            "category_id": pd.Series([s.category_id for s in snapshots], dtype="string"),
            "ts": pd.Series([floor_minute(s.ts) for s in snapshots], dtype="datetime64[us]"),
            "category_name": pd.Series([s.category_name for s in snapshots], dtype="string"),
            "viewers": pd.Series([int(s.viewers) for s in snapshots], dtype="int64"),
            "open_lives": pd.Series([s.open_lives for s in snapshots], dtype="Int64"),
            "top_streamers": pd.Series(
                [streamers_to_json(s.top_streamers) for s in snapshots], dtype="string"
            ),
        }
    )
    return frame[SNAPSHOT_COLUMNS]
