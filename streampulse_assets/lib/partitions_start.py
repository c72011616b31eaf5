"""Where the hourly partitions start: the user's setting, or the first start's bootstrap range.

`STREAMPULSE_PARTITIONS_START` (ISO date or date/time, UTC; naive = UTC) wins, so recorded data
of any year can be replayed and backfilled through the assets. Unset, the first load of the
definitions fixes the start at the first hour of the first-start bootstrap range (the current
hour minus `STREAMPULSE_BOOTSTRAP_DAYS` days when the simulator is a source, else the current
hour: a live source has no history) and records it in the state folder, so the partitions do
not move on every restart: a restart next week reads the recorded start and shows the hours in
between as missing, which they are.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

from streampulse_assets.lib.timeutil import naive_utc, naive_utc_now

STATE_FILE = "partitions_start.json"
SETTING = "STREAMPULSE_PARTITIONS_START"


def floor_hour(value: datetime) -> datetime:
    """Naive UTC hour start of an instant (naive = UTC)."""
    return naive_utc(value).replace(minute=0, second=0, microsecond=0)


def parse_start(text: str, now: datetime) -> datetime:
    """The hour a user-given start falls in; a clear error for bad or future values."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"{SETTING}={text!r} is not an ISO date or date/time (e.g. 2024-03-01 or "
            "2024-03-01T06:00, UTC)"
        ) from exc
    start = floor_hour(value)
    if start > floor_hour(now):
        raise ValueError(f"{SETTING}={text!r} is in the future (now {now:%Y-%m-%d %H:%M} UTC)")
    return start


def first_start(now: datetime, bootstrap_days: int, sources: str) -> datetime:
    """The first hour of the bootstrap range a first start backfills (cli/bootstrap.py)."""
    days = max(bootstrap_days, 0) if "simulator" in sources.split(",") else 0
    return floor_hour(now) - timedelta(days=days)


def _read(path: Path) -> datetime:
    try:
        return datetime.fromisoformat(json.loads(path.read_text())["start"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{path} is damaged ({exc}); delete it to fix the partitions start again at the "
            f"next start, or set {SETTING}"
        ) from exc


def _record(path: Path, start: datetime) -> datetime:
    """Write the start once; a concurrent first load that won the race is read instead."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"start": start.isoformat(), "recorded_at": _now_text()}) + "\n")
    try:
        os.link(tmp, path)  # atomic, and fails if the file exists
    except FileExistsError:
        return _read(path)
    finally:
        tmp.unlink(missing_ok=True)
    return start


def _now_text() -> str:
    return naive_utc_now().isoformat(timespec="seconds")


def resolve_start(
    setting: str | None, state_dir: Path, now: datetime, bootstrap_days: int, sources: str
) -> tuple[datetime, str]:
    """(naive UTC first hour, where it came from: 'setting' | 'state' | 'first start')."""
    if setting and setting.strip():
        return parse_start(setting, now), "setting"
    path = state_dir / STATE_FILE
    if path.exists():
        return _read(path), "state"
    return _record(path, first_start(now, bootstrap_days, sources)), "first start"
