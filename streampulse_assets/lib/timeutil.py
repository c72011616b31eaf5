"""Time in StreamPulse: UTC only (no daylight saving anywhere), minute resolution.

The warehouse stores naive UTC minutes; Postgres (timestamptz) and Dagster hand out aware
datetimes. Every conversion between the two goes through here. A naive input is UTC by
convention; an aware input in any zone is converted to UTC first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

EPOCH = datetime(1970, 1, 1)  # naive UTC: minute indexes count from here
MINUTE = timedelta(minutes=1)
_NS_PER_MINUTE = 60_000_000_000
_US_PER_MINUTE = 60_000_000


def naive_utc(ts: datetime) -> datetime:
    """`ts` as a naive UTC datetime (the warehouse convention); a naive `ts` is returned as is."""
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo is not None else ts


def aware_utc(ts: datetime) -> datetime:
    """`ts` as an aware UTC datetime (Postgres, Dagster); a naive `ts` is taken as UTC."""
    return ts.astimezone(UTC) if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def floor_minute(ts: datetime) -> datetime:
    """The UTC minute holding `ts`, as a naive UTC datetime."""
    return naive_utc(ts).replace(second=0, microsecond=0)


def naive_utc_now() -> datetime:
    """The current instant as a naive UTC datetime."""
    return datetime.now(UTC).replace(tzinfo=None)


def now_minute() -> datetime:
    """The current UTC minute, naive."""
    return floor_minute(datetime.now(UTC))


def to_minute(value: datetime | str | pd.Timestamp, ceil: bool = True) -> int:
    """Minute index since the epoch of a UTC instant (naive = UTC); a `value` inside a minute
    is rounded up by default (`ceil=False`: down)."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)
    minutes, rest = divmod(ts.value, _NS_PER_MINUTE)
    return int(minutes) + (1 if ceil and rest else 0)


def minute_to_dt(minute: int) -> datetime:
    """The naive UTC datetime of a minute index (inverse of `to_minute`)."""
    return EPOCH + timedelta(minutes=int(minute))


def minutes_to_datetime64(minutes: np.ndarray) -> np.ndarray:
    """Minute indexes as naive UTC `datetime64[us]` (the vectorised `minute_to_dt`)."""
    return (np.asarray(minutes, dtype=np.int64) * _US_PER_MINUTE).view("datetime64[us]")


def datetime64_to_minutes(values) -> np.ndarray:
    """Naive UTC times (datetimes or `datetime64`) as minute indexes, floored to the minute (the
    vectorised `to_minute(..., ceil=False)`, inverse of `minutes_to_datetime64`)."""
    return np.asarray(values, dtype="datetime64[us]").astype("datetime64[m]").astype(np.int64)


def naive_utc_minutes(values) -> pd.Series:
    """Timestamps (text with offsets, aware or naive) as naive UTC minutes, `datetime64[us]`."""
    ts = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
    return ts.dt.tz_convert(None).dt.floor("min").astype("datetime64[us]")
